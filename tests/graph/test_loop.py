"""End-to-end research-loop runs with a scripted model through the real openai client and a real workspace."""

from __future__ import annotations

import errno
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph.checkpoint.memory import InMemorySaver

from assistant.budget import Budget
from assistant.errors import AssistantError, BudgetExceededError, EndpointUnreachableError, StructuredOutputError
from assistant.events import (
    BudgetExhausted,
    CellExecuted,
    DebugAttempted,
    HypothesesEvaluated,
    InjectionBlocked,
    LLMCalled,
    NodeStarted,
    PlanAdjusted,
    PlanApproved,
    PromptLoaded,
    ProposalCreated,
    ReportWritten,
    RunFailed,
    RunFinished,
    ToolChosen,
)
from assistant.graph import compile_graph, open_checkpointer, resume_run, start_run
from assistant.graph.prompts import CLOSE, OPEN
from assistant.graph.runner import load_state
from assistant.llm.testing import ScriptedLLM
from assistant.runlog import events_of, read_events
from assistant.schemas import Approval, ExperimentPlan
from tests.graph.conftest import (
    FakeCellResult,
    FakeHit,
    FakeLibrary,
    InProcessPool,
    analysis,
    brief,
    critique,
    make_context,
    plans,
    read_json,
    start_in_memory,
    tool_choice,
)
from tools.vcs import Workspace

QUESTION = "Does dividing one by two give one half?"
HITS = [
    FakeHit("arxiv:2312.09390#c1", "Weak-to-strong generalization", "Strong students often exceed weak teachers."),
    FakeHit("arxiv:2312.09390#c7", "Weak-to-strong generalization", "PGR is the fraction of the gap recovered."),
]
NODES = [
    "intake",
    "search_literature",
    "choose_tool",
    "propose_experiments",
    "approve_plan",
    "write_code",
    "run_cells",
    "analyse_results",
    "critique",
    "plan_followup",
    "write_report",
    "propose_change",
]


def git(ws: Workspace, *args: str) -> str:
    return subprocess.run(["git", "-C", str(ws.path), *args], check=True, capture_output=True, text=True).stdout


