"""The run's ``ExperimentRecord``: what the loop decided and approved, as code recorded it in the graph state.

Covers building the record the report renders its methods and verdicts from (the chosen tool's card, its fit to
the question, the approved plan's frozen config and resolved hypotheses, who approved it, the retrieved passages,
the notes code made on the plan) and the one ``verdicts`` helper the analysis and report nodes share. Does not
compute anything from the results beyond calling ``assistant.report``.
"""

from __future__ import annotations

from assistant.graph.context import RunContext
from assistant.graph.nodes.planning import FREE
from assistant.graph.state import GraphState, approval_of, plan_of
from assistant.report.model import ExperimentRecord, RelatedPaper
from assistant.toolchoice import Shortlist


def experiment_record(ctx: RunContext, state: GraphState) -> ExperimentRecord:
    """The record of the approved plan of this run."""
    plan = plan_of(state)
    approval = approval_of(state)
    shortlist_data = state.get("shortlist")
    shortlist = Shortlist.model_validate(shortlist_data) if shortlist_data else None
    evidence = [
        RelatedPaper(key=str(e["key"]), title=str(e.get("title", "")), anchor=str(e.get("anchor") or ""))
        for e in state.get("evidence", [])
    ]
    base = {
        "approved_by": approval.reviewer + (" with edits" if approval.decision == "modify" else ""),
        "plan_title": plan.title,
        "hypotheses": plan.hypotheses,
        "evidence": evidence,
        "notes": list(state.get("approved_notes") or []),
    }
    if plan.recipe == FREE:
        return ExperimentRecord(tool=FREE, self_reported=True, offered=False, **base)
    recipe = ctx.recipes.get(plan.recipe)
    card = recipe.card
    fit = shortlist.score_of(plan.recipe) if shortlist is not None else None
    return ExperimentRecord(
        tool=plan.recipe,
        family=card.family if card else recipe.summary,
        method=card.method if card else "",
        conditions=list(card.conditions) if card else [],
        knobs={k.name: k.meaning for k in card.knobs} if card else {},
        metric_over={m.name: m.over for m in card.metrics} if card else {},
        tool_fit=fit,
        offered=shortlist is None or plan.recipe in shortlist.offered,
        approved_config=dict(plan.config),
        host_fields=list(recipe.host_fields),
        self_reported=recipe.host is None,
        **base,
    )
