"""propose_experiments and approve_plan: typed plans on allow-listed recipes, then a human (or policy) decides.

Covers asking for ``ExperimentPlans`` with the evidence quoted as data, the structural checks on each plan (recipe
on the allow-list, config fields from the recipe's typed config only, citations among the retrieved keys: each
refusal logged as ``InjectionBlocked``), and the approval point: ``interrupt()`` when a person decides, the
context's policy when unattended. An approval only ever comes from the resume value or the policy, never from
model or paper text. Does not write code.
"""

from __future__ import annotations

import json
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, ValidationError

from assistant.errors import AssistantError
from assistant.events import PlanApproved, PlanProposed, PlanRejected
from assistant.graph.context import RunContext
from assistant.graph.guard import unknown_citations
from assistant.graph.nodes._common import Update, ask, log_blocked, run_dir, traced
from assistant.graph.prompts import has_markers, quote_data
from assistant.graph.state import GraphState, brief_of, plans_of
from assistant.recipes import RecipeError
from assistant.schemas import Approval, ExperimentPlan, plans_schema

FREE = "free"


class PlanError(AssistantError):
    """No proposed plan survived the structural checks, or an approval was malformed."""


def evidence_block(ctx: RunContext, state: GraphState) -> str:
    """The retrieved passages, each quoted as untrusted data under its citation key (marker attempts logged)."""
    path = run_dir(state) / "evidence.json"
    items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    for item in items:
        if has_markers(item["text"]):
            log_blocked(ctx, state, "propose_experiments", "quote_markers_in_data", f"paper text {item['key']}")
    if not items:
        return "(no papers in the library matched; plans cannot cite anything)"
    return "\n\n".join(
        f"[{item['key']}] {item['title']} ({item.get('anchor') or 'no anchor'})\n"
        + quote_data(item["text"], source=item["key"], limit=1500)
        for item in items
    )


def _checked_config(
    ctx: RunContext, state: GraphState, node: str, recipe: str, model: type[BaseModel], config: dict[str, Any]
) -> dict[str, Any]:
    """The plan's config with invalid values dropped (each logged); complete and normalised when it validates.

    A plan's config is a draft shown at approval: ``write_code`` asks for the full typed config again with the
    schema enforced, so a plan that leaves out a required field (small models often send ``{}``) is kept with what
    it did give rather than failing the run.
    """
    try:
        return model.model_validate(config).model_dump(mode="json")
    except ValidationError as err:
        errors = err.errors()
    bad = sorted({str(e["loc"][0]) for e in errors if e["loc"] and e["type"] != "missing"})
    if bad:
        log_blocked(ctx, state, node, "config_value_invalid", f"{recipe}: {bad}")
    kept = {k: v for k, v in config.items() if k not in bad}
    try:
        return model.model_validate(kept).model_dump(mode="json")
    except ValidationError:
        return kept  # only required fields are missing: write_code fills them under the schema


def check_plan(ctx: RunContext, state: GraphState, plan: ExperimentPlan, node: str) -> ExperimentPlan | None:
    """The plan with disallowed parts removed, or None when its recipe is not allowed (each refusal logged)."""
    if plan.recipe == FREE:
        if ctx.code_mode != "free":
            log_blocked(ctx, state, node, "free_code_not_allowed", f"plan {plan.title!r} asked for free code")
            return None
        config: dict[str, Any] = {}
    else:
        try:
            recipe = ctx.recipes.get(plan.recipe)
        except RecipeError as err:
            log_blocked(ctx, state, node, "unknown_recipe", str(err))
            return None
        config = dict(plan.config)
        model = recipe.load_config()
        for key in [k for k in config if k not in model.model_fields]:
            log_blocked(ctx, state, node, "config_field_not_allowed", f"{plan.recipe}.{key}={config.pop(key)!r}")
        config = _checked_config(ctx, state, node, plan.recipe, model, config)
    known = [e["key"] for e in state.get("evidence", [])]
    unknown = unknown_citations(plan.citations, known)
    for key in unknown:
        log_blocked(ctx, state, node, "citation_not_retrieved", key)
    citations = [c for c in plan.citations if c not in unknown]
    return plan.model_copy(update={"config": config, "citations": citations})


@traced("propose_experiments")
async def propose_experiments(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Ask for plans; keep those that pass the structural checks."""
    ctx = runtime.context
    brief = brief_of(state)
    recipes = ctx.recipes.describe()
    names = [r.name for r in ctx.recipes.available()]
    if ctx.code_mode == "free":
        recipes += f"\n- {FREE}: write your own Python cell (config must be empty)."
        names.append(FREE)
    proposed = await ask(
        ctx,
        state,
        node="propose_experiments",
        prompt="propose_experiments.plans",
        schema=plans_schema(names),
        question=state["question"],
        brief=brief.model_dump_json(indent=1),
        recipes=recipes,
        evidence=evidence_block(ctx, state),
    )
    kept = [p for p in (check_plan(ctx, state, plan, "propose_experiments") for plan in proposed.plans) if p]
    if not kept:
        named = ", ".join(repr(p.recipe) for p in proposed.plans)
        available = ", ".join(r.name for r in ctx.recipes.available())
        raise PlanError(
            f"none of the {len(proposed.plans)} proposed plans can run: they named {named}; available recipes: "
            f"{available}. Resume to ask again (ara resume {state['run_id']}) or use a stronger model.",
            title="No runnable plan",
        )
    plans = [p.model_dump(mode="json") for p in kept]
    ctx.runlog.append(PlanProposed(run_id=state["run_id"], plans=plans))
    return {"plans": plans}


def parse_approval(value: Any) -> Approval:
    """The resume value as an ``Approval``.

    Raises:
        PlanError: not a valid approval (the validation error is quoted).
    """
    try:
        return value if isinstance(value, Approval) else Approval.model_validate(value)
    except ValidationError as err:
        raise PlanError(f"the approval answer is not valid: {err}", title="Invalid approval") from err


@traced("approve_plan")
async def approve_plan(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """The approval point: the policy answers when unattended, else the run pauses for a person."""
    ctx = runtime.context
    approval = ctx.policy_approval()
    if approval is None:
        approval = parse_approval(
            interrupt({"kind": "plan_approval", "run_id": state["run_id"], "plans": state["plans"]})
        )
    if approval.decision == "reject":
        ctx.runlog.append(PlanRejected(run_id=state["run_id"], reviewer=approval.reviewer, comment=approval.comment))
        return {"approval": approval.model_dump(mode="json"), "status": "rejected", "failure": approval.comment}
    if approval.decision == "modify":
        if approval.plan is None:
            raise PlanError("a 'modify' approval must carry the edited plan", title="Invalid approval")
        chosen = check_plan(ctx, state, approval.plan, "approve_plan")
        if chosen is None:
            raise PlanError(
                f"the edited plan names recipe {approval.plan.recipe!r}, which is not available; available: "
                f"{', '.join(r.name for r in ctx.recipes.available())}",
                title="Invalid approval",
            )
    else:
        if not 0 <= approval.plan_index < len(state["plans"]):
            raise PlanError(
                f"plan_index {approval.plan_index} is out of range (0..{len(state['plans']) - 1})",
                title="Invalid approval",
            )
        chosen = plans_of(state)[approval.plan_index]
    ctx.runlog.append(
        PlanApproved(
            run_id=state["run_id"], reviewer=approval.reviewer, decision=approval.decision, plan_title=chosen.title
        )
    )
    return {"approval": approval.model_dump(mode="json"), "plan": chosen.model_dump(mode="json")}