@pytest.mark.anyio
async def test_full_cycle_sends_quoted_evidence_and_ends_in_a_proposal(workspace: Workspace) -> None:
    hypothesis = {"statement": "The ratio is above zero.", "metric": "ratio", "predicted": "increase"}
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice(),
            plans(config={"denominator": 4}, citations=["arxiv:2312.09390#c1"], hypotheses=[hypothesis]),
            analysis(),
            critique(),
        ]
    )
    run = workspace.new_run("w2s")
    pool, library = InProcessPool(), FakeLibrary(HITS)
    ctx = make_context(script.client(), workspace, run.path, pool=pool, library=library)
    graph = compile_graph(InMemorySaver())

    outcome = await start_run(
        graph, ctx, run_id=run.run_id, question=QUESTION, run_dir=run.path, workspace=workspace.path
    )

    script.assert_done()
    assert outcome.status == "done"
    assert outcome.cells == 1
    assert outcome.report_path == f"runs/{run.run_id}/report.md"
    # (a) what the model was sent
    intake_msgs, choice_msgs, plan_msgs, analysis_msgs, critique_msgs = (r["messages"] for r in script.requests)
    assert QUESTION in intake_msgs[-1]["content"]
    assert "- divide: Divide one by a number" in choice_msgs[-1]["content"]
    choice_schema = script.requests[1]["response_format"]["schema"]
    assert choice_schema["properties"]["tool"]["enum"] == ["divide", "none"]
    plan_prompt = plan_msgs[-1]["content"]
    for hit in HITS:
        assert f"[{hit.key}] {hit.title}" in plan_prompt
        assert f"{OPEN} source={hit.key}>>>\n{hit.text}\n{CLOSE}" in plan_prompt
    assert "synthetic_w2s" not in plan_prompt, "only the chosen tool is offered for planning"
    assert "metrics: ratio (one divided by the denominator" in plan_prompt
    assert "untrusted data" in plan_msgs[1]["content"]
    plan_schema = script.requests[2]["response_format"]["schema"]["$defs"]["ExperimentPlan"]
    assert plan_schema["properties"]["recipe"]["enum"] == ["divide"]
    assert '"ratio"' in analysis_msgs[-1]["content"]
    assert "0.25" in analysis_msgs[-1]["content"]
    assert "H1: The ratio is above zero. | prediction ratio > 0 | verdict insufficient" in analysis_msgs[-1]["content"]
    assert "verdict insufficient" in critique_msgs[-1]["content"]
    assert library.queries == [QUESTION, "dividing give half", "weak to strong generalization"]
    # (b) files in the run directory; the approved config is what ran; numbers and verdicts come from code
    results = read_json(run.path / "results.json")
    assert results["metrics"]["ratio"] == {"value": 0.25}
    assert read_json(run.path / "config.json") == {"denominator": 4}
    assert "ratio = 1 / 4" in (run.path / "cells/00.py").read_text()
    report = (run.path / "report.md").read_text()
    assert "> **Verified: 1 pre-registered hypotheses with computed verdicts; 1 of 1 claims held up" in report
    assert "| ratio | 0.25 | none |" in report
    assert "- **H1** The ratio is above zero. Prediction `ratio > 0`: insufficient evidence" in report
    assert "**Configuration as executed** (config.json): `denominator` = `4`." in report
    assert "Weak-to-strong generalization" in report.split("## References")[1]
    assert "- `arxiv:2312.09390#c7` Weak-to-strong generalization" in report.split("## Related work")[1]
    assert "Confound: floating-point rounding" in report
    assert (run.path / "report.html").is_file()
    assert len(pool.executed) == 1
    # the proposal branch, with the run's files and trailer
    [proposal] = workspace.list_proposals()
    assert outcome.proposal_id == str(proposal.id)
    assert proposal.branch == f"ara/{run.run_id}/divide-test"
    files = git(workspace, "ls-tree", "-r", "--name-only", proposal.branch).split()
    assert f"runs/{run.run_id}/report.md" in files
    assert f"runs/{run.run_id}/results.json" in files
    assert f"runs/{run.run_id}/cells/00.py" in files
    assert f"Ara-Run-Id: {run.run_id}" in git(workspace, "log", "-1", "--format=%B", proposal.branch)
    assert git(workspace, "rev-parse", "main") != git(workspace, "rev-parse", proposal.branch)
    # (b) the event log
    events = read_events(run.events_path)
    assert [e.node for e in events_of(events, NodeStarted)] == NODES
    [cell] = events_of(events, CellExecuted)
    assert (cell.key, cell.status, cell.reused) == (f"{run.run_id}:cell:00", "ok", False)
    assert [e.node for e in events_of(events, LLMCalled)] == [
        "intake",
        "choose_tool",
        "propose_experiments",
        "analyse_results",
        "critique",
    ]
    [chosen] = events_of(events, ToolChosen)
    assert (chosen.offered, chosen.chosen) == (["divide"], "divide")
    [evaluated] = events_of(events, HypothesesEvaluated)
    assert evaluated.verdicts == {"H1": "insufficient"}
    prompts = {e.name: e.sha256 for e in events_of(events, PromptLoaded)}
    assert prompts["intake.brief"] == hashlib.sha256(Path("prompts/intake.brief.md").read_bytes()).hexdigest()
    [approved] = events_of(events, PlanApproved)
    assert approved.reviewer == "policy:auto-approve"
    [written] = events_of(events, ReportWritten)
    assert (written.verified, written.problems) == (True, [])
    [created] = events_of(events, ProposalCreated)
    assert created.branch == proposal.branch
    [finished] = events_of(events, RunFinished)
    assert (finished.status, finished.proposal_id) == ("done", str(proposal.id))
    assert finished.tokens == outcome.tokens > 0


