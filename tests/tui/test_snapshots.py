"""SVG snapshots of each pane and modal at 80x24 (and one at 40x10), over the scripted doubles.

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the
SVGs in ``tests/tui/__snapshots__`` before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from assistant.settings import Settings
from assistant.tui import AraApp
from assistant.tui.screenshots import demo_app, take
from assistant.tui.testing import PLANS, ScriptedDriver

Snap = Callable[..., bool]


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _submit(pilot: Pilot[Any], text: str, selector: str = "#chat-input") -> None:
    field = pilot.app.query_one(selector, Input)
    field.focus()
    field.value = text
    await pilot.press("enter")
    await _settle(pilot)


async def _plan(pilot: Pilot[Any]) -> None:
    await _submit(pilot, "/run Does a strong student beat its weak teacher?")


async def _run(pilot: Pilot[Any]) -> None:
    await _plan(pilot)
    await pilot.press("a")
    await _settle(pilot)


async def _papers(pilot: Pilot[Any]) -> None:
    await pilot.press("f4")
    await _settle(pilot)
    await _submit(pilot, "weak supervision", "#papers-query")


async def _review(pilot: Pilot[Any]) -> None:
    await pilot.press("f5")
    await _settle(pilot)
    await pilot.press("enter")
    await _settle(pilot)


async def _diff(pilot: Pilot[Any]) -> None:
    await _review(pilot)
    await pilot.press("tab", "right")
    await _settle(pilot)


async def _help(pilot: Pilot[Any]) -> None:
    await pilot.press("f1")
    await pilot.pause()


async def _error(pilot: Pilot[Any]) -> None:
    await pilot.press("f2")
    app = pilot.app
    assert isinstance(app, AraApp)
    app.llm = None
    await _submit(pilot, "hello")


SCENES = {
    "chat_plan": _plan,
    "runs": _run,
    "papers": _papers,
    "review": _review,
    "review_diff": _diff,
    "help": _help,
    "error_modal": _error,
}


@pytest.mark.parametrize("scene", list(SCENES))
def test_pane_snapshot(scene: str, snap_compare: Snap, tmp_path: Path, settings: Settings) -> None:
    assert snap_compare(demo_app(settings.workspace), terminal_size=(80, 24), run_before=SCENES[scene])


FIGURES_DIR = Path("/tmp/ara-snapshot-figures")
"""A fixed folder: the viewer shows each figure's absolute path, which must not change between machines."""


def test_figures_viewer_snapshot(snap_compare: Snap, settings: Settings) -> None:
    from tests.tui.test_figures import gradient_png

    figure = gradient_png(FIGURES_DIR / "pgr_by_seed.png", (96, 48))
    app = demo_app(settings.workspace)
    app.image_protocol = "halfcell"
    assert isinstance(app.runner, ScriptedDriver)
    app.runner.figures = {"pgr_by_seed": str(figure)}

    async def figures(pilot: Pilot[Any]) -> None:
        await _run(pilot)
        await pilot.press("f")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=figures)


async def _runs_list(pilot: Pilot[Any]) -> None:
    await pilot.press("f3")
    await _settle(pilot)


async def _run_opened(pilot: Pilot[Any]) -> None:
    await _runs_list(pilot)
    await pilot.press("down", "down", "enter")
    await _settle(pilot)


async def _run_report(pilot: Pilot[Any]) -> None:
    await _run_opened(pilot)
    await pilot.press("v")
    await _settle(pilot)


HISTORY_SCENES = {"runs_on_disk": _runs_list, "run_opened": _run_opened, "run_report": _run_report}


@pytest.mark.parametrize("scene", list(HISTORY_SCENES))
def test_run_history_snapshot(scene: str, snap_compare: Snap, settings: Settings) -> None:
    app = demo_app(settings.workspace, past_runs=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=HISTORY_SCENES[scene])


async def _plan_two_chosen(pilot: Pilot[Any]) -> None:
    await _plan(pilot)
    await pilot.press("2")
    await pilot.pause()


async def _plan_edit(pilot: Pilot[Any]) -> None:
    await _plan(pilot)
    await pilot.press("e")
    await pilot.pause()
    pilot.app.screen.query_one("#plan-json", TextArea).cursor_blink = False  # a blinking cursor is not stable
    await pilot.pause()


PLAN_SCENES = {"plan_two_of_three": _plan_two_chosen, "plan_editor": _plan_edit}


@pytest.mark.parametrize("scene", list(PLAN_SCENES))
def test_plan_choice_snapshot(scene: str, snap_compare: Snap, settings: Settings) -> None:
    app = demo_app(settings.workspace)
    assert isinstance(app.runner, ScriptedDriver)
    app.runner.plans = PLANS
    assert snap_compare(app, terminal_size=(80, 40), run_before=PLAN_SCENES[scene])


def test_tiny_terminal_snapshot(snap_compare: Snap, settings: Settings) -> None:
    assert snap_compare(demo_app(settings.workspace), terminal_size=(40, 10), run_before=_plan)


@pytest.mark.anyio
async def test_readme_screenshots_are_taken_by_the_app(tmp_path: Path) -> None:
    saved = await take(tmp_path)
    assert [p.name for p in saved] == ["chat.svg", "runs.svg", "figures.svg", "papers.svg", "review.svg"]
    runs = (tmp_path / "runs.svg").read_text(encoding="utf-8")
    assert runs.startswith("<svg")
    assert "01JTESTRUN0000000000000000" in runs
