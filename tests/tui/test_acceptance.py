"""Acceptance flows over the real research loop and the real review module, driven through the UI.

The LLM is scripted over the real ``openai`` SDK; cells run in the graph tests' in-process kernel pool (the
sandbox has its own tests); the workspace is a real git repository, so approval is asserted on git itself.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Log

from assistant.events import CellExecuted, PlanApproved, ProposalCreated, RunFinished
from assistant.graph.context import RunContext
from assistant.llm.testing import ScriptedLLM
from assistant.recipes import Recipe, default_registry
from assistant.review import AuditLog
from assistant.runlog import events_of, read_events
from assistant.settings import Settings
from assistant.tui import make_app
from assistant.tui.adapters import GraphRunDriver, ReviewServiceBackend
from assistant.tui.messages import CellOutputReceived, RunEnded, RunEventReceived, RunPaused
from assistant.tui.screens.modals import CommentModal
from assistant.tui.widgets.plan_card import PlanCard
from tests.graph.conftest import (
    DIVIDE,
    FakeHit,
    FakeLibrary,
    InProcessPool,
    analysis,
    brief,
    critique,
    plans,
    tool_choice,
)
from tools.vcs import Workspace

HITS = [FakeHit("arxiv:2312.09390#c1", "Weak-to-strong generalization", "Weak supervisors elicit strong models.")]


def git(path: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, text=True).stdout.strip()


async def settle(pilot: Pilot[None]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def typed(pilot: Pilot[None], text: str) -> None:
    focused = pilot.app.focused
    assert isinstance(focused, Input)
    focused.value = text
    await pilot.press("enter")


NOISY = Recipe(
    name="divide",
    summary="Divide one by a number, printing progress (test recipe).",
    load_config=DIVIDE.load_config,
    render=lambda config, out: DIVIDE.render(config, out) + "for step in range(3):\n    print('step', step)\n",
    card=DIVIDE.card,
)


def _driver(settings: Settings, script: ScriptedLLM) -> tuple[GraphRunDriver, InProcessPool]:
    recipes = default_registry()
    recipes.register(NOISY)
    pool = InProcessPool()
    driver = GraphRunDriver(settings, script.client(), kernels=pool, library=FakeLibrary(HITS), recipes=recipes)
    return driver, pool


@pytest.mark.anyio
async def test_chat_run_proposes_a_plan_approved_in_the_ui_and_cells_stream(settings: Settings) -> None:
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice(),
            plans(config={"denominator": 4}, citations=["arxiv:2312.09390#c1"]),
            analysis(),
            critique(),
        ]
    )
    driver, pool = _driver(settings, script)
    seen: list[Message] = []
    app = make_app(settings, llm=script.client(), runner=driver, reviewer="ada")
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await typed(pilot, "/run Does dividing one by two give one half?")
        await settle(pilot)
        [card] = app.query(PlanCard).results(PlanCard)
        assert [p.title for p in card.plans] == ["Divide test"]
        assert card.plans[0].config == {"denominator": 4}
        assert pool.executed == []  # nothing runs before the human approves
        await pilot.press("a")
        await settle(pilot)
        assert app.runs.cells.option_count == 1
        assert re.fullmatch(r"  0  ok\s+\d+\.\ds", app.runs.row_text(0))
        assert app.run_state.status == "done"
        assert app.run_state.cells == 1
    script.assert_done()
    assert len(pool.executed) == 1
    [paused] = [m for m in seen if isinstance(m, RunPaused)]
    [ended] = [m for m in seen if isinstance(m, RunEnded)]
    assert ended.outcome.run_id == paused.outcome.run_id
    assert ended.outcome.status == "done"
    streamed = [type(m.event).__name__ for m in seen if isinstance(m, RunEventReceived)]
    assert streamed.index("PlanProposed") < streamed.index("PlanApproved") < streamed.index("CellExecuted")
    run = Workspace.open(settings.workspace).run(ended.outcome.run_id)
    events = read_events(run.events_path)
    [approved] = events_of(events, PlanApproved)
    assert (approved.reviewer, approved.decision, approved.plan_title) == ("ada", "approve", "Divide test")
    [cell] = events_of(events, CellExecuted)
    assert cell.status == "ok"
    [created] = events_of(events, ProposalCreated)
    [finished] = events_of(events, RunFinished)
    assert finished.proposal_id == created.proposal_id == ended.outcome.proposal_id


@pytest.mark.anyio
async def test_cell_output_reaches_the_log(settings: Settings) -> None:
    code = {"denominator": 5}
    script = ScriptedLLM(replies=[brief(), tool_choice(), plans(config=code), analysis(), critique()])
    driver, _ = _driver(settings, script)
    seen: list[Message] = []
    app = make_app(settings, llm=script.client(), runner=driver, reviewer="ada")

    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await typed(pilot, "/run Does dividing by two halve one?")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        [output] = [m.output for m in seen if isinstance(m, CellOutputReceived)]
        assert (output.index, output.stream, output.text) == (0, "stdout", "step 0\nstep 1\nstep 2\n")
        log = app.query_one("#run-log", Log)
        assert list(log.lines) == ["[cell 0] step 0", "[cell 0] step 1", "[cell 0] step 2"]


@pytest.mark.anyio
async def test_a_real_recipe_run_shows_its_table_and_figures_in_the_ui(settings: Settings) -> None:
    """synthetic_w2s through the real loop: its per-seed table in the log, its figure and the report's in the viewer."""
    config = {"n_samples": 300, "strong_model": "logreg", "seeds": [0, 1]}
    script = ScriptedLLM(
        replies=[
            brief(),
            # no tool-choice call: a smoke test asked for by name takes the smoke-test card
            plans(recipe="synthetic_w2s", config=config, citations=["arxiv:2312.09390#c1"]),
            analysis(metric="pgr"),
            critique(),
        ]
    )
    driver, _ = _driver(settings, script)
    app = make_app(settings, llm=script.client(), runner=driver, reviewer="ada", image_protocol="halfcell")
    async with app.run_test(size=(80, 24)) as pilot:
        await typed(pilot, "/run Run a synthetic smoke test: does a strong student beat its weak teacher?")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert app.run_state.status == "done"
        lines = list(app.query_one("#run-log", Log).lines)
        run = app.run_state.run_id
        run_dir = settings.workspace / "runs" / run
        table_at = lines.index(f"[table] per_seed from file://{(run_dir / 'results.json').resolve()}")
        assert lines[table_at + 1].split() == ["seed", "weak_acc", "w2s_acc", "ceiling_acc", "pgr"]
        assert [line.split()[0] for line in lines[table_at + 3 : table_at + 5]] == ["0", "1"]
        names = [figure.text for figure in app.runs.figures]
        assert names == ["accuracy_by_seed", "report: metrics_ci"]
        assert all(Path(figure.path or "").is_file() for figure in app.runs.figures)
        await pilot.press("f")
        await settle(pilot)
        drawn = [widget.id for widget in app.screen.query(".figure-image")]
        assert drawn == ["figure-0", "figure-1"]
    script.assert_done()


