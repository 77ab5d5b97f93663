"""``ara tui`` (and ``ara`` alone in a terminal): open the terminal UI on the workspace.

Covers wiring the real backends into ``assistant.tui.make_app``: the LLM (connected in a worker at start so an
unreachable endpoint shows a modal instead of a traceback), the research loop (``GraphRunDriver``), the paper
library and proposal review, and moving log output off the terminal while the app owns it (``log_to_file``: a
warning with a traceback written to stderr would be drawn over the screen). Does not cover the app itself
(``assistant.tui``).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from assistant.cli.common import settings_from
from assistant.tui.images import IMAGE_MODES, ImageMode


@contextmanager
def log_to_file(path: Path) -> Iterator[None]:
    """While the block runs, root-logger handlers that write to the terminal write to ``path`` instead."""
    root = logging.getLogger()
    moved = [
        h
        for h in root.handlers
        if isinstance(h, logging.StreamHandler)
        and not isinstance(h, logging.FileHandler)
        and h.stream in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
    ]
    if not moved:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(min(h.level for h in moved))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for h in moved:
        root.removeHandler(h)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        for h in moved:
            root.addHandler(h)


@click.command()
@click.option("--thread", default="main", show_default=True, help="Chat thread to open (history is kept per thread).")
@click.option(
    "--reviewer", default=None, help="'Name <email>' for review decisions (default: the workspace's git identity)."
)
@click.option(
    "--images",
    type=click.Choice(IMAGE_MODES),
    default="auto",
    show_default=True,
    help="How figures are drawn: auto asks the terminal (Sixel, Kitty graphics, else coloured half cells); "
    "off shows file links only.",
)
@click.pass_context
def tui(ctx: click.Context, thread: str, reviewer: str | None, images: ImageMode) -> None:
    """Open the terminal UI: chat, live runs, papers and review (F1 lists the keys)."""
    from assistant.tui import make_app
    from assistant.tui.adapters import GraphRunDriver, LibraryBackend, ReviewServiceBackend
    from assistant.tui.history import tui_dir
    from assistant.tui.images import choose_protocol

    settings = settings_from(ctx)
    stdout = sys.__stdout__
    protocol = choose_protocol(
        images, is_tty=bool(stdout and stdout.isatty()), no_color=bool(os.environ.get("NO_COLOR"))
    )
    papers = LibraryBackend(settings)
    app = make_app(
        settings,
        papers=papers,
        review=ReviewServiceBackend(settings, reviewer=reviewer),
        reviewer=reviewer,
        thread=thread,
        image_protocol=protocol,
        freeze_heap=True,
    )
    app.runner = GraphRunDriver(settings, lambda: app.llm)
    try:
        with log_to_file(tui_dir(settings.workspace) / "tui.log"):
            app.run()
    finally:
        papers.close()
