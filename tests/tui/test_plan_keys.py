"""Choosing among several plans with number keys, the plan editor's save key, and the screenshot key."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input

from assistant.llm.testing import ScriptedLLM
from assistant.settings import Settings
from assistant.tui import make_app
from assistant.tui.app import AraApp
from assistant.tui.screens.modals import PlanEditModal
from assistant.tui.testing import PLANS, ScriptedDriver
from assistant.tui.widgets.plan_card import PlanCard


async def settle(pilot: Pilot[None]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _card(pilot: Pilot[None], app: AraApp) -> PlanCard:
    field = app.query_one("#chat-input", Input)
    field.value = "/run which variant of weak-to-strong works best?"
    await pilot.press("enter")
    await settle(pilot)
    [card] = app.query(PlanCard).results(PlanCard)
    return card


def _labels(card: PlanCard) -> list[str]:
    return [str(button.label) for button in card.query(Button)]


@pytest.mark.anyio
async def test_number_keys_choose_the_plan_and_the_buttons_name_it(settings: Settings) -> None:
    driver = ScriptedDriver(plans=PLANS, cells=1)
    app = make_app(settings, llm=ScriptedLLM().client(), runner=driver, reviewer="ada")
    notes: list[str] = []
    async with app.run_test(size=(80, 40)) as pilot:
        card = await _card(pilot, app)
        assert _labels(card) == ["Approve plan 1 (a)", "Edit plan 1 (e)", "Reject all (x)"]
        await pilot.press("2")
        assert card.chosen == 1
        assert _labels(card) == ["Approve plan 2 (a)", "Edit plan 2 (e)", "Reject all (x)"]
        assert str(card.query_one("#plan-1").render()).startswith("▶ 2. Weak-to-strong with an auxiliary")
        assert str(card.query_one("#plan-0").render()).startswith("  1. Weak-to-strong on synthetic data")
        app.notify = lambda message, **kw: notes.append(message)  # type: ignore[method-assign]
        await pilot.press("7")
        assert card.chosen == 1
        await pilot.press("a")
        await settle(pilot)
        assert card.decided == "approve"
        assert str(card.query_one(".plan-decision").render()) == "plan 2 approved by ada"
        await pilot.press("3")  # a decided card ignores further keys
        assert card.chosen == 1
    assert notes == ["this run proposed 3 plan(s): press 1-3"]
    [approval] = driver.approvals
    assert approval is not None
    assert (approval.decision, approval.plan_index, approval.plan) == ("approve", 1, None)


@pytest.mark.anyio
async def test_editing_plan_3_saves_with_ctrl_s_and_approves_only_with_a(settings: Settings) -> None:
    driver = ScriptedDriver(plans=PLANS, cells=1)
    app = make_app(settings, llm=ScriptedLLM().client(), runner=driver, reviewer="ada")
    async with app.run_test(size=(80, 40)) as pilot:
        card = await _card(pilot, app)
        await pilot.press("3", "e")
        await pilot.pause()
        assert isinstance(app.screen, PlanEditModal)
        assert app.screen.index == 2
        area = app.screen.query_one("#plan-json")
        area.text = area.text.replace('"n_train": 500', '"n_train": 250')  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, PlanEditModal)
        assert driver.approvals == []
        assert _labels(card) == ["Approve edited plan 3 (a)", "Edit plan 3 (e)", "Reject all (x)"]
        assert "(edited)" in str(card.query_one("#plan-2").render())
        await pilot.press("a")
        await settle(pilot)
    [approval] = driver.approvals
    assert approval is not None
    assert (approval.decision, approval.plan_index) == ("modify", 2)
    assert approval.plan is not None
    assert approval.plan.config == {"n_train": 250}


@pytest.mark.anyio
async def test_escape_in_the_editor_keeps_the_plan_as_proposed(settings: Settings) -> None:
    driver = ScriptedDriver(plans=PLANS, cells=1)
    app = make_app(settings, llm=ScriptedLLM().client(), runner=driver, reviewer="ada")
    async with app.run_test(size=(80, 40)) as pilot:
        card = await _card(pilot, app)
        await pilot.press("e")
        await pilot.pause()
        area = app.screen.query_one("#plan-json")
        area.text = "{not json"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PlanEditModal), "an invalid edit is not saved"
        assert str(app.screen.query_one("#plan-error").render()).startswith("not a valid plan:")
        await pilot.press("escape")
        await pilot.pause()
        assert card.edited == {}
        assert _labels(card)[0] == "Approve plan 1 (a)"


@pytest.mark.anyio
async def test_f12_saves_a_screenshot_and_ctrl_s_outside_the_editor_does_not(settings: Settings) -> None:
    app = make_app(settings, llm=ScriptedLLM().client())
    folder: Path = settings.workspace / ".ara" / "tui" / "screenshots"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not folder.exists()
        await pilot.press("f12")
        await pilot.pause()
        [shot] = folder.iterdir()
        assert shot.suffix == ".svg"
        assert shot.read_text(encoding="utf-8").startswith("<svg")
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert commands["Screenshot"].help == "Save an SVG of the screen into <workspace>/.ara/tui/screenshots (f12)"
        commands["Screenshot"].callback()
        await pilot.pause()
        assert len(list(folder.iterdir())) == 2