@pytest.mark.anyio
async def test_empty_library_report_says_so(workspace: Workspace) -> None:
    script = ScriptedLLM(replies=[brief(), tool_choice(), plans(citations=["made-up#c1"]), analysis(), critique()])
    run = workspace.new_run("w2s")
    ctx = make_context(script.client(), workspace, run.path, library=None)
    outcome = await start_in_memory(ctx, run, workspace, QUESTION)
    assert outcome.status == "done"
    assert "(no papers in the library matched" in script.requests[2]["messages"][-1]["content"]
    report = (run.path / "report.md").read_text()
    assert "the paper library returned no passages" in report.lower()
    assert "made-up#c1" not in report


@pytest.mark.anyio
async def test_debug_loop_fixes_a_failing_cell(workspace: Workspace) -> None:
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice(),
            plans(config={"denominator": 0}, open_fields=["denominator"]),
            {"denominator": 2},
            analysis(),
            critique(),
        ]
    )
    run = workspace.new_run("w2s")
    pool = InProcessPool()
    ctx = make_context(script.client(), workspace, run.path, pool=pool)
    outcome = await start_in_memory(ctx, run, workspace, QUESTION)
    script.assert_done()
    assert outcome.status == "done"
    assert outcome.cells == 2
    debug_prompt = script.requests[3]["messages"][-1]["content"]
    assert any("you may change only: denominator" in m["content"] for m in script.requests[3]["messages"])
    assert f"{OPEN} source=cell 0 output>>>" in debug_prompt
    assert "ZeroDivisionError: division by zero" in debug_prompt
    events = read_events(run.events_path)
    assert [(c.index, c.status) for c in events_of(events, CellExecuted)] == [(0, "error"), (1, "ok")]
    [attempt] = events_of(events, DebugAttempted)
    assert attempt.error == "ZeroDivisionError: division by zero"
    assert read_json(run.path / "results.json")["metrics"]["ratio"]["value"] == 0.5
    assert len(pool.executed) == 2


@pytest.mark.anyio
async def test_identical_repeated_error_stops_the_loop(workspace: Workspace) -> None:
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice(),
            plans(config={"denominator": 0}, open_fields=["denominator"]),
            {"denominator": 0},
        ]
    )
    run = workspace.new_run("w2s")
    ctx = make_context(script.client(), workspace, run.path, budget=Budget(debug_attempts=5))
    outcome = await start_in_memory(ctx, run, workspace, QUESTION)
    script.assert_done()
    assert outcome.status == "failed"
    assert outcome.failure is not None
    assert "same error as before" in outcome.failure
    assert workspace.list_proposals() == []
    events = read_events(run.events_path)
    assert len(events_of(events, CellExecuted)) == 2
    [finished] = events_of(events, RunFinished)
    assert finished.status == "failed"


@pytest.mark.anyio
async def test_debug_budget_exhaustion_is_resumable(workspace: Workspace) -> None:
    script = ScriptedLLM(
        replies=[brief(), tool_choice(), plans(config={"denominator": 0}, open_fields=["denominator"])]
    )
    run = workspace.new_run("w2s")
    saver = InMemorySaver()
    ctx = make_context(script.client(), workspace, run.path, budget=Budget(debug_attempts=0))
    with pytest.raises(BudgetExceededError, match="debug budget exhausted") as info:
        await start_run(
            compile_graph(saver), ctx, run_id=run.run_id, question=QUESTION, run_dir=run.path, workspace=workspace.path
        )
    assert info.value.budget == "debug"
    [event] = events_of(read_events(run.events_path), BudgetExhausted)
    assert event.budget == "debug"
    # raise the budget and resume: the finished failing cell is reused, not executed again
    more = ScriptedLLM(replies=[{"denominator": 5}, analysis(), critique()])
    pool = InProcessPool()
    ctx2 = make_context(more.client(), workspace, run.path, pool=pool, budget=Budget(debug_attempts=1))
    outcome = await resume_run(compile_graph(saver), ctx2, run.run_id)
    more.assert_done()
    assert outcome.status == "done"
    assert len(pool.executed) == 1
    cells = events_of(read_events(run.events_path), CellExecuted)
    assert [(c.index, c.reused) for c in cells] == [(0, False), (0, True), (1, False)]


