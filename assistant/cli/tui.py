"""``ara tui`` (and ``ara`` alone in a terminal): open the terminal UI on the workspace.

Covers wiring the real backends into ``assistant.tui.make_app``: the LLM (connected in a worker at start so an
unreachable endpoint shows a modal instead of a traceback), the research loop (``GraphRunDriver``), the paper
library and proposal review. Does not cover the app itself (``assistant.tui``).
"""

from __future__ import annotations

import os
import sys

import click

from assistant.cli.common import settings_from
from assistant.tui.images import IMAGE_MODES, ImageMode


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
        app.run()
    finally:
        papers.close()
