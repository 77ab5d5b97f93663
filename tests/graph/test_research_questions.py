"""Acceptance questions of the research loop, end to end over the real tools (only the model is scripted).

The CCS-vs-probe question runs the ``probes`` recipe: SmolLM2-135M activations of real StrategyQA contrast pairs
(the shared BIG-bench copy, few pairs and two layers so it stays fast) extracted on the host, CCS fitted in a real
sandboxed kernel, the probe fitted and everything scored on the host with intervals over the held-out items, and
a report whose verdict lines, one per layer, are the verdicts recomputed from results.json.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.budget import Budget
from assistant.events import CellExecuted, PlanAdjusted, ToolChosen
from assistant.llm.testing import ScriptedLLM
from assistant.report.build import evaluate_hypotheses
from assistant.report.model import Report
from assistant.report.stats import effect_of
from assistant.runlog import events_of, read_events
from tests.graph.conftest import brief, critique, plans, read_json, tool_choice
from tests.graph.test_integration import _run_in_sandbox
from tools.kernel import bwrap_status
from tools.results import read_results
from tools.vcs import Workspace

QUESTION = "Can CCS find a truth direction as well as a supervised probe, and at which layers?"
HYPOTHESES = [
    {
        "statement": "The supervised probe beats CCS on the same items.",
        "metric": "probe_vs_ccs",
        "predicted": "increase",
    },
    {
        "statement": "The probe reads truth above chance.",
        "metric": "probe_acc.layer_{layer}",
        "predicted": "increase",
        "null": 0.5,
    },
]
CONFIG = {
    "dataset": "strategyqa",
    "layers": [8, 16],
    "n_train": 40,
    "n_dev": 8,
    "n_test": 30,
    "ccs_restarts": 2,
    "ccs_epochs": 100,
    "max_tokens": 32,
}
VERDICT_LINE = re.compile(
    r"^- \*\*(H[\w@]+)\*\* .*?: (\*\*supported\*\*|\*\*refuted\*\*|inconclusive|insufficient evidence)"
)
WORDS = {"**supported**": "supported", "**refuted**": "refuted", "inconclusive": "inconclusive"}


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.anyio
@pytest.mark.skipif(not bwrap_status()[0], reason=f"bwrap unusable here: {bwrap_status()[1]}")
async def test_the_ccs_vs_probe_question_runs_the_probes_tool_and_reports_computed_verdicts_per_layer(
    workspace: Workspace, tmp_path: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARA_BIGBENCH_TASKS", str(shared_dir / "datasets" / "bigbench_tasks"))
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice("probes", "its card compares CCS with a supervised probe by layer"),
            plans(recipe="probes", config=CONFIG, hypotheses=HYPOTHESES),
            {
                "claims": [
                    {
                        "statement": "The probe's accuracy at layer eight is what the table shows.",
                        "about": ["probe_acc.layer_8"],
                        "stance": "describes",
                    },
                    {"statement": "The supervised probe beats CCS.", "about": ["H1"], "stance": "supports"},
                    {
                        "statement": "CCS shows a higher accuracy than the supervised linear probe.",
                        "about": ["ccs_acc.layer_8", "probe_acc.layer_8"],
                        "stance": "describes",
                        "direction": "higher",
                    },
                ],
                "limitations": ["few held-out pairs"],
            },
            critique(),
        ]
    )
    run = workspace.new_run("ccs")
    outcome = await _run_in_sandbox(
        script,
        workspace,
        run,
        tmp_path,
        QUESTION,
        budget=Budget(cells=2, debug_attempts=0, followups=0),
        host_cache_dir=workspace.path / ".ara" / "cache",
    )
    script.assert_done()
    assert outcome.status == "done", outcome
    events = read_events(run.events_path)
    [chosen] = events_of(events, ToolChosen)
    assert chosen.chosen == "probes"
    assert "probes" in chosen.offered, "the shortlist offered the probes tool for this question"
    # the plan fits StrategyQA as proposed; its probe-vs-CCS prediction leaves the card's main comparison (CCS
    # against zero-shot) untested, so that is registered beside it: the only adjustment
    [adjusted] = events_of(events, PlanAdjusted)
    assert adjusted.change.startswith(
        "the plan's hypotheses do not test probes's main comparison; registered it as well before the run: H3 "
    )
    [cell] = events_of(events, CellExecuted)
    assert (cell.status, cell.error) == ("ok", None)

    results = read_results(run.path / "results.json")
    assert results.tool == "tools.probes"
    assert results.verification is not None
    assert results.verification.scored_by == "host"
    for layer in (8, 16):
        for name in (f"probe_acc.layer_{layer}", f"ccs_acc.layer_{layer}"):
            metric = results.metrics[name]
            assert (metric.over, metric.n, len(metric.values or [])) == ("items", 30, 30), name
            assert metric.ci_low is not None
            assert metric.ci_high is not None
            assert metric.ci_low <= (metric.mean or 0) <= metric.ci_high
    assert results.metrics["zero_shot_acc"].over == "items"
    steps = results.provenance["host_steps_s"]
    assert set(steps) == {"prepare_s", "kernel_s", "score_s"}
    assert results.provenance["wall_time_s"] == pytest.approx(sum(steps.values()), abs=0.01)
    assert steps["prepare_s"] > results.provenance["tool_wall_time_s"] / 10, "extraction on the host is counted"

    report = Report.model_validate_json((run.path / "report.json").read_text())
    assert report.experiment is not None
    recomputed = evaluate_hypotheses(results, report.experiment)
    assert [h.id for h in report.hypotheses] == [
        *("H1@layer_8", "H1@layer_16", "H2@layer_8", "H2@layer_16"),
        *("H3@layer_8", "H3@layer_16"),  # the main comparison, CCS vs zero-shot, registered by code
    ]
    assert [(h.id, h.verdict) for h in report.hypotheses] == [(h.id, h.verdict) for h in recomputed]
    for h in report.hypotheses[:2]:
        assert (h.over, h.n) == ("items", 30)
        assert h.method.startswith("paired percentile bootstrap over 30 items at 0.975 (Bonferroni-adjusted)")
    markdown = (run.path / "report.md").read_text()
    summary = markdown.split("## Summary", 1)[1].split("\n## ", 1)[0]
    lines = {m.group(1): m.group(2) for m in map(VERDICT_LINE.match, summary.splitlines()) if m}
    assert {k: WORDS.get(v, "insufficient") for k, v in lines.items()} == {h.id: h.verdict for h in recomputed}
    results_section = markdown.split("## Results", 1)[1].split("\n## ", 1)[0]
    for layer in (8, 16):
        assert (
            f"| probe\\_acc.layer\\_{layer} |" in results_section or f"| probe_acc.layer_{layer} |" in results_section
        )
    assert "*Table: by\\_layer*" in results_section or "*Table: by_layer*" in results_section
    h1 = [h.verdict for h in recomputed if h.id.startswith("H1@")]
    stance = next(c for c in report.claims if c.claim.about == ["H1"])
    assert stance.accepted is (set(h1) == {"supported"}), "a claim is kept only when every layer's verdict holds it"
    comparison = next(c for c in report.claims if c.claim.direction == "higher")
    effect = effect_of(results, "ccs_acc.layer_8", "probe_acc.layer_8")
    assert effect.method == "paired percentile bootstrap over 30 items"
    assert comparison.accepted is (effect.ci_low is not None and effect.ci_low > 0), comparison.reason
    table = read_json(run.path / "results.json")["tables"]["by_layer"]
    assert [row[0] for row in table["rows"]] == [8, 16]