@pytest.mark.anyio
async def test_token_budget_exhaustion_stops_before_the_next_call(workspace: Workspace) -> None:
    script = ScriptedLLM(replies=[brief()])
    run = workspace.new_run("w2s")
    ctx = make_context(script.client(), workspace, run.path, budget=Budget(tokens=50))
    graph = compile_graph(InMemorySaver())
    with pytest.raises(BudgetExceededError, match="token budget exhausted") as info:
        await start_run(graph, ctx, run_id=run.run_id, question=QUESTION, run_dir=run.path, workspace=workspace.path)
    script.assert_done()
    assert info.value.budget == "tokens"
    values, next_node, _ = await load_state(graph, run.run_id)
    assert values["tokens_used"] >= 50
    assert next_node in ("search_literature", "choose_tool")


@pytest.mark.anyio
async def test_cell_budget_is_enforced(workspace: Workspace) -> None:
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice(),
            plans(config={"denominator": 0}, open_fields=["denominator"]),
            {"denominator": 3},
        ]
    )
    run = workspace.new_run("w2s")
    pool = InProcessPool()
    ctx = make_context(script.client(), workspace, run.path, pool=pool, budget=Budget(cells=1))
    with pytest.raises(BudgetExceededError, match="cell budget exhausted"):
        await start_in_memory(ctx, run, workspace, QUESTION)
    script.assert_done()
    assert len(pool.executed) == 1


@pytest.mark.anyio
async def test_invalid_json_forever_is_a_typed_failure_and_keeps_the_checkpoint(workspace: Workspace) -> None:
    script = ScriptedLLM(replies=[brief(), tool_choice(), "not json", "still not json", '{"plans": 3}'])
    run = workspace.new_run("w2s")
    ctx = make_context(script.client(), workspace, run.path)
    graph = compile_graph(InMemorySaver())
    with pytest.raises(StructuredOutputError, match="no valid ExperimentPlans after 3 attempts"):
        await start_run(graph, ctx, run_id=run.run_id, question=QUESTION, run_dir=run.path, workspace=workspace.path)
    script.assert_done()
    values, next_node, _ = await load_state(graph, run.run_id)
    assert next_node == "propose_experiments"
    assert values["brief"]["objective"].startswith("Measure")
    [failed] = events_of(read_events(run.events_path), RunFailed)
    assert failed.error == "StructuredOutputError"


@pytest.mark.anyio
async def test_plan_naming_an_unknown_tool_fails_clearly(workspace: Workspace) -> None:
    script = ScriptedLLM(replies=[brief(), tool_choice(), plans(recipe="nuke_from_orbit")])
    run = workspace.new_run("w2s")
    ctx = make_context(script.client(), workspace, run.path)
    with pytest.raises(AssistantError, match="named 'nuke_from_orbit'; allowed here: divide"):
        await start_in_memory(ctx, run, workspace, QUESTION)
    [blocked] = events_of(read_events(run.events_path), InjectionBlocked)
    assert (blocked.rule, blocked.detail) == ("recipe_not_chosen", "'nuke_from_orbit' (chosen: divide)")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("question", "message"), [("   ", "the research question is empty"), ("x" * 50_000, "is 50000 characters long")]
)
async def test_bad_questions_are_refused_before_any_call(workspace: Workspace, question: str, message: str) -> None:
    script = ScriptedLLM(replies=[])
    run = workspace.new_run("w2s")
    ctx = make_context(script.client(), workspace, run.path)
    with pytest.raises(AssistantError, match=message):
        await start_in_memory(ctx, run, workspace, question)
    assert script.requests == []


