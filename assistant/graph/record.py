"""The run's ``ExperimentRecord``: what the loop decided and approved, as code recorded it in the graph state.

Covers building the record the report renders its methods and verdicts from (the chosen tool's card, its fit to
the question, the approved plan's frozen config and resolved hypotheses, who approved it, the retrieved passages,
the notes code made on the plan) and ``tree_view``, the experiment tree's verdicts that the analysis, follow-up and
report nodes share. Does not compute anything from the results beyond calling ``assistant.report``.
"""

from __future__ import annotations

from assistant.cards import condition_terms
from assistant.graph.context import RunContext
from assistant.graph.nodes._common import run_dir
from assistant.graph.nodes.planning import FREE
from assistant.graph.state import GraphState, approval_of, plan_of
from assistant.graph.tree import nodes_of
from assistant.graph.treeresults import TreeView, view
from assistant.recipes import RecipeRegistry
from assistant.report.model import ExperimentRecord, RelatedPaper
from assistant.schemas import ExperimentPlan
from assistant.toolchoice import Shortlist
from tools.results import read_results


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
    return record_of_plan(
        plan,
        ctx.recipes,
        shortlist,
        approved_by=approval.reviewer + (" with edits" if approval.decision == "modify" else ""),
        evidence=evidence,
        notes=list(state.get("approved_notes") or []),
    )


def record_of_plan(
    plan: ExperimentPlan,
    recipes: RecipeRegistry,
    shortlist: Shortlist | None,
    *,
    approved_by: str = "",
    evidence: list[RelatedPaper] | None = None,
    notes: list[str] | None = None,
) -> ExperimentRecord:
    """The record of ``plan`` with its tool's card from ``recipes`` (what ``experiment_record`` builds for a run;
    benches build it for plans outside a run)."""
    base = {
        "approved_by": approved_by,
        "plan_title": plan.title,
        "hypotheses": plan.hypotheses,
        "evidence": evidence or [],
        "notes": notes or [],
    }
    if plan.recipe == FREE:
        return ExperimentRecord(tool=FREE, self_reported=True, offered=False, **base)
    recipe = recipes.get(plan.recipe)
    card = recipe.card
    fit = shortlist.score_of(plan.recipe) if shortlist is not None else None
    return ExperimentRecord(
        tool=plan.recipe,
        family=card.family if card else recipe.summary,
        method=card.method if card else "",
        conditions=list(card.conditions) if card else [],
        other_conditions=sorted(
            set(condition_terms(c for c in recipes.cards() if c.name != plan.recipe).values())
            - set(card.conditions if card else [])
        ),
        knobs={k.name: k.meaning for k in card.knobs} if card else {},
        metric_over={m.name: m.over for m in card.metrics} if card else {},
        tool_fit=fit,
        offered=shortlist is None or plan.recipe in shortlist.offered,
        approved_config=dict(plan.config),
        host_fields=list(recipe.host_fields),
        self_reported=recipe.host is None,
        **base,
    )


def tree_view(ctx: RunContext, state: GraphState) -> TreeView:
    """The run's experiment tree with verdicts per experiment, read from its (merged) results.json."""
    record = experiment_record(ctx, state)
    results = read_results(run_dir(state) / str(state["results_path"]))
    plan = plan_of(state)
    card = ctx.recipes.get(plan.recipe).card if plan.recipe != FREE else None
    return view(results, record, nodes_of(state), card.seeds_field if card else None)