@pytest.mark.anyio
async def test_review_approved_through_the_ui_merges_into_main(settings: Settings) -> None:
    from assistant.graph import compile_graph, open_checkpointer, start_run
    from assistant.runlog import RunLog

    ws = Workspace.open_or_create(settings.workspace)
    git(ws.path, "config", "user.name", "Rev Iewer")
    git(ws.path, "config", "user.email", "rev@example.org")
    script = ScriptedLLM(replies=[brief(), tool_choice(), plans(config={"denominator": 2}), analysis(), critique()])
    run = ws.new_run("divide")
    recipes = default_registry()
    recipes.register(DIVIDE)
    ctx = RunContext(
        llm=script.client(),
        runlog=RunLog(run.events_path),
        workspace=ws,
        kernels=InProcessPool(),
        library=FakeLibrary(HITS),
        approval_policy="auto-approve",
        recipes=recipes,
    )
    async with open_checkpointer(ws.path) as saver:
        outcome = await start_run(
            compile_graph(saver),
            ctx,
            run_id=run.run_id,
            question="Does dividing one by two give one half?",
            run_dir=run.path,
            workspace=ws.path,
        )
    assert outcome.status == "done"
    [proposal] = ws.list_proposals()
    main_before = git(ws.path, "rev-parse", "main")

    app = make_app(settings, llm=ScriptedLLM().client(), review=ReviewServiceBackend(settings))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        await settle(pilot)
        assert app.query_one("#proposals", DataTable).row_count == 1
        await pilot.press("enter")
        await settle(pilot)
        assert app.review_pane.current is not None
        assert "ratio" in app.review_pane.current.results
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, CommentModal)
        await typed(pilot, "checked the numbers")
        await settle(pilot)
        assert app.review_pane.proposals[0].status == "approved"

    decided = ws.get_proposal(proposal.id)
    assert decided.status == "approved"
    assert decided.reviewer == "Rev Iewer <rev@example.org>"
    assert decided.merge_commit == git(ws.path, "rev-parse", "main") != main_before
    assert git(ws.path, "rev-parse", "main^2") == proposal.head_commit
    assert git(ws.path, "merge-base", "--is-ancestor", proposal.head_commit, "main") == ""
    assert "checked the numbers" in git(ws.path, "log", "-1", "--format=%B", "main")
    [entry] = [e for e in AuditLog(ws.state_dir / "audit.jsonl").entries() if e.action == "approved"]
    assert (entry.actor, entry.channel, entry.proposal_id) == ("Rev Iewer <rev@example.org>", "tui", proposal.id)