@pytest.mark.anyio
async def test_a_cell_that_kills_its_kernel_goes_to_debug(workspace: Workspace) -> None:
    from tests.graph.conftest import FakeCellResult

    def die_first(code: str, n: int) -> FakeCellResult | None:
        return FakeCellResult(status="died", error_name="KernelDied", error_value="exit code -9") if n == 0 else None

    script = ScriptedLLM(
        replies=[brief(), tool_choice(), plans(open_fields=["denominator"]), {"denominator": 2}, analysis(), critique()]
    )
    run = workspace.new_run("w2s")
    pool = InProcessPool(override=die_first)
    ctx = make_context(script.client(), workspace, run.path, pool=pool)
    outcome = await start_in_memory(ctx, run, workspace, QUESTION)
    assert outcome.status == "done"
    cells = events_of(read_events(run.events_path), CellExecuted)
    assert [(c.status, c.error) for c in cells] == [("died", "KernelDied: exit code -9"), ("ok", None)]


@pytest.mark.anyio
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_interrupt_then_resume_with_a_human_approval(workspace: Workspace, backend: str) -> None:
    script = ScriptedLLM(replies=[brief(), tool_choice(), plans()])
    run = workspace.new_run("w2s")
    ctx = make_context(script.client(), workspace, run.path, policy="ask")
    memory = InMemorySaver()
    if backend == "memory":
        first = await start_run(
            compile_graph(memory), ctx, run_id=run.run_id, question=QUESTION, run_dir=run.path, workspace=workspace.path
        )
    else:
        async with open_checkpointer(workspace.path) as saver:
            first = await start_run(
                compile_graph(saver),
                ctx,
                run_id=run.run_id,
                question=QUESTION,
                run_dir=run.path,
                workspace=workspace.path,
            )
    script.assert_done()
    assert first.status == "awaiting_approval"
    assert first.next_node == "approve_plan"
    assert [p.recipe for p in first.plans] == ["divide"]
    assert (workspace.path / ".ara/checkpoints.sqlite").is_file() == (backend == "sqlite")

    later = ScriptedLLM(replies=[analysis(), critique()])
    ctx2 = make_context(later.client(), workspace, run.path, policy="ask")
    approval = Approval(decision="approve", reviewer="alice <alice@example.org>", comment="go")
    if backend == "memory":
        waiting = await resume_run(compile_graph(memory), ctx2, run.run_id)
        assert waiting.status == "awaiting_approval"
        outcome = await resume_run(compile_graph(memory), ctx2, run.run_id, approval=approval)
    else:
        async with open_checkpointer(workspace.path) as saver:
            waiting = await resume_run(compile_graph(saver), ctx2, run.run_id)
            assert waiting.status == "awaiting_approval"
            outcome = await resume_run(compile_graph(saver), ctx2, run.run_id, approval=approval)
    later.assert_done()
    assert outcome.status == "done"
    [approved] = events_of(read_events(run.events_path), PlanApproved)
    assert approved.reviewer == "alice <alice@example.org>"
    assert read_json(run.path / "results.json")["metrics"]["ratio"]["value"] == 0.5, "the approved config ran"


@pytest.mark.anyio
async def test_rejection_ends_the_run_without_code_or_proposal(workspace: Workspace) -> None:
    script = ScriptedLLM(replies=[brief(), tool_choice(), plans()])
    run = workspace.new_run("w2s")
    pool = InProcessPool()
    ctx = make_context(script.client(), workspace, run.path, pool=pool, policy="ask")
    graph = compile_graph(InMemorySaver())
    await start_run(graph, ctx, run_id=run.run_id, question=QUESTION, run_dir=run.path, workspace=workspace.path)
    outcome = await resume_run(
        graph, ctx, run.run_id, approval=Approval(decision="reject", reviewer="bob", comment="too small")
    )
    assert (outcome.status, outcome.failure) == ("rejected", "too small")
    assert pool.executed == []
    assert workspace.list_proposals() == []


