"""analyse_results and critique: verdicts computed from results.json; the model says what they mean and what is left.

``analyse_results`` reads the ``ara.results/1`` file, computes the verdict of every pre-registered hypothesis from
the intervals (``assistant.report``; logged as ``HypothesesEvaluated``), and asks the model for claims that name
their evidence, with the metrics and verdicts quoted as data; numbers the model writes into its words are removed
(each removal logged). ``critique`` asks for a structured second look (does the experiment test the question,
which confounds remain, what follow-up would settle it); its answers go to the report's limitations and next steps.
Neither node decides anything true: claims are checked when the report is built. Does not render the report.
"""

from __future__ import annotations

import json
from typing import Any

from langgraph.runtime import Runtime

from assistant.events import HypothesesEvaluated, ResultsRead
from assistant.graph.context import RunContext
from assistant.graph.guard import numbers_in_text, strip_numbers
from assistant.graph.nodes._common import Update, ask, log_blocked, run_dir, traced
from assistant.graph.prompts import quote_data
from assistant.graph.record import experiment_record
from assistant.graph.state import GraphState, plan_of
from assistant.report.build import evaluate_hypotheses
from assistant.report.compose import evidence_text, prediction_text
from assistant.report.model import HypothesisResult
from assistant.schemas import Analysis, Critique
from tools.results import ResultsDocument, read_results

_FIELDS = ("value", "mean", "ci_low", "ci_high", "n")


def metric_summary(results: ResultsDocument) -> dict[str, dict[str, Any]]:
    """Each metric's scalar fields (value/mean/ci_low/ci_high/n) that results.json gave."""
    return {
        name: metric.model_dump(include=set(_FIELDS), exclude_unset=True) for name, metric in results.metrics.items()
    }


def verdict_lines(verdicts: list[HypothesisResult]) -> str:
    """The computed verdicts as the model reads them."""
    if not verdicts:
        return "(no hypothesis was registered before the run: make descriptive claims only)"
    return "\n".join(
        f"{h.id}: {h.statement} | prediction {prediction_text(h)} | verdict {h.verdict} | {evidence_text(h)}"
        for h in verdicts
    )


def _clean(ctx: RunContext, state: GraphState, node: str, text: str, where: str) -> str:
    found = numbers_in_text(text)
    if found:
        log_blocked(ctx, state, node, "number_in_model_text", f"{where}: {found[:5]}")
        return strip_numbers(text)
    return text


def _results(state: GraphState) -> ResultsDocument:
    return read_results(run_dir(state) / str(state["results_path"]))


@traced("analyse_results")
async def analyse_results(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Compute the verdicts, then ask the model what the results show, as claims naming their evidence."""
    ctx = runtime.context
    path = run_dir(state) / str(state["results_path"])
    results = _results(state)
    metrics = metric_summary(results)
    ctx.runlog.append(ResultsRead(run_id=state["run_id"], path=str(path), metrics=sorted(metrics)))
    verdicts = evaluate_hypotheses(results, experiment_record(ctx, state))
    ctx.runlog.append(HypothesesEvaluated(run_id=state["run_id"], verdicts={h.id: h.verdict for h in verdicts}))
    analysis = await ask(
        ctx,
        state,
        node="analyse_results",
        prompt="analyse_results.analysis",
        schema=Analysis,
        question=state["question"],
        verdicts=quote_data(verdict_lines(verdicts), source="computed verdicts"),
        metrics=quote_data(json.dumps(metrics, indent=1), source=str(state["results_path"])),
    )
    claims = [
        c.model_copy(update={"statement": _clean(ctx, state, "analyse_results", c.statement, f"claim {i}")})
        for i, c in enumerate(analysis.claims)
    ]
    limitations = [_clean(ctx, state, "analyse_results", t, "limitation") for t in analysis.limitations]
    cleaned = analysis.model_copy(update={"claims": claims, "limitations": limitations})
    return {"analysis": cleaned.model_dump(mode="json"), "metrics": metrics}


@traced("critique")
async def critique(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """A structured second look before the report: fit to the question, confounds, follow-ups."""
    ctx = runtime.context
    results = _results(state)
    verdicts = evaluate_hypotheses(results, experiment_record(ctx, state))
    review = await ask(
        ctx,
        state,
        node="critique",
        prompt="critique.review",
        schema=Critique,
        question=state["question"],
        plan=plan_of(state).model_dump_json(indent=1),
        verdicts=quote_data(verdict_lines(verdicts), source="computed verdicts"),
        metrics=quote_data(json.dumps(metric_summary(results), indent=1), source=str(state["results_path"])),
    )
    cleaned = review.model_copy(
        update={
            "why": _clean(ctx, state, "critique", review.why, "why"),
            "confounds": [_clean(ctx, state, "critique", t, "confound") for t in review.confounds],
            "follow_ups": [_clean(ctx, state, "critique", t, "follow-up") for t in review.follow_ups],
        }
    )
    return {"critique": cleaned.model_dump(mode="json")}
