"""analyse_results: metrics are read from results.json; the model only says what they mean.

Covers reading the ``ara.results/1`` file the cell wrote, quoting its metrics to the model as data, and the
structural checks on the ``Analysis`` it returns: findings must name a metric that exists, and numbers the model
writes into prose are removed (the report takes every number from results.json). Each refusal is logged. Does not
render the report.
"""

from __future__ import annotations

import json
from typing import Any

from langgraph.runtime import Runtime

from assistant.events import ResultsRead
from assistant.graph.context import RunContext
from assistant.graph.guard import numbers_in_text, strip_numbers
from assistant.graph.nodes._common import Update, ask, log_blocked, run_dir, traced
from assistant.graph.prompts import quote_data
from assistant.graph.state import GraphState, plan_of
from assistant.schemas import Analysis, Finding
from tools.results import ResultsDocument, read_results

_FIELDS = ("value", "mean", "ci_low", "ci_high", "n")


def metric_summary(results: ResultsDocument) -> dict[str, dict[str, Any]]:
    """Each metric's scalar fields (value/mean/ci_low/ci_high/n) that results.json gave."""
    return {
        name: metric.model_dump(include=set(_FIELDS), exclude_unset=True) for name, metric in results.metrics.items()
    }


def _clean(ctx: RunContext, state: GraphState, text: str, where: str) -> str:
    found = numbers_in_text(text)
    if found:
        log_blocked(ctx, state, "analyse_results", "number_in_model_text", f"{where}: {found[:5]}")
        return strip_numbers(text)
    return text


@traced("analyse_results")
async def analyse_results(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Read the metrics and ask the model to interpret them."""
    ctx = runtime.context
    path = run_dir(state) / str(state["results_path"])
    metrics = metric_summary(read_results(path))
    ctx.runlog.append(ResultsRead(run_id=state["run_id"], path=str(path), metrics=sorted(metrics)))
    plan = plan_of(state)
    analysis = await ask(
        ctx,
        state,
        node="analyse_results",
        prompt="analyse_results.analysis",
        schema=Analysis,
        question=state["question"],
        hypothesis=plan.hypothesis,
        metrics=quote_data(json.dumps(metrics, indent=1), source=str(state["results_path"])),
    )
    findings: list[Finding] = []
    for finding in analysis.findings:
        if finding.metric not in metrics:
            log_blocked(ctx, state, "analyse_results", "unknown_metric", finding.metric)
            continue
        statement = _clean(ctx, state, finding.statement, f"finding {finding.metric}")
        findings.append(finding.model_copy(update={"statement": statement}))
    cleaned = analysis.model_copy(
        update={
            "summary": _clean(ctx, state, analysis.summary, "summary"),
            "findings": findings,
            "limitations": [_clean(ctx, state, t, "limitation") for t in analysis.limitations],
        }
    )
    return {"analysis": cleaned.model_dump(mode="json"), "metrics": metrics}