@pytest.mark.anyio
async def test_a_model_that_times_out_fails_clearly_and_keeps_the_checkpoint(workspace: Workspace) -> None:
    def time_out(body: dict[str, Any]) -> str:
        raise httpx.ReadTimeout("scripted: no answer in time")

    script = ScriptedLLM(replies=[brief(), time_out])
    run = workspace.new_run("w2s")
    ctx = make_context(script.client(), workspace, run.path)
    graph = compile_graph(InMemorySaver())
    with pytest.raises(EndpointUnreachableError, match="did not answer in time"):
        await start_run(graph, ctx, run_id=run.run_id, question=QUESTION, run_dir=run.path, workspace=workspace.path)
    _, next_node, _ = await load_state(graph, run.run_id)
    assert next_node == "choose_tool"
    [failed] = events_of(read_events(run.events_path), RunFailed)
    assert failed.error == "EndpointUnreachableError"


@pytest.mark.anyio
async def test_a_full_disk_fails_clearly_and_keeps_the_checkpoint(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.graph.nodes.literature as literature

    def full(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(literature, "write_atomic", full)
    script = ScriptedLLM(replies=[brief()])
    run = workspace.new_run("w2s")
    ctx = make_context(script.client(), workspace, run.path)
    graph = compile_graph(InMemorySaver())
    with pytest.raises(AssistantError, match=r"the disk is full while writing .*evidence.json") as info:
        await start_run(graph, ctx, run_id=run.run_id, question=QUESTION, run_dir=run.path, workspace=workspace.path)
    assert f"ara resume {run.run_id}" in str(info.value)
    _, next_node, _ = await load_state(graph, run.run_id)
    assert next_node == "search_literature"


@pytest.mark.anyio
async def test_a_paused_run_resumed_with_the_unattended_policy_continues(workspace: Workspace) -> None:
    script = ScriptedLLM(replies=[brief(), tool_choice(), plans()])
    run = workspace.new_run("w2s")
    graph = compile_graph(InMemorySaver())
    ctx = make_context(script.client(), workspace, run.path, policy="ask")
    paused = await start_run(
        graph, ctx, run_id=run.run_id, question=QUESTION, run_dir=run.path, workspace=workspace.path
    )
    assert paused.status == "awaiting_approval"
    later = ScriptedLLM(replies=[analysis(), critique()])
    outcome = await resume_run(graph, make_context(later.client(), workspace, run.path), run.run_id)
    later.assert_done()
    assert outcome.status == "done"
    [approved] = events_of(read_events(run.events_path), PlanApproved)
    assert approved.reviewer == "policy:auto-approve"


@pytest.mark.anyio
async def test_free_mode_runs_a_model_written_cell(workspace: Workspace) -> None:
    code = (
        "import json\n"
        "doc = {'schema': 'ara.results/1', 'tool': 'free', 'title': 'free cell', 'config': {},\n"
        "       'metrics': {'accuracy': {'value': 0.75}}, 'tables': {}, 'figures': {}, 'provenance': {}}\n"
        "(OUT_DIR / 'results.json').write_text(json.dumps(doc))\n"
    )
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice(),
            plans(recipe="free", config={}),
            {"code": code, "purpose": "score"},
            analysis(metric="accuracy"),
            critique(),
        ]
    )
    run = workspace.new_run("free")
    ctx = make_context(script.client(), workspace, run.path, code_mode="free")
    outcome = await start_in_memory(ctx, run, workspace, QUESTION)
    script.assert_done()
    assert outcome.status == "done"
    plan_schema = script.requests[2]["response_format"]["schema"]["$defs"]["ExperimentPlan"]
    assert plan_schema["properties"]["recipe"]["enum"] == ["divide", "free"]
    [allowed] = [m["content"] for m in script.requests[3]["messages"] if "Allowed imports:" in m["content"]]
    allowed_list = allowed.split("Allowed imports:")[1]
    assert "numpy" in allowed_list
    assert "subprocess" not in allowed_list
    cell = (run.path / "cells/00.py").read_text()
    assert cell.startswith("# ara: prelude written by the research loop\nimport pathlib\nOUT_DIR = pathlib.Path('.')")
    assert cell.endswith(code)
    report = (run.path / "report.md").read_text()
    assert "| accuracy | 0.75 | none |" in report
    assert "self-reported" in report
    assert "Not checked: the results themselves: the experiment code wrote them" in report


