"""The Runs pane over the runs on disk: listed, opened, resumed, their report and proposal; hostile run files.

Past runs are written in the real on-disk format (``RunLog``, ``RunFiles``) by ``write_past_runs``; the one
acceptance flow at the end makes its run through the real research loop (``GraphRunDriver`` over ``RunSession``)
and reads it back in a second app, as a user reopening ``ara tui`` the next day would.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Log, Markdown, Static
from textual.worker import WorkerFailed

import assistant.runhistory as runhistory
from assistant.llm.testing import ScriptedLLM
from assistant.recipes import default_registry
from assistant.runhistory import list_runs, read_report, read_run
from assistant.settings import Settings
from assistant.tui import make_app
from assistant.tui.adapters import GraphRunDriver, WorkspaceRuns
from assistant.tui.app import AraApp
from assistant.tui.screens.modals import ErrorModal, ReportScreen
from assistant.tui.testing import PAST_REPORT, PAST_RUNS, T0, FakeReview, ScriptedDriver, write_past_runs
from assistant.tui.widgets.plan_card import PlanCard
from tests.graph.conftest import DIVIDE, FakeLibrary, InProcessPool, analysis, brief, critique, plans, tool_choice
from tools.runfiles import RunFileError

DONE, WAITING, FAILED = PAST_RUNS


async def settle(pilot: Pilot[None]) -> None:
    with contextlib.suppress(WorkerFailed):
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def _app(settings: Settings, driver: ScriptedDriver | None = None) -> AraApp:
    app = make_app(
        settings, llm=ScriptedLLM().client(), runner=driver or ScriptedDriver(), review=FakeReview(), reviewer="ada"
    )
    app.clock = lambda: T0
    return app


def _rows(app: AraApp) -> list[str]:
    runs = app.runs.run_list
    return [str(runs.get_option_at_index(i).prompt) for i in range(runs.option_count)]


@pytest.mark.anyio
async def test_runs_pane_lists_the_runs_on_disk_newest_first(settings: Settings) -> None:
    write_past_runs(settings.workspace)
    app = _app(settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        assert _rows(app) == [
            "  2h awaiting_approval   1,234 tok       Does the auxiliary confidence loss raise PGR?",
            "  1d failed              1,234 tok       Do linear probes find truth directions in layer 6?",
            "  3d done                2,468 tok  #1   Does a strong student trained on weak labels beat its teacher?",
        ]
        title = str(app.query_one("#run-list-title", Static).render())
        assert title == "runs on disk: 3 - enter opens; r resume, v report, p proposal, g reload"
        assert app.focused is app.runs.run_list
        assert str(app.query_one("#run-status").render()).startswith("no run open: open a past one on Runs")


@pytest.mark.anyio
async def test_an_empty_workspace_says_how_to_start_a_run(settings: Settings) -> None:
    app = _app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        title = str(app.query_one("#run-list-title", Static).render())
        assert title == "runs on disk: none yet - start one with /run QUESTION in Chat (F2)"


@pytest.mark.anyio
async def test_opening_a_run_replays_it_and_shows_its_report_and_proposal(settings: Settings) -> None:
    write_past_runs(settings.workspace)
    app = _app(settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        state = app.run_state
        assert (state.run_id, state.status, state.cells, state.proposal_id) == (DONE, "done", 1, "1")
        assert state.line() == f"{DONE} done node=run_cells #0 tokens=2,468/20,000 cells=1/20 time=83s/3600s"
        assert app.runs.row_text(0) == "  0  ok               8.0s"
        assert list(app.query_one("#run-log", Log).lines) == ["[cell 0] epoch 0 loss 1.000", "[cell 0] PGR 0.41"]
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, ReportScreen)
        assert app.screen.text == PAST_REPORT
        assert app.screen.query_one("#run-report", Markdown).source == PAST_REPORT
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("p")
        await settle(pilot)
        assert app.query_one("#panes").current == "review"  # type: ignore[attr-defined]
        assert app.review_pane.current is not None
        assert app.review_pane.current.summary.id == 1


@pytest.mark.anyio
async def test_a_failed_run_has_no_report_or_proposal_and_says_so(settings: Settings) -> None:
    write_past_runs(settings.workspace)
    app = _app(settings)
    notes: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        app.notify = lambda message, **kw: notes.append(message)  # type: ignore[method-assign]
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert (app.run_state.run_id, app.run_state.status) == (FAILED, "failed")
        await pilot.press("v")
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
    assert notes == [
        f"run {FAILED}: failed; r resumes it from its last checkpoint",
        f"run {FAILED} has no report yet",
        f"run {FAILED} has made no change proposal",
    ]


@pytest.mark.anyio
async def test_resuming_an_opened_run_goes_through_the_run_driver(settings: Settings) -> None:
    write_past_runs(settings.workspace)
    driver = ScriptedDriver(cells=1)
    app = _app(settings, driver)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert (app.run_state.run_id, app.run_state.status) == (WAITING, "awaiting_approval")
        await pilot.press("r")
        await settle(pilot)
        assert driver.approvals == [None]
        assert (app.run_state.run_id, app.run_state.status) == (WAITING, "done")
        assert app.runs.cells.option_count == 1


@pytest.mark.anyio
async def test_a_run_cannot_be_opened_over_a_run_that_is_going(settings: Settings) -> None:
    write_past_runs(settings.workspace)
    gate = threading.Event()
    driver = ScriptedDriver(cells=1, gate=gate)
    app = _app(settings, driver)
    notes: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        app.notify = lambda message, **kw: notes.append(message)  # type: ignore[method-assign]
        app.resume_current(WAITING)
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot.pause()
        gate.set()
        await settle(pilot)
        assert app.run_state.run_id == WAITING
    assert f"run {WAITING} is going; open another run once it pauses or ends (c cancels it)" in notes


# --------------------------------------------------------------------------------------- hostile run files
def test_links_special_files_and_oversized_logs_are_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = tmp_path / "ws"
    done, _, failed = (Path(p) for p in write_past_runs(workspace))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("host secret\n")
    # a run directory that is a link to another run: never followed
    os.symlink(done, workspace / "runs" / "01JTHSTRY00000000000000009")
    # a report replaced by a link to a host file
    (done / "report.md").unlink()
    os.symlink(outside / "secret.md", done / "report.md")
    # a run log that is a FIFO: skipped without blocking
    (failed / "events.jsonl").unlink()
    os.mkfifo(failed / "events.jsonl")
    listed = [item.run_id for item in list_runs(workspace)]
    assert listed == [WAITING, DONE]
    with pytest.raises(RunFileError, match="is a symbolic link"):
        read_report(workspace, read_run(workspace, DONE).listing)
    with pytest.raises(RunFileError, match="is a link, not a run directory"):
        read_run(workspace, "01JTHSTRY00000000000000009")
    with pytest.raises(RunFileError, match="is not a run id"):
        read_run(workspace, "../outside")
    monkeypatch.setattr(runhistory, "MAX_LOG_BYTES", 1000)
    assert list_runs(workspace) == []
    with pytest.raises(RunFileError, match="over the 1,000-byte limit"):
        read_run(workspace, WAITING)


def test_unreadable_log_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    write_past_runs(workspace)
    with (workspace / "runs" / WAITING / "events.jsonl").open("ab") as fh:
        fh.write(b'\xff\xfe not utf-8\n{"type": "no_such_event"}\n{"torn": ')
    [listing] = [item for item in list_runs(workspace) if item.run_id == WAITING]
    assert (listing.status, listing.problem) == ("awaiting_approval", "3 unreadable run-log line(s) skipped")


@pytest.mark.anyio
async def test_opening_a_run_whose_directory_is_a_link_shows_an_error_and_the_app_goes_on(
    settings: Settings,
) -> None:
    paths = write_past_runs(settings.workspace)
    app = _app(settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        target = settings.workspace / "runs" / WAITING
        os.rename(target, settings.workspace / "moved")
        os.symlink(paths[0], target)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert "is a link, not a run directory" in app.screen.message
        assert "other runs can still be opened" in app.screen.message
        await pilot.press("enter")
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.run_state.run_id == FAILED


# ----------------------------------------------------------------------------------- the real research loop
@pytest.mark.anyio
async def test_a_real_run_paused_yesterday_is_listed_opened_resumed_and_approved(settings: Settings) -> None:
    recipes = default_registry()
    recipes.register(DIVIDE)
    script = ScriptedLLM(replies=[brief(), tool_choice(), plans(config={"denominator": 2}), analysis(), critique()])

    def driver() -> GraphRunDriver:
        return GraphRunDriver(
            settings, script.client(), kernels=InProcessPool(), library=FakeLibrary([]), recipes=recipes
        )

    first = make_app(settings, llm=script.client(), runner=driver(), reviewer="ada")
    async with first.run_test(size=(100, 30)) as pilot:
        first.query_one("#chat-input", Input).value = "/run Does dividing one by two give one half?"
        await pilot.press("enter")
        await settle(pilot)
        run_id = first.run_state.run_id
        assert first.run_state.status == "awaiting_approval"
    # the next day: a new app on the same workspace
    second = make_app(
        settings, llm=script.client(), runner=driver(), reviewer="ada", history=WorkspaceRuns(settings.workspace)
    )
    async with second.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        assert [item.run_id for item in second.runs.listings] == [run_id]
        assert second.runs.listings[0].status == "awaiting_approval"
        await pilot.press("enter")
        await settle(pilot)
        assert (second.run_state.run_id, second.run_state.status) == (run_id, "awaiting_approval")
        await pilot.press("r")
        await settle(pilot)
        [card] = second.query(PlanCard).results(PlanCard)
        assert card.run_id == run_id
        await pilot.press("a")
        await settle(pilot)
        assert second.run_state.status == "done"
        await pilot.press("f3")
        await settle(pilot)
        [listing] = second.runs.listings
        assert (listing.status, listing.proposal_id, listing.cells) == ("done", "1", 1)
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(second.screen, ReportScreen)
        assert second.screen.text == (settings.workspace / "runs" / run_id / "report.md").read_text()
    script.assert_done()
