"""The loop over the real tools: sandboxed kernels (bwrap), a real paper library and the workspace repository.

Only the model is scripted. Slow (kernel start, MiniLM, Chroma) but this is the path ``ara run`` takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.budget import Budget
from assistant.events import CellExecuted, EvidenceRetrieved, InjectionBlocked, PlanAdjusted, ReportWritten
from assistant.graph import RunContext
from assistant.graph.prompts import CLOSE, OPEN
from assistant.llm.testing import ScriptedLLM
from assistant.recipes import default_registry
from assistant.report.stats import MIN_SEEDS
from assistant.runlog import RunLog, events_of, read_events
from assistant.schemas import RunOutcome
from tests.graph.conftest import analysis, brief, critique, plans, read_json, start_in_memory, tool_choice
from tools.kernel import KernelConfig, KernelPool, SandboxLimits, bwrap_status
from tools.vcs import Workspace
from tools.vcs.records import RunDir

PAPER = """# Weak-to-strong generalization: eliciting strong capabilities with weak supervision

## Abstract

We study whether weak model supervision can elicit the full capabilities of a much stronger model. Strong
students trained on labels from weak supervisors consistently perform better than their weak supervisors, a
phenomenon we call weak-to-strong generalization. We measure the performance gap recovered (PGR).
"""


async def _run_in_sandbox(
    script: ScriptedLLM,
    workspace: Workspace,
    run: RunDir,
    tmp_path: Path,
    question: str,
    *,
    budget: Budget,
    library: Any = None,
    hidden: tuple[Path, ...] = (),
    host_cache_dir: Path | None = None,
) -> RunOutcome:
    """Run the loop once over real sandboxed kernels (a cold pool, shut down after)."""
    config = KernelConfig(
        limits=SandboxLimits(memory_mb=3072, cpu_seconds=120, max_processes=48, tmp_size_mb=16),
        cell_timeout_s=120,
        staging_dir=tmp_path / "staging",
        hidden_paths=hidden,
    )
    pool = KernelPool(config, size=0)
    ctx = RunContext(
        llm=script.client(),
        runlog=RunLog(run.events_path),
        workspace=workspace,
        kernels=pool,
        library=library,
        budget=budget,
        approval_policy="auto-approve",
        recipes=default_registry(),
        host_cache_dir=host_cache_dir,
    )
    try:
        return await start_in_memory(ctx, run, workspace, question)
    finally:
        await pool.shutdown()


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.skipif(not bwrap_status()[0], reason=f"bwrap unusable here: {bwrap_status()[1]}")
async def test_full_cycle_over_real_kernels_library_and_workspace(workspace: Workspace, tmp_path: Path) -> None:
    from tools.papers import PaperLibrary

    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "w2s.md").write_text(PAPER)
    library = PaperLibrary.open(workspace.path / ".ara" / "papers")
    library.add_paths([papers])
    [hit] = library.search("weak to strong generalization", k=1)

    script = ScriptedLLM(
        replies=[
            brief(),
            # no tool-choice call: a smoke test asked for by name takes the smoke-test card
            plans(
                recipe="synthetic_w2s",
                config={"n_samples": 300, "strong_model": "logreg", "seeds": [0, 1]},
                citations=[hit.key],
            ),
            analysis(metric="pgr"),
            critique(),
        ]
    )
    run = workspace.new_run("real")
    try:
        outcome = await _run_in_sandbox(
            script,
            workspace,
            run,
            tmp_path,
            "Does weak-to-strong generalization hold on a synthetic task?",
            library=library,
            budget=Budget(cells=2, debug_attempts=0),
        )
    finally:
        library.close()
    script.assert_done()
    assert outcome.status == "done", outcome
    plan_prompt = script.requests[1]["messages"][-1]["content"]  # a smoke test: no tool-choice request before it
    assert f"{OPEN} source={hit.key}>>>" in plan_prompt
    assert plan_prompt.count(CLOSE) == 1
    events = read_events(run.events_path)
    [retrieved] = events_of(events, EvidenceRetrieved)
    assert retrieved.keys == [hit.key]
    [cell] = events_of(events, CellExecuted)
    assert (cell.status, cell.error) == ("ok", None)
    results = read_json(run.path / "results.json")
    assert results["tool"] == "recipes.synthetic_w2s"
    assert results["metrics"]["pgr"]["n"] >= 1
    assert read_json(run.path / "config.json")["seeds"] == [0, 1]
    [written] = events_of(events, ReportWritten)
    assert (written.verified, written.problems) == (True, [])
    report = (run.path / "report.md").read_text()
    assert "1 citations resolved" in report
    assert "Not checked: the results themselves: the experiment code wrote them" in report
    assert "Weak-to-strong generalization" in report.split("## References")[1]
    [proposal] = workspace.list_proposals()
    assert proposal.status == "open"


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.skipif(not bwrap_status()[0], reason=f"bwrap unusable here: {bwrap_status()[1]}")
async def test_w2s_recipe_keeps_test_labels_on_the_host_and_debugs_a_host_step_failure(
    workspace: Workspace, tmp_path: Path
) -> None:
    from tools.datasets import heldout_sources

    good = {
        "dataset": "sk_breast_cancer",
        "weak_features": "tab_coarse",
        "strong_features": "tab_raw",
        "n_weak_train": 100,
        "n_strong_train": 100,
        "n_test": 100,
        "seeds": [0, 1],
        "epochs": 5,
        "cache_dir": "/etc/not-a-cache",  # a host path the model chose: ignored, the host picks the cache
    }
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice("w2s"),
            # more test examples than the dataset has: lowered on the host before approval (to 10 / 10 / 548),
            # with a note; and a weak split of ten examples that is one class for seed 125: the host's export
            # fails, and the plan lets the loop fix n_weak_train
            plans(
                recipe="w2s",
                config={**good, "n_weak_train": 10, "n_test": 5000, "seeds": [0, 125]},
                open_fields=["n_weak_train"],
            ),
            # debug may change n_weak_train only: the epochs change is refused
            {**good, "n_weak_train": 11, "n_strong_train": 10, "n_test": 548, "seeds": [0, 125], "epochs": 50},
            analysis(metric="pgr"),
            critique(),
        ]
    )
    run = workspace.new_run("heldout")
    outcome = await _run_in_sandbox(
        script,
        workspace,
        run,
        tmp_path,
        "Does a strong MLP trained on a coarse supervisor's labels beat it?",
        budget=Budget(cells=3, debug_attempts=1),
        hidden=tuple(heldout_sources()),
        host_cache_dir=workspace.path / ".ara" / "cache",
    )
    script.assert_done()
    assert outcome.status == "done", outcome
    failed, passed = events_of(read_events(run.path / "events.jsonl"), CellExecuted)
    assert failed.status == "error"
    assert failed.error is not None
    assert failed.error == (
        "HostStepError: prepare on the host failed: UserInputError: seed 125: the weak training split of "
        "'sk_breast_cancer' has one class only; raise n_weak_train"
    )
    fitted, registered, raised = events_of(read_events(run.path / "events.jsonl"), PlanAdjusted)
    assert registered.change.startswith("the plan states no hypothesis that w2s can test; registered the tool's main")
    assert registered.change.endswith("(w2s_vs_weak predicted above 0)")
    assert raised.change.endswith(f"{MIN_SEEDS} seeds")
    assert fitted.change.startswith(
        "n_weak_train / n_strong_train / n_test lowered on the host from 10 / 100 / 5000 to 10 / 10 / 548: dataset "
        "'sk_breast_cancer' has 569 examples"
    )
    assert "HostStepError" in script.requests[3]["messages"][-1]["content"], "debug saw the host's error"
    blocked = [e.detail for e in events_of(read_events(run.events_path), InjectionBlocked)]
    assert "epochs: 5 -> 50" in blocked
    assert (passed.status, passed.error) == ("ok", None)
    cell = (run.path / "cells" / "01.py").read_text()
    assert "train_w2s_task('.')" in cell
    results = read_json(run.path / "results.json")
    assert results["tool"] == "tools.w2s"
    assert results["provenance"]["scoring"].startswith("host: test labels never left the host")
    assert results["config"]["cache_dir"] == str(workspace.path / ".ara" / "cache")
    assert results["config"]["seeds"] == [0, 125, 1], "seeds raised to three for the registered hypothesis"
    assert results["metrics"]["w2s_acc"]["n"] == 3
    assert results["metrics"]["w2s_acc.items"]["n"] == results["config"]["n_test"]
    assert results["verification"]["scored_by"] == "host"
    assert sorted(p.name for p in (run.path / "work" / "submissions").iterdir()) == [
        "seed0.w2s.npy",
        "seed1.w2s.npy",
        "seed125.w2s.npy",
    ], "the kernel submits the student only; the host trains and scores the weak supervisor and the ceiling"
    assert not (run.path / "work" / "results.json").exists()
    assert not Path("/etc/not-a-cache").exists()
    report = (run.path / "report.md").read_text()
    assert fitted.change in report.split("## Methods", 1)[1], "the fitted sizes are noted in the methods"
    [verdict] = [line for line in report.splitlines() if line.startswith("- **H1** ")]
    assert verdict.startswith(
        "- **H1** The student trained on weak labels beats its weak supervisor. Prediction `w2s_acc - weak_acc > 0`: **"
    ), "the registered hypothesis gets a verdict computed from the results"
    assert verdict.endswith("paired percentile bootstrap over 3 seeds)."), verdict
    assert "| w2s\\_acc.items |" in report or "| w2s_acc.items |" in report