@pytest.mark.anyio
async def test_a_modified_plan_passes_the_same_structural_checks(workspace: Workspace) -> None:
    script = ScriptedLLM(replies=[brief(), tool_choice(), plans()])
    run = workspace.new_run("w2s")
    graph = compile_graph(InMemorySaver())
    ctx = make_context(script.client(), workspace, run.path, policy="ask")
    await start_run(graph, ctx, run_id=run.run_id, question=QUESTION, run_dir=run.path, workspace=workspace.path)
    edited = ExperimentPlan.model_validate(
        {**plans()["plans"][0], "title": "Edited", "config": {"denominator": 5, "sandbox": False}}
    )
    later = ScriptedLLM(replies=[analysis(), critique()])
    outcome = await resume_run(
        graph,
        make_context(later.client(), workspace, run.path, policy="ask"),
        run.run_id,
        approval=Approval(decision="modify", reviewer="ada", plan=edited),
    )
    assert outcome.status == "done"
    events = read_events(run.events_path)
    [approved] = events_of(events, PlanApproved)
    assert (approved.decision, approved.plan_title) == ("modify", "Edited")
    [blocked] = events_of(events, InjectionBlocked)
    assert (blocked.node, blocked.rule, blocked.detail) == (
        "approve_plan",
        "config_field_not_allowed",
        "divide.sandbox=False",
    )
    assert read_json(run.path / "config.json") == {"denominator": 5}, "the edited, approved config ran"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("config", "refused"),
    [
        ({}, []),  # small models often send an empty draft
        ({"seeds": "many", "loss": "xent"}, ["w2s: ['seeds']"]),
    ],
)
async def test_a_plan_config_missing_required_fields_is_completed_before_approval(
    workspace: Workspace, config: dict[str, Any], refused: list[str]
) -> None:
    """W2SConfig needs ``dataset``: the model fills the whole config under the schema before anyone approves, so
    the approver sees (and freezes) exactly what will run."""
    filled = {"dataset": "sk_breast_cancer", "weak_features": "tab_coarse", "strong_features": "tab_raw", "seeds": [0]}
    script = ScriptedLLM(replies=[brief(), tool_choice("w2s"), plans(recipe="w2s", config=config), filled])
    run = workspace.new_run("draft")
    ctx = make_context(script.client(), workspace, run.path, policy="ask")
    outcome = await start_in_memory(
        ctx, run, workspace, "Does weak-to-strong training beat the weak supervisor on tabular data?"
    )
    script.assert_done()
    assert outcome.status == "awaiting_approval"
    [plan] = outcome.plans
    assert plan.recipe == "w2s"
    assert plan.config["dataset"] == "sk_breast_cancer"
    assert plan.config["loss"] == "xent"
    sizes = [plan.config[k] for k in ("n_weak_train", "n_strong_train", "n_test")]
    assert sizes == [189, 189, 189], "defaults filled in, fitted on the host to the 569 rows"
    assert "cache_dir" not in plan.config, "host paths are not the plan's"
    assert "data_root" not in plan.config
    assert script.requests[3]["response_format"]["schema"]["title"] == "W2SConfig"
    events = events_of(read_events(run.path / "events.jsonl"), InjectionBlocked)
    invalid = [e.detail for e in events if e.rule == "config_value_invalid"]
    assert invalid == refused


