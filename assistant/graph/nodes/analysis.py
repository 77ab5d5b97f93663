"""analyse_results and critique: verdicts computed from results.json; the model says what they mean and what is left.

``analyse_results`` reads the ``ara.results/1`` file (first merged across the experiment tree when the run has
several experiments: ``assistant.graph.treeresults``), computes the verdict of every pre-registered hypothesis from
the intervals (each from the experiment that answers it) (``assistant.report``; logged as ``HypothesesEvaluated``), and asks the model for claims that name
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
from assistant.graph.record import experiment_record, tree_view
from assistant.graph.state import GraphState, plan_of
from assistant.graph.tree import nodes_of
from assistant.graph.treeresults import merge_results
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


def verdict_lines(verdicts: list[HypothesisResult], tree_text: str = "") -> str:
    """The computed verdicts as the model reads them (and, for several experiments, which answered what)."""
    if not verdicts:
        return "(no hypothesis was registered before the run: make descriptive claims only)"
    lines = "\n".join(
        f"{h.id}: {h.statement} | prediction {prediction_text(h)} | verdict {h.verdict} | {evidence_text(h)}"
        for h in verdicts
    )
    return lines + (f"\n{tree_text}" if tree_text else "")


def _clean(ctx: RunContext, state: GraphState, node: str, text: str, where: str) -> str:
    found = numbers_in_text(text)
    if found:
        log_blocked(ctx, state, node, "number_in_model_text", f"{where}: {found[:5]}")
        return strip_numbers(text)
    return text


def _results(state: GraphState) -> ResultsDocument:
    return read_results(run_dir(state) / str(state["results_path"]))


def run_verdicts(ctx: RunContext, state: GraphState, results: ResultsDocument) -> tuple[list[HypothesisResult], str]:
    """The hypotheses' verdicts (across the experiment tree when it has several experiments: each from the
    experiment that answers it) and, for several experiments, lines on which experiment answered what."""
    tree = tree_view(ctx, state)
    if not tree.several:
        return evaluate_hypotheses(results, experiment_record(ctx, state)), ""
    lines = [f"{hid} is answered by experiment {node}" for hid, node in tree.found.answered_by.items()]
    for node in tree.nodes:
        tested = ", ".join(f"{r.id} {r.verdict}" for r in tree.per_node.get(node.id, []))
        lines.append(f"experiment {node.id} ({node.kind or node.role}, {node.status}): {tested or 'no hypothesis'}")
    for c in tree.compared:
        lines.append(f"comparison {c.experiment} - {c.baseline} on {c.metric}: {c.method}")
    return tree.found.verdicts, "\n".join(lines)


@traced("analyse_results")
async def analyse_results(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Compute the verdicts, then ask the model what the results show, as claims naming their evidence."""
    ctx = runtime.context
    path = run_dir(state) / str(state["results_path"])
    merge_results(run_dir(state), nodes_of(state))
    results = _results(state)
    metrics = metric_summary(results)
    ctx.runlog.append(ResultsRead(run_id=state["run_id"], path=str(path), metrics=sorted(metrics)))
    verdicts, tree_text = run_verdicts(ctx, state, results)
    ctx.runlog.append(HypothesesEvaluated(run_id=state["run_id"], verdicts={h.id: h.verdict for h in verdicts}))
    analysis = await ask(
        ctx,
        state,
        node="analyse_results",
        prompt="analyse_results.analysis",
        schema=Analysis,
        question=state["question"],
        verdicts=quote_data(verdict_lines(verdicts, tree_text), source="computed verdicts"),
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
    verdicts, tree_text = run_verdicts(ctx, state, results)
    review = await ask(
        ctx,
        state,
        node="critique",
        prompt="critique.review",
        schema=Critique,
        question=state["question"],
        plan=plan_of(state).model_dump_json(indent=1),
        verdicts=quote_data(verdict_lines(verdicts, tree_text), source="computed verdicts"),
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
