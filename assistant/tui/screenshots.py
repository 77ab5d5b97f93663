"""The README screenshots, taken by the app itself (``App.save_screenshot``) over the scripted doubles.

Covers driving a demo app (scripted run, fixed papers and one proposal from ``assistant.tui.testing``) through the
Chat, Runs, Papers and Review panes and the figures viewer (a real matplotlib plot drawn in half cells), saving one
SVG each. Run:
``.venv/bin/python -m assistant.tui.screenshots docs/screenshots``. Does not cover the snapshot tests
(``tests/tui/test_snapshots.py``), which compare the same kind of SVG against committed ones.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from textual.widgets import Input

from assistant.llm.testing import ScriptedLLM
from assistant.settings import load_settings
from assistant.tui.app import AraApp, make_app
from assistant.tui.history import ChatHistory
from assistant.tui.testing import T0, FakePapers, FakeReview, ScriptedDriver, write_past_runs


def demo_app(workspace: Path, *, past_runs: bool = False) -> AraApp:
    """An app over scripted parts, with a short chat history (and three runs on disk with ``past_runs``)."""
    history = ChatHistory(workspace)
    history.append("main", "user", "What does weak-to-strong generalization measure?")
    history.append(
        "main",
        "assistant",
        "How much of a strong model's capability a weak supervisor can elicit: PGR is the share of the gap "
        "between the weak teacher and the strong ceiling that the student recovers.",
    )
    if past_runs:
        write_past_runs(workspace)
    app = make_app(
        load_settings(workspace),
        llm=ScriptedLLM().client(),
        runner=ScriptedDriver(cells=3),
        papers=FakePapers(),
        review=FakeReview(diff_chars=2_000),
        reviewer="ada",
    )
    app.clock = lambda: T0
    return app


async def _settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def pgr_figure(path: Path) -> Path:
    """A PGR-by-seed bar chart like the synthetic weak-to-strong recipe draws (fixed numbers), saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    seeds, pgr = list(range(5)), [0.38, 0.44, 0.41, 0.35, 0.47]
    fig, ax = plt.subplots(figsize=(6, 3), dpi=60)
    ax.bar(seeds, pgr, color="#4c9be8")
    ax.axhline(sum(pgr) / len(pgr), color="#e8744c", linewidth=3)
    ax.set(xlabel="seed", ylabel="PGR", ylim=(0, 0.6))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


async def take(out: Path, size: tuple[int, int] = (80, 24)) -> list[Path]:
    """Save ``chat.svg``, ``runs.svg``, ``figures.svg``, ``papers.svg`` and ``review.svg`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="ara-shots-") as tmp:
        app = demo_app(Path(tmp) / "ws", past_runs=True)
        assert isinstance(app.runner, ScriptedDriver)
        app.runner.figures = {"pgr_by_seed": str(pgr_figure(Path(tmp) / "run" / "pgr_by_seed.png"))}
        app.image_protocol = "halfcell"
        async with app.run_test(size=size) as pilot:

            def shot(name: str) -> None:
                saved.append(Path(app.save_screenshot(filename=f"{name}.svg", path=str(out))))

            field = app.query_one("#chat-input", Input)
            field.value = "/run Does a strong student trained on weak labels beat its teacher?"
            await pilot.press("enter")
            await _settle(pilot)
            shot("chat")
            await pilot.press("a")
            await _settle(pilot)
            shot("runs")
            await pilot.press("f")
            await _settle(pilot)
            shot("figures")
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("f4")
            await _settle(pilot)
            query = app.query_one("#papers-query", Input)
            query.value = "weak supervision"
            await pilot.press("enter")
            await _settle(pilot)
            shot("papers")
            await pilot.press("f5")
            await _settle(pilot)
            await pilot.press("enter")
            await _settle(pilot)
            shot("review")
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="folder for the SVGs (docs/screenshots)")
    for path in asyncio.run(take(parser.parse_args().out)):
        print(path)


if __name__ == "__main__":
    main()
