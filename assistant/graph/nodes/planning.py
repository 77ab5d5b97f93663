"""propose_experiments and approve_plan: typed plans on the chosen tool, frozen when a human (or policy) approves.

Covers asking for ``ExperimentPlans`` on the tool ``choose_tool`` picked (its card shown, the evidence quoted as
data), the structural checks on each plan (recipe on the allow-list and the chosen one, config fields from the
recipe's typed config only, citations among the retrieved keys: each refusal logged as ``InjectionBlocked``), and
making each plan final before anyone sees it (``freeze_plan``): the full validated config (the model fills what the
plan left open under the schema), hypotheses resolved against the card (a metric the tool does not produce is
refused), at least ``MIN_SEEDS`` seeds when the plan makes claims, each further experiment's config completed from
the plan's and validated. Every change is logged as ``PlanAdjusted``. Approval writes the run's experiment tree
(``assistant.graph.tree``): the main experiment and the plan's further ones.
Then the approval point: ``interrupt()`` when a person decides, the context's policy when unattended; what is
approved is what runs. An approval only ever comes from the resume value or the policy. Does not write code.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, NamedTuple

from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, ValidationError

from assistant.cards import ToolCard, conditions_needed, resolve_hypotheses
from assistant.errors import AssistantError
from assistant.events import PlanAdjusted, PlanApproved, PlanProposed, PlanRejected
from assistant.graph.context import RunContext
from assistant.graph.guard import unknown_citations
from assistant.graph.nodes._common import Update, ask, log_blocked, run_dir, traced
from assistant.graph.prompts import has_markers, quote_data
from assistant.graph.state import GraphState, brief_of, plans_of
from assistant.graph.tree import dumped, roots_from_plan
from assistant.recipes import RecipeError
from assistant.report.stats import MIN_SEEDS
from assistant.schemas import (
    MAX_HYPOTHESES,
    Approval,
    ExperimentPlan,
    Hypothesis,
    hypothesis_ids,
    plans_schema,
    threshold,
)
from tools.errors import UserInputError

FREE = "free"
PROPOSE = "propose_experiments"
log = logging.getLogger(__name__)


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


class FrozenPlan(NamedTuple):
    """A plan made final for approval, and the notes on what code changed."""

    plan: ExperimentPlan
    """Config complete and validated, hypotheses resolved, seeds raised for claims."""
    notes: list[str]
    """What changed and why (shown to the approver and in the report's methods)."""


def _adjusted(ctx: RunContext, state: GraphState, plan: ExperimentPlan, change: str, notes: list[str]) -> None:
    notes.append(change)
    ctx.runlog.append(PlanAdjusted(run_id=state["run_id"], plan_title=plan.title, change=change))


def _valid(model: type[BaseModel], config: dict[str, Any]) -> bool:
    try:
        model.model_validate(config)
    except ValidationError:
        return False
    return True


def _validated(plan: ExperimentPlan, model: type[BaseModel], config: dict[str, Any], run_id: str) -> dict[str, Any]:
    try:
        return model.model_validate(config).model_dump(mode="json")
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        raise PlanError(
            f"plan {plan.title!r}: the config for recipe {plan.recipe!r} is not valid ({problems}). Edit the plan "
            f"(ara resume {run_id} --modify plan.json) or reject it.",
            title="Invalid plan config",
        ) from err


def _fit(
    ctx: RunContext,
    state: GraphState,
    plan: ExperimentPlan,
    node: str,
    model: type[BaseModel],
    config: dict[str, Any],
    notes: list[str],
) -> dict[str, Any]:
    """``config`` fitted to its data by the recipe's host step (split sizes lowered to the dataset), each change
    noted. A dataset that cannot be read is left to the run's own host step, which names the problem."""
    recipe = ctx.recipes.get(plan.recipe)
    assert recipe.fit is not None
    try:
        changes, fit_notes = recipe.fit(model.model_validate(config))
    except (UserInputError, OSError) as err:
        log.warning("run %s: %s's split sizes were not fitted to its data: %s", state["run_id"], plan.recipe, err)
        return config
    for note in fit_notes:
        _adjusted(ctx, state, plan, note, notes)
    return _validated(plan, model, {**config, **changes}, state["run_id"]) if changes else config


DATA_FIELDS = ("dataset", "task")
"""Config fields naming the data a run reads; a question that names one of their values gets it."""
DATA_ALIASES = {"hhh_alignment": ("hhh",), "sk_breast_cancer": ("breastcancer",)}
"""Names a question uses for a value besides the value itself (underscores and case never matter)."""


_NEGATIONS = (
    ("not",),
    ("other", "than"),
    ("rather", "than"),
    ("instead", "of"),
    ("except",),
    ("excluding",),
    ("unlike",),
    ("apart", "from"),
)
"""Words before a dataset's name that say the question is not about it ("on tasks other than TruthfulQA").
'without' and 'besides' are not among them: "better with critiques than without on HHH" and "besides TruthfulQA,
also on HHH" ask about the set they name."""
_NOT_A_NEGATION = {"or", "if", "whether"}
"""Words that make a following 'not' an alternative, not an exclusion ('or not on TruthfulQA', 'if not, on HHH')."""
_FILLER = {"on", "the", "a", "an", "in", "of", "for", "with", "from"}


def _named_words(text: str) -> set[str]:
    """Lower-case words of ``text`` and their runs of two and three, joined ('truthful qa' -> 'truthfulqa'),
    leaving out a run the question negates ('other than TruthfulQA', 'not on the HHH set')."""
    tokens = re.findall(r"[a-z0-9]+", text.lower())

    def cue_ends_at(end: int) -> bool:
        for cue in _NEGATIONS:
            start = end - len(cue)
            if start >= 0 and tuple(tokens[start:end]) == cue:
                return cue != ("not",) or start == 0 or tokens[start - 1] not in _NOT_A_NEGATION
        return False

    def negated(start: int) -> bool:
        # the cue right before the name, or before up to two filler words ('not on the HHH set', 'instead of X')
        end = start
        while True:
            if cue_ends_at(end):
                return True
            if end == 0 or start - end >= 2 or tokens[end - 1] not in _FILLER:
                return False
            end -= 1

    return {"".join(tokens[i : i + k]) for k in (1, 2, 3) for i in range(len(tokens) - k + 1) if not negated(i)}


def _named_data(
    ctx: RunContext,
    state: GraphState,
    plan: ExperimentPlan,
    model: type[BaseModel],
    config: dict[str, Any],
    notes: list[str],
) -> dict[str, Any]:
    """``config`` reading the dataset the question names (noted for the approver) when the question names exactly
    one of the values a data field allows and the plan chose another: the default model planned TruthfulQA for a
    question about common misconceptions. Only at proposal; a person's edit runs as edited."""
    question = _named_words(state.get("question") or "")
    properties = model.model_json_schema().get("properties", {})
    changes: dict[str, Any] = {}
    for field in DATA_FIELDS:
        allowed = properties.get(field, {}).get("enum") if field in config else None
        if not allowed:
            continue
        named = [
            v
            for v in allowed
            if isinstance(v, str) and question & {re.sub(r"[^a-z0-9]", "", v.lower()), *DATA_ALIASES.get(v, ())}
        ]
        if len(named) == 1 and config[field] != named[0]:
            changes[field] = named[0]
    if not changes:
        return config
    if not _valid(model, {**config, **changes}):
        # the plan's other fields do not fit the named data (w2s features on a tabular set): its choice stands
        log.warning("run %s: the question names %s, which this plan's config does not fit", state["run_id"], changes)
        return config
    changed = _validated(plan, model, {**config, **changes}, state["run_id"])
    for field, value in changes.items():
        _adjusted(ctx, state, plan, f"{field} {config[field]!r} -> {value!r}: the question names {value}", notes)
    return changed


def _compared_conditions(
    ctx: RunContext,
    state: GraphState,
    plan: ExperimentPlan,
    model: type[BaseModel],
    card: ToolCard,
    config: dict[str, Any],
    notes: list[str],
) -> dict[str, Any]:
    """``config`` with the conditions its predictions compare added to its condition lists (noted for the
    approver), so the run measures both sides of what it predicts: the plan's stated hypotheses, and the card's
    main one when none of the card's main ones runs as configured, even beside a stated prediction that does (the
    default model proposed an oversight plan for a critique question that ran the judge alone, once predicting
    nothing and once only "the judge alone beats 0.5"). Only at proposal."""
    stated = list(plan.hypotheses)
    needed = [pair for h in stated for pair in conditions_needed(card, config, h)]
    families = {h.split("@", 1)[0] for h in hypothesis_ids(stated)}
    if card.main_hypothesis is not None and not card.smoke_test and len(families) < MAX_HYPOTHESES:
        # (a plan already stating four predictions gets no fifth: no condition is added for one)
        candidates = [card.main_hypothesis, *card.fallback_hypotheses]
        if not needed and not resolve_hypotheses(card, config, candidates).hypotheses:
            # the candidate that needs the fewest added conditions (a debate-only plan gets 'alone', not critiques)
            needed = min((conditions_needed(card, config, h) for h in candidates), key=len)
    fields: dict[str, list[Any]] = {}
    for field, value in needed:
        current = fields.setdefault(field, list(config.get(field) or []))
        if value not in current:
            current.append(value)
    if not fields:
        return config
    changed = _validated(plan, model, {**config, **fields}, state["run_id"])
    for field in fields:
        _adjusted(
            ctx,
            state,
            plan,
            f"{field} {config.get(field)!r} -> {changed[field]!r}: the run measures both sides of the comparison "
            "its hypothesis makes",
            notes,
        )
    return changed


def _test_of(h: Hypothesis, *, reverse: bool = False) -> tuple[str | None, str | None, str, float]:
    """What ``h`` tests: its two sides, direction and threshold (``reverse``: the same test stated the other way
    round, 'alone - critique < 0' for 'critique - alone > 0')."""
    edge = threshold(h)
    if not reverse:
        return h.metric, h.baseline, h.predicted, round(edge, 9)
    return h.baseline, h.metric, "decrease" if h.predicted == "increase" else "increase", round(-edge, 9) + 0.0


def _main_hypothesis(
    ctx: RunContext,
    state: GraphState,
    plan: ExperimentPlan,
    card: ToolCard,
    config: dict[str, Any],
    stated: list[Hypothesis],
    notes: list[str],
) -> list[Hypothesis]:
    """The card's main hypothesis (or the first fallback that runs as configured), registered before the run and
    noted for the approver when the plan's resolved predictions ``stated`` do not test it: a plan stating none gets
    it as H1 (a research run always has a prediction fixed before it runs, and a verdict computed from it); a plan
    predicting something else gets it beside its own (the default model's plan for "does a critique help the
    judge?" ran critiques but predicted only "the judge alone beats 0.5", so its report could not answer the
    question). Nothing is added when the main comparison needs conditions the plan left out."""
    assert card.main_hypothesis is not None
    if len({h.id.split("@", 1)[0] for h in stated}) >= MAX_HYPOTHESES:
        return []  # the plan already states as many predictions as a plan may hold
    # a prediction tests the main comparison when it compares the same two sides the same way against the same
    # threshold (a plan's "accuracy - random_baseline > 0.5" was refuted and left "above chance?" unanswered)
    tested = {_test_of(h) for h in stated} | {_test_of(h, reverse=True) for h in stated if h.baseline}
    taken = {h.id.split("@", 1)[0] for h in stated} | {h.id for h in plan.hypotheses}
    number = len(plan.hypotheses) + 1 if stated else 1
    while stated and f"H{number}" in taken:
        number += 1
    for main in [card.main_hypothesis, *card.fallback_hypotheses]:
        resolved = resolve_hypotheses(card, config, [main.model_copy(update={"id": f"H{number}"})]).hypotheses
        if not resolved:
            continue
        if tested & {_test_of(h) for h in resolved}:
            return []
        which = "main" if main is card.main_hypothesis else "fallback"
        against = f" - {main.baseline}" if main.baseline else ""
        what = f"H{number} '{main.statement}' ({main.metric}{against} predicted above {main.null:g})"
        if stated:
            change = (
                f"the plan's hypotheses do not test {card.name}'s {which} comparison; registered it as well before "
                f"the run: {what}"
            )
        else:
            change = (
                f"the plan states no hypothesis that {card.name} can test; registered the tool's {which} one before "
                f"the run: {what}"
            )
        _adjusted(ctx, state, plan, change, notes)
        return resolved
    if not stated:
        log.warning("run %s: no main hypothesis of %s fits this config", state["run_id"], card.name)
    return []


def freeze_plan(
    ctx: RunContext, state: GraphState, plan: ExperimentPlan, node: str, filled: dict[str, Any] | None = None
) -> FrozenPlan:
    """``plan`` made final: full validated config (``filled`` supplies fields it left open), hypotheses resolved
    against the recipe's card, seeds raised to ``MIN_SEEDS`` when it makes claims, open fields kept to real ones.

    Raises:
        PlanError: the config is still invalid (the message names the fields and says what to do).
    """
    notes: list[str] = []
    if plan.recipe == FREE:
        if plan.experiments:
            _adjusted(ctx, state, plan, "further experiments dropped: a free-code plan runs one cell", notes)
        return FrozenPlan(plan.model_copy(update={"experiments": []}), notes)
    recipe = ctx.recipes.get(plan.recipe)
    model = recipe.load_config()
    card = recipe.card
    merged = {**(filled or {}), **plan.config}
    if filled is not None and not _valid(model, merged) and _valid(model, {**plan.config, **filled}):
        # The plan's own values break a rule across fields; the model's full config (asked for under the schema,
        # which checks that rule) corrects them before anyone approves: the approver sees the corrected values.
        corrected = {**plan.config, **filled}
        changed = sorted(k for k in plan.config if k in filled and plan.config[k] != filled[k])
        for name in changed:
            _adjusted(
                ctx,
                state,
                plan,
                f"{name} {plan.config[name]!r} -> {filled[name]!r}: the plan's value was not valid",
                notes,
            )
        merged = corrected
    config = _validated(plan, model, merged, state["run_id"])
    if node == PROPOSE:
        config = _named_data(ctx, state, plan, model, config, notes)
    if recipe.fit is not None:
        config = _fit(ctx, state, plan, node, model, config, notes)
    hypotheses = list(plan.hypotheses)
    if card is not None:
        if node == PROPOSE:
            config = _compared_conditions(ctx, state, plan, model, card, config, notes)
        resolved = resolve_hypotheses(card, config, hypotheses)
        for reason in resolved.refused:
            log_blocked(ctx, state, node, "hypothesis_metric_unknown", reason)
            _adjusted(ctx, state, plan, f"hypothesis dropped: {reason}", notes)
        hypotheses = resolved.hypotheses
        if card.main_hypothesis is not None and not card.smoke_test and node == PROPOSE:
            # only before anyone has seen the plan: a plan a person edited runs with the predictions it states
            hypotheses = [*hypotheses, *_main_hypothesis(ctx, state, plan, card, config, hypotheses, notes)]
        field = card.seeds_field
        if hypotheses and field and isinstance(config.get(field), list) and len(config[field]) < MIN_SEEDS:
            current = list(config[field])
            extra = [s for s in range(MIN_SEEDS + len(current)) if s not in current][: MIN_SEEDS - len(current)]
            config = _validated(plan, model, {**config, field: current + extra}, state["run_id"])
            change = f"{field} raised from {current} to {config[field]}: a plan that makes claims runs at least"
            _adjusted(ctx, state, plan, f"{change} {MIN_SEEDS} seeds", notes)
    frozen = {k: v for k, v in config.items() if k not in recipe.host_fields}
    open_fields = [f for f in plan.open_fields if f in frozen]
    for name in sorted(set(plan.open_fields) - set(open_fields)):
        _adjusted(ctx, state, plan, f"open field {name!r} dropped: not a config field of {plan.recipe}", notes)
    experiments = []
    for spec in plan.experiments:
        try:
            full = model.model_validate({**config, **spec.config}).model_dump(mode="json")
        except ValidationError as err:
            first = err.errors()[0]
            why = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
            log_blocked(ctx, state, node, "config_value_invalid", f"experiment {spec.name!r}: {why}")
            _adjusted(ctx, state, plan, f"experiment {spec.name!r} dropped: its config is not valid ({why})", notes)
            continue
        experiments.append(spec.model_copy(update={"config": {k: v for k, v in full.items() if k in frozen}}))
    final = plan.model_copy(
        update={"config": frozen, "hypotheses": hypotheses, "open_fields": open_fields, "experiments": experiments}
    )
    return FrozenPlan(final, notes)


async def fill_config(ctx: RunContext, state: GraphState, plan: ExperimentPlan) -> dict[str, Any] | None:
    """The model's full config for a plan whose config does not validate yet (None when it already does)."""
    if plan.recipe == FREE:
        return None
    recipe = ctx.recipes.get(plan.recipe)
    model = recipe.load_config()
    try:
        model.model_validate(plan.config)
        return None
    except ValidationError:
        pass
    filled = await ask(
        ctx,
        state,
        node="propose_experiments",
        prompt="fill_config.recipe",
        schema=model,
        plan=plan.model_dump_json(indent=1),
        recipe=recipe.name,
        recipe_summary=recipe.card.describe() if recipe.card else recipe.summary,
    )
    return filled.model_dump(mode="json")


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
        specs = []
        for spec in plan.experiments:
            extra = {k: v for k, v in spec.config.items() if k in model.model_fields}
            for key in sorted(set(spec.config) - set(extra)):
                log_blocked(ctx, state, node, "config_field_not_allowed", f"{plan.recipe}.{spec.name}.{key}")
            specs.append(spec.model_copy(update={"config": extra}))
        plan = plan.model_copy(update={"experiments": specs})
    known = [e["key"] for e in state.get("evidence", [])]
    unknown = unknown_citations(plan.citations, known)
    for key in unknown:
        log_blocked(ctx, state, node, "citation_not_retrieved", key)
    citations = [c for c in plan.citations if c not in unknown]
    return plan.model_copy(update={"config": config, "citations": citations})


@traced("propose_experiments")
async def propose_experiments(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Ask for plans on the chosen tool; keep those that pass the structural checks, each made final."""
    ctx = runtime.context
    brief = brief_of(state)
    tool = state.get("tool")
    chosen = ctx.recipes.get(tool) if tool else None
    names = [chosen.name] if chosen else [r.name for r in ctx.recipes.available()]
    described = (
        (chosen.card.describe() if chosen and chosen.card else ctx.recipes.describe())
        if chosen
        else ctx.recipes.describe()
    )
    if chosen is not None:
        fields = ", ".join(chosen.config_schema().get("properties", {}))
        described += f"\n  config fields: {fields}"
    if ctx.code_mode == "free":
        described += f"\n- {FREE}: write your own Python cell (config must be empty)."
        names.append(FREE)
    proposed = await ask(
        ctx,
        state,
        node="propose_experiments",
        prompt="propose_experiments.plans",
        schema=plans_schema(names),
        question=state["question"],
        brief=brief.model_dump_json(indent=1),
        recipes=described,
        reason=str(state.get("tool_reason") or "it is the only tool"),
        evidence=evidence_block(ctx, state),
    )
    kept: list[ExperimentPlan] = []
    for plan in proposed.plans:
        if chosen is not None and plan.recipe not in (chosen.name, FREE):
            log_blocked(
                ctx, state, "propose_experiments", "recipe_not_chosen", f"{plan.recipe!r} (chosen: {chosen.name})"
            )
            continue
        checked = check_plan(ctx, state, plan, "propose_experiments")
        if checked is not None:
            kept.append(checked)
    if not kept:
        named = ", ".join(repr(p.recipe) for p in proposed.plans)
        available = ", ".join(names)
        raise PlanError(
            f"none of the {len(proposed.plans)} proposed plans can run: they named {named}; allowed here: "
            f"{available}. Resume to ask again (ara resume {state['run_id']}) or use a stronger model.",
            title="No runnable plan",
        )
    frozen = [freeze_plan(ctx, state, p, PROPOSE, await fill_config(ctx, state, p)) for p in kept]
    plans = [f.plan.model_dump(mode="json") for f in frozen]
    ctx.runlog.append(PlanProposed(run_id=state["run_id"], plans=plans))
    return {"plans": plans, "plan_notes": [f.notes for f in frozen]}


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
        checked = check_plan(ctx, state, approval.plan, "approve_plan")
        if checked is None:
            raise PlanError(
                f"the edited plan names recipe {approval.plan.recipe!r}, which is not available; available: "
                f"{', '.join(r.name for r in ctx.recipes.available())}",
                title="Invalid approval",
            )
        frozen = freeze_plan(ctx, state, checked, "approve_plan")
        chosen, notes = frozen.plan, frozen.notes
    else:
        if not 0 <= approval.plan_index < len(state["plans"]):
            raise PlanError(
                f"plan_index {approval.plan_index} is out of range (0..{len(state['plans']) - 1})",
                title="Invalid approval",
            )
        chosen = plans_of(state)[approval.plan_index]
        all_notes = state.get("plan_notes") or []
        notes = list(all_notes[approval.plan_index]) if approval.plan_index < len(all_notes) else []
        if chosen.recipe != FREE:
            # a plan proposed by an older version may not be final yet: freeze it now (no model call)
            refrozen = freeze_plan(ctx, state, chosen, "approve_plan")
            chosen, notes = refrozen.plan, notes + refrozen.notes
    ctx.runlog.append(
        PlanApproved(
            run_id=state["run_id"], reviewer=approval.reviewer, decision=approval.decision, plan_title=chosen.title
        )
    )
    return {
        "approval": approval.model_dump(mode="json"),
        "plan": chosen.model_dump(mode="json"),
        "approved_notes": notes,
        "experiments": dumped(roots_from_plan(chosen)),
        "frontier": [],
    }