@pytest.mark.anyio
async def test_a_plan_value_that_breaks_a_cross_field_rule_is_corrected_before_approval(workspace: Workspace) -> None:
    """Seen with the 1.5B model: a w2s plan with ``strong_features='bow'`` (a weak feature set). The full config
    the model gives under the schema corrects it, and the approver sees the corrected value with a note."""
    drafted = {"dataset": "rotten_tomatoes", "weak_features": "bow", "strong_features": "bow", "seeds": [0, 1, 2]}
    filled = {**drafted, "strong_features": "minilm"}
    script = ScriptedLLM(replies=[brief(), tool_choice("w2s"), plans(recipe="w2s", config=drafted), filled])
    run = workspace.new_run("cross-field")
    ctx = make_context(script.client(), workspace, run.path, policy="ask")
    outcome = await start_in_memory(
        ctx, run, workspace, "Does weak-to-strong training beat the weak supervisor on movie reviews?"
    )
    script.assert_done()
    assert outcome.status == "awaiting_approval", outcome.failure
    [plan] = outcome.plans
    assert (plan.config["weak_features"], plan.config["strong_features"]) == ("bow", "minilm")
    [notes] = outcome.plan_notes
    assert "strong_features 'bow' -> 'minilm': the plan's value was not valid" in notes
    adjusted = events_of(read_events(run.path / "events.jsonl"), PlanAdjusted)
    assert [a.change for a in adjusted if a.change.startswith("strong_features")] == [
        "strong_features 'bow' -> 'minilm': the plan's value was not valid"
    ]


@pytest.mark.anyio
async def test_a_failing_approved_config_with_no_open_field_ends_the_run_with_the_error(workspace: Workspace) -> None:
    """What was approved is what runs: without open fields the loop may not change the config to make it pass."""
    script = ScriptedLLM(replies=[brief(), tool_choice(), plans(config={"denominator": 0})])
    run = workspace.new_run("frozen")
    pool = InProcessPool()
    outcome = await start_in_memory(
        make_context(script.client(), workspace, run.path, pool=pool), run, workspace, QUESTION
    )
    script.assert_done()
    assert outcome.status == "failed"
    assert outcome.failure is not None
    assert "the approved config of recipe 'divide' failed (ZeroDivisionError: division by zero)" in outcome.failure
    assert "left no field open" in outcome.failure
    assert len(pool.executed) == 1
    assert workspace.list_proposals() == []


@pytest.mark.anyio
async def test_a_frozen_config_that_times_out_says_which_limit_to_raise(workspace: Workspace) -> None:
    """Seen on the default model: an approved eval of 100 items ran past the 300 s cell limit on two CPU cores.
    The loop may not shrink what was approved, so the failure names the limit, its setting and the two ways out."""

    def timed_out(code: str, index: int) -> FakeCellResult:
        return FakeCellResult(
            status="timeout", error_name="Timeout", error_value="the cell ran longer than 300 s and was interrupted"
        )

    script = ScriptedLLM(replies=[brief(), tool_choice(), plans(config={"denominator": 2})])
    run = workspace.new_run("frozen-timeout")
    pool = InProcessPool(override=timed_out)
    outcome = await start_in_memory(
        make_context(script.client(), workspace, run.path, pool=pool), run, workspace, QUESTION
    )
    script.assert_done()
    assert outcome.status == "failed"
    assert outcome.failure == (
        "the approved config of recipe 'divide' failed (Timeout: the cell ran longer than 300 s and was interrupted) "
        "and the plan left no field open for the loop to change; a cell may run 300 s: raise kernel.cell_timeout_s "
        "(ARA_KERNEL_CELL_TIMEOUT_S) and resume, or start a new run with a smaller plan (fewer items, seeds or "
        f"conditions) (ara resume {run.run_id})"
    )
    assert len(pool.executed) == 1
