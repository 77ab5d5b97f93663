"""Verdicts come from code: a run's pre-registered hypotheses are judged by their intervals, and a claim that
contradicts a computed verdict is dropped and listed; such a report cannot come out verified.

Runs the synthetic weak-to-strong smoke test in process (five seeds) through the whole loop with a scripted model.
"""

from __future__ import annotations

import json

import pytest

from assistant.events import ClaimRejected, HypothesesEvaluated, ReportWritten
from assistant.llm.testing import ScriptedLLM
from assistant.runlog import events_of, read_events
from tests.graph.conftest import brief, critique, make_context, plans, start_in_memory
from tools.vcs import Workspace

QUESTION = "Run a synthetic smoke test: does the ceiling beat the weak supervisor, and is PGR positive?"
HYPOTHESES = [
    {
        "statement": "The ground-truth ceiling beats the weak supervisor.",
        "metric": "accuracy.ceiling",
        "baseline": "accuracy.weak",
        "predicted": "increase",
    },
    {
        "statement": "The weak supervisor is better than chance.",
        "metric": "accuracy.weak",
        "predicted": "increase",
        "null": 0.5,
    },
]
CONFIG = {"n_samples": 1200, "strong_model": "logreg", "seeds": [0, 1, 2, 3, 4]}


def _analysis(stance_on_h1: str) -> dict[str, object]:
    return {
        "claims": [
            {
                "statement": "The ceiling and the weak supervisor were compared on the same seeds.",
                "about": ["H1"],
                "stance": stance_on_h1,
            },
            {"statement": "The weak supervisor is better than chance.", "about": ["H2"], "stance": "supports"},
        ],
        "limitations": ["synthetic data only"],
    }


async def _run(workspace: Workspace, stance_on_h1: str) -> tuple[dict[str, object], str, object]:
    script = ScriptedLLM(
        replies=[
            brief(),
            # no tool-choice call: a smoke test asked for by name takes the smoke-test card
            plans(recipe="synthetic_w2s", config=CONFIG, hypotheses=HYPOTHESES),
            _analysis(stance_on_h1),
            critique(),
        ]
    )
    run = workspace.new_run("verdicts")
    outcome = await start_in_memory(make_context(script.client(), workspace, run.path), run, workspace, QUESTION)
    script.assert_done()
    assert outcome.status == "done", outcome
    report = json.loads((run.path / "report.json").read_text())
    return report, (run.path / "report.md").read_text(), run


@pytest.mark.anyio
async def test_hypotheses_are_judged_by_their_intervals_and_agreeing_claims_stand(workspace: Workspace) -> None:
    report, markdown, run = await _run(workspace, "supports")
    verdicts = {h["id"]: (h["verdict"], h["n"], h["over"]) for h in report["hypotheses"]}
    assert verdicts == {"H1": ("supported", 5, "seeds"), "H2": ("supported", 5, "seeds")}
    h1 = report["hypotheses"][0]
    assert h1["ci_low"] > 0, "the paired interval of ceiling - weak excludes zero"
    assert "paired percentile bootstrap over 5 seeds" in h1["method"]
    assert [c["accepted"] for c in report["claims"]] == [True, True]
    assert report["check"]["ok"] is True
    assert (
        "- **H1** The ground-truth ceiling beats the weak supervisor. Prediction `accuracy.ceiling - accuracy.weak > 0`: **supported**"
        in markdown
    )
    [evaluated] = events_of(read_events(run.path / "events.jsonl"), HypothesesEvaluated)
    assert evaluated.verdicts == {"H1": "supported", "H2": "supported"}


@pytest.mark.anyio
async def test_a_claim_that_contradicts_the_computed_verdict_cannot_be_verified(workspace: Workspace) -> None:
    report, markdown, run = await _run(workspace, "refutes")
    [h1_claim, h2_claim] = report["claims"]
    assert h1_claim["accepted"] is False
    assert "the computed verdicts disagree (H1 is supported)" in h1_claim["reason"]
    assert h2_claim["accepted"] is True
    assert report["check"]["ok"] is False
    assert [o["kind"] for o in report["check"]["offenders"]] == ["claim"]
    assert "> **UNVERIFIED: 1 problem(s) found" in markdown
    assert "~~The ceiling and the weak supervisor were compared on the same seeds.~~" in markdown
    assert "**supported**" in markdown.split("## Summary")[1].split("## ")[0], "the verdict line is code's, unchanged"
    [rejected] = events_of(read_events(run.path / "events.jsonl"), ClaimRejected)
    assert "H1 is supported" in rejected.reason
    [written] = events_of(read_events(run.path / "events.jsonl"), ReportWritten)
    assert written.verified is False
