"""``GraphRunDriver`` over the real research loop: cancel mid-cell then resume, and a crash survived in the UI."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from textual.worker import WorkerFailed

from assistant.events import CellExecuted, Event, RunFailed, RunFinished
from assistant.llm.testing import ScriptedLLM
from assistant.recipes import default_registry
from assistant.runlog import events_of, read_events
from assistant.schemas import Approval
from assistant.settings import Settings
from assistant.tui import make_app
from assistant.tui.adapters import GraphRunDriver
from assistant.tui.backends import CellOutput
from assistant.tui.screens.modals import ErrorModal
from tests.graph.conftest import (
    DIVIDE,
    FakeCellResult,
    FakeLibrary,
    InProcessPool,
    analysis,
    brief,
    critique,
    plans,
    tool_choice,
)
from tools.vcs import Workspace


def _recipes() -> Any:
    recipes = default_registry()
    recipes.register(DIVIDE)
    return recipes


class SlowSession:
    """A kernel session whose first cell blocks until cancelled; later cells run in process."""

    def __init__(self, inner: Any, started: threading.Event, first: list[bool]) -> None:
        self.inner, self.started, self.first = inner, started, first

    async def execute(self, code: str, timeout: float) -> FakeCellResult:
        if self.first[0]:
            self.first[0] = False
            self.started.set()
            await asyncio.sleep(60)
        result: FakeCellResult = await self.inner.execute(code, timeout)
        return result


class SlowPool(InProcessPool):
    """An in-process pool whose first cell hangs (to cancel it)."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self._first = [True]

    async def acquire(self, run_dir: Path) -> Any:
        return SlowSession(await super().acquire(run_dir), self.started, self._first)


def test_cancel_mid_cell_stops_the_run_and_resume_finishes_it(settings: Settings) -> None:
    script = ScriptedLLM(replies=[brief(), tool_choice(), plans(config={"denominator": 2}), analysis(), critique()])
    pool = SlowPool()
    driver = GraphRunDriver(settings, script.client(), kernels=pool, library=FakeLibrary([]), recipes=_recipes())
    seen: list[Event | CellOutput] = []
    paused = driver.start("Does dividing one by two give one half?", seen.append)
    assert paused.status == "awaiting_approval"
    outcome: dict[str, Any] = {}
    approval = Approval(decision="approve", reviewer="ada")
    worker = threading.Thread(target=lambda: outcome.update(r=driver.resume(paused.run_id, approval, seen.append)))
    worker.start()
    assert pool.started.wait(30)
    driver.cancel(paused.run_id)
    worker.join(30)
    stopped = outcome["r"]
    assert (stopped.run_id, stopped.status) == (paused.run_id, "stopped")
    [failed] = [e for e in seen if isinstance(e, RunFailed)]
    assert failed.error == "Interrupted"
    resumed = driver.resume(paused.run_id, None, seen.append)
    assert resumed.status == "done"
    assert resumed.proposal_id is not None
    script.assert_done()
    events = read_events(Workspace.open(settings.workspace).run(paused.run_id).events_path)
    assert [c.status for c in events_of(events, CellExecuted)] == ["ok"]
    [finished] = events_of(events, RunFinished)
    assert finished.status == "done"


@pytest.mark.anyio
async def test_crashed_graph_run_opens_the_modal_and_resumes_from_its_checkpoint(settings: Settings) -> None:
    crashes = [True]

    def crash_once(code: str, index: int) -> FakeCellResult | None:
        if crashes[0]:
            crashes[0] = False
            raise RuntimeError("kernel connection lost")
        return None

    script = ScriptedLLM(replies=[brief(), tool_choice(), plans(config={"denominator": 2}), analysis(), critique()])
    pool = InProcessPool(override=crash_once)
    driver = GraphRunDriver(settings, script.client(), kernels=pool, library=FakeLibrary([]), recipes=_recipes())
    app = make_app(settings, llm=script.client(), runner=driver, reviewer="ada")

    async def settle(pilot: Pilot[None]) -> None:
        with contextlib.suppress(WorkerFailed):
            await app.workers.wait_for_complete()
        await pilot.pause()

    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one("#chat-input", Input).value = "/run Does dividing one by two give one half?"
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert "RuntimeError: kernel connection lost" in app.screen.message
        assert "keeps its checkpoint" in app.screen.message
        await pilot.press("enter")
        await pilot.press("f3", "r")
        await settle(pilot)
        assert app.run_state.status == "done"
        assert app.runs.cells.option_count == 1
    script.assert_done()
