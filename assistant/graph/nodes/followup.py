"""plan_followup and approve_followup: the next experiment when a pre-registered hypothesis is still open.

After the critic, ``plan_followup`` looks at the experiment tree's verdicts (``assistant.graph.treeresults``). When
a hypothesis is inconclusive or insufficient and the budget allows (``Budget.followups``, cells, tokens left for
one more round of analysis, wall time for the chosen follow-up's cell: its parent's cell time times its factor,
within the cell time limit; depth below ``RunContext.followup_depth``), code (not the model) proposes children
of the experiments that tested it: ``more_seeds`` (the seeds list grown to ``max(2n, n + 3)``, at most
``MAX_SEEDS``) and ``larger_n`` (the first sample-size field of the config doubled), each validated against the
recipe's config. A best-first search over the tree's frontier (candidates kept across rounds, re-scored on the
latest verdicts) picks the one with the highest score: how much of the open hypotheses it is expected to settle
(an interval shrinking as one over the square root of the added seeds or items, against the distance of the estimate
from the null) times its validity (host-scored results, the critic's view of the fit to the question) and a
discount per level of depth. The chosen follow-up becomes a pending node and is logged as ``FollowUpProposed``.

``approve_followup`` is the approval point of a follow-up: the unattended policy approves (campaigns), otherwise
the run pauses with the follow-up as the one plan to approve, edit or reject; a rejection ends the search and the
report is written from what ran. Does not run the experiment (``write_code``/``run_cells`` do) or compute verdicts.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.events import FollowUpProposed, PlanApproved, PlanRejected
from assistant.graph.context import RunContext
from assistant.graph.nodes._common import Update, traced
from assistant.graph.nodes.planning import FREE, PlanError, check_plan, freeze_plan, parse_approval
from assistant.graph.record import tree_view
from assistant.graph.state import GraphState, critique_of, plan_of
from assistant.graph.tree import (
    EXPERIMENTS_DIR,
    ExperimentNode,
    FollowUpKind,
    active_node,
    cell_time_s,
    dumped,
    followup_count,
    next_followup_id,
    nodes_of,
)
from assistant.graph.treeresults import SETTLED, TreeView, open_hypotheses
from assistant.report.model import HypothesisResult
from assistant.report.stats import MIN_ITEMS, MIN_SEEDS
from assistant.schemas import ExperimentPlan, threshold

MAX_SEEDS = 10
"""Most seeds a follow-up asks for (a plan lists at most ten)."""
SIZE_FIELDS = ("n_samples", "n_items", "n_examples", "n_train", "n_test", "limit")
"""Config fields read as the sample size a ``larger_n`` follow-up doubles (the first one present)."""
DEPTH_DISCOUNT = 0.85
"""Score factor per level of depth: a deeper follow-up needs a larger expected gain to run."""


class Candidate(BaseModel):
    """A follow-up the search could run next (kept in state as the frontier)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FollowUpKind
    parent: str
    depth: int
    config: dict[str, Any]
    factor: float
    """How many times more seeds (or items) than the parent."""
    unit: str
    """``seeds`` or ``items``: what it adds."""
    change: str
    """What changes, for the reason line."""
    score: float = 0.0
    settles: list[str] = []


def _more_seeds(config: dict[str, Any], field: str | None) -> tuple[dict[str, Any], float, str] | None:
    seeds = config.get(field) if field else None
    if not isinstance(seeds, list) or not seeds or len(seeds) >= MAX_SEEDS or field is None:
        return None
    n = len(seeds)
    target = min(MAX_SEEDS, max(2 * n, n + 3))
    extra = list(itertools.islice((s for s in itertools.count() if s not in seeds), target - n))
    return {**config, field: seeds + extra}, target / n, f"{field} from {n} to {target} seeds"


def _larger_n(config: dict[str, Any]) -> tuple[dict[str, Any], float, str] | None:
    for name in SIZE_FIELDS:
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return {**config, name: value * 2}, 2.0, f"{name} from {value} to {value * 2}"
    return None


def settle_chance(result: HypothesisResult, factor: float, unit_matches: bool) -> float:
    """Rough chance that ``factor`` times the data settles ``result``: the interval's half-width shrinks by
    ``sqrt(factor)``; it settles once that is below the estimate's distance from the threshold. A metric not in
    the results, values that cannot be paired or a non-finite metric (``more_data_can_settle`` False, set where the
    verdict is computed): more of the same data cannot settle it."""
    if result.verdict in SETTLED or not result.more_data_can_settle:
        return 0.0
    weight = 1.0 if unit_matches else 0.25
    if result.estimate is None or result.ci_low is None or result.ci_high is None:
        floor = MIN_ITEMS if result.over == "items" else MIN_SEEDS
        return weight * (0.5 if result.n * factor >= floor else 0.1)
    half = (result.ci_high - result.ci_low) / 2 / math.sqrt(factor)
    distance = abs(result.estimate - threshold(result))
    return weight * (1.0 if half <= 0 else min(1.0, distance / half))


def _validity(ctx: RunContext, state: GraphState) -> float:
    plan = plan_of(state)
    host_scored = plan.recipe != FREE and ctx.recipes.get(plan.recipe).host is not None
    review = critique_of(state)
    fit = {"yes": 1.0, "partly": 0.7, "no": 0.3}[review.tests_question] if review else 1.0
    return (1.0 if host_scored else 0.6) * fit


def _candidates(ctx: RunContext, state: GraphState, tree: TreeView) -> list[Candidate]:
    """Children the tool supports of every finished main-line node that has none yet (the frontier)."""
    plan = plan_of(state)
    recipe = ctx.recipes.get(plan.recipe)
    model = recipe.load_config()
    field = recipe.card.seeds_field if recipe.card else None
    parents = {n.parent for n in tree.nodes if n.parent}
    out: list[Candidate] = []
    for node in tree.nodes:
        if not node.main_line or node.status != "done" or node.id in parents or node.depth >= ctx.followup_depth:
            continue
        options: list[tuple[FollowUpKind, tuple[dict[str, Any], float, str] | None, str]] = [
            ("more_seeds", _more_seeds(node.config, field), "seeds"),
            ("larger_n", _larger_n(node.config), "items"),
        ]
        for kind, made, unit in options:
            if made is None:
                continue
            config, factor, change = made
            try:
                config = model.model_validate(config).model_dump(mode="json")
            except ValidationError:
                continue  # the recipe does not allow that many seeds or items
            config = {k: v for k, v in config.items() if k in node.config}
            out.append(
                Candidate(
                    kind=kind,
                    parent=node.id,
                    depth=node.depth + 1,
                    config=config,
                    factor=factor,
                    unit=unit,
                    change=change,
                )
            )
    return out


def _scored(candidate: Candidate, tree: TreeView, validity: float) -> Candidate:
    results = tree.per_node.get(candidate.parent, [])
    still_open = set(open_hypotheses(tree.found))
    chances = {
        r.id: settle_chance(r, candidate.factor, (r.over or "seeds") == candidate.unit)
        for r in results
        if r.id in still_open
    }
    settles = [hid for hid, chance in chances.items() if chance > 0]
    gain = sum(chances.values()) / max(1, len(tree.found.verdicts))
    score = gain * validity * DEPTH_DISCOUNT ** (candidate.depth - 1)
    return candidate.model_copy(update={"score": round(score, 6), "settles": settles})


def _too_costly(ctx: RunContext, state: GraphState, nodes: list[ExperimentNode], candidate: Candidate) -> str:
    """A follow-up with ``factor`` times its parent's seeds or items is expected to take its parent's cell time
    times ``factor`` (an average round times ``factor`` where no cell names the parent, in a run from before cells
    did): it must fit both the run's wall time left and the cell time limit. A critique run whose first two rounds
    took 13 and 17 minutes started a follow-up of twice the items with 26 minutes left; it hit the 25-minute cell
    limit. Returns why it does not fit, or "" when it does."""
    wall = state.get("wall_used_s", 0.0)
    left = ctx.budget.wall_s - wall
    parent = cell_time_s(state, candidate.parent)
    if parent is not None:
        seconds, basis = parent * candidate.factor, f"{candidate.parent}'s cell took {parent:.0f} s"
    else:
        seconds = wall / (1 + followup_count(nodes)) * candidate.factor
        basis = f"a round has taken {wall / (1 + followup_count(nodes)):.0f} s"
    expected = f"is expected to take about {seconds:.0f} s ({basis}, times {candidate.factor:g})"
    if parent is not None and seconds > ctx.cell_timeout_s:
        return f"{expected}, more than the cell time limit of {ctx.cell_timeout_s:.0f} s"
    if seconds > left:
        return f"{expected}, and {max(0.0, left):.0f} s of wall time are left"
    return ""


def _budget_stop(ctx: RunContext, state: GraphState, nodes: list[ExperimentNode]) -> str | None:
    """Why the budget allows no further follow-up, or None."""
    budget = ctx.budget
    if followup_count(nodes) >= budget.followups:
        return f"the follow-up budget ({budget.followups}) is spent"
    if state.get("cells_run", 0) >= budget.cells:
        return "no cell is left in the run's budget"
    rounds = 1 + followup_count(nodes)
    tokens = state.get("tokens_used", 0)
    if budget.tokens is not None and budget.tokens - tokens < tokens / rounds:
        return "fewer tokens are left than one more round of analysis has cost"
    return None  # wall time: each candidate's own expected cost (``_too_costly``)


@traced("plan_followup")
async def plan_followup(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Choose the next experiment best-first when a hypothesis is open and budget remains; else say why not."""
    ctx = runtime.context
    plan = plan_of(state)
    if plan.recipe == FREE or not plan.hypotheses:
        why = "a free-code run" if plan.recipe == FREE else "no hypothesis was registered"
        return {"followup_stop": f"No follow-up: {why}."}
    tree = tree_view(ctx, state)
    still_open = open_hypotheses(tree.found)
    if not still_open:
        return {"followup_stop": "Every pre-registered hypothesis is settled.", "frontier": []}
    stop = _budget_stop(ctx, state, tree.nodes)
    if stop is not None:
        return {"followup_stop": f"{', '.join(still_open)} still open; no follow-up: {stop}."}
    validity = _validity(ctx, state)
    kept = [Candidate.model_validate(c) for c in state.get("frontier") or []]
    known = {(c.parent, c.kind) for c in kept}
    fresh = [c for c in _candidates(ctx, state, tree) if (c.parent, c.kind) not in known]
    frontier = [s for s in (_scored(c, tree, validity) for c in kept + fresh) if s.score > 0]
    if not frontier:
        return {
            "followup_stop": f"{', '.join(still_open)} still open; no follow-up the tool supports (more seeds, a "
            f"larger sample, depth below {ctx.followup_depth}) is expected to settle it.",
            "frontier": [],
        }
    refusals = {id(c): _too_costly(ctx, state, tree.nodes, c) for c in frontier}
    fitting = [c for c in frontier if not refusals[id(c)]]
    if not fitting:
        best = max(frontier, key=lambda c: c.score)
        return {
            "followup_stop": f"{', '.join(still_open)} still open; no follow-up: the best ({best.change}) "
            f"{refusals[id(best)]}.",
            "frontier": [c.model_dump(mode="json") for c in frontier],
        }
    best = max(fitting, key=lambda c: c.score)
    node_id = next_followup_id(tree.nodes)
    reason = f"{', '.join(best.settles)} open after {best.parent}; {best.change}"
    node = ExperimentNode(
        id=node_id,
        parent=best.parent,
        depth=best.depth,
        name=best.kind,
        role="follow_up",
        kind=best.kind,
        reason=reason,
        config=best.config,
        host_dir=f"{EXPERIMENTS_DIR}/{node_id}",
        settles=best.settles,
        score=best.score,
    )
    ctx.runlog.append(
        FollowUpProposed(
            run_id=state["run_id"],
            node=node_id,
            parent=best.parent,
            kind=best.kind,
            settles=best.settles,
            score=best.score,
            reason=reason,
        )
    )
    return {
        "experiments": dumped([*tree.nodes, node]),
        "frontier": [c.model_dump(mode="json") for c in frontier if c is not best],
        "plan_notes": [[f"follow-up {node_id} chosen best-first (score {best.score:.3g}): {reason}"]],
        "followup_stop": "",
    }


def followup_plan(plan: ExperimentPlan, node: ExperimentNode) -> ExperimentPlan:
    """The follow-up as a plan a person approves: the approved plan with the follow-up's config."""
    return plan.model_copy(
        update={
            "title": f"Follow-up {node.id} of {node.parent}: {node.name}"[:200],
            "method": node.reason,
            "config": node.config,
            "experiments": [],
        }
    )


@traced("approve_followup")
async def approve_followup(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """The follow-up's approval point: the policy when unattended, else the run pauses for a person."""
    ctx = runtime.context
    node = active_node(state)
    if node is None or node.role != "follow_up":
        raise RuntimeError(f"run {state['run_id']}: approve_followup reached with no pending follow-up (a graph bug)")
    proposed = followup_plan(plan_of(state), node)
    approval = ctx.policy_approval()
    if approval is None:
        approval = parse_approval(
            interrupt(
                {
                    "kind": "followup_approval",
                    "run_id": state["run_id"],
                    "node": node.id,
                    "plans": [proposed.model_dump(mode="json")],
                }
            )
        )
    nodes = nodes_of(state)
    if approval.decision == "reject":
        ctx.runlog.append(PlanRejected(run_id=state["run_id"], reviewer=approval.reviewer, comment=approval.comment))
        declined = [n.model_copy(update={"status": "rejected"}) if n.id == node.id else n for n in nodes]
        why = f": {approval.comment}" if approval.comment else ""
        return {
            "experiments": dumped(declined),
            "followup_stop": f"Follow-up {node.id} was declined by {approval.reviewer}{why}.",
        }
    config = node.config
    if approval.decision == "modify":
        if approval.plan is None:
            raise PlanError("a 'modify' approval must carry the edited plan", title="Invalid approval")
        checked = check_plan(ctx, state, approval.plan.model_copy(update={"recipe": proposed.recipe}), "approve_plan")
        if checked is None:
            raise PlanError(f"the edited follow-up of run {state['run_id']} cannot run", title="Invalid approval")
        config = freeze_plan(ctx, state, checked, "approve_plan").plan.config
    ctx.runlog.append(
        PlanApproved(
            run_id=state["run_id"], reviewer=approval.reviewer, decision=approval.decision, plan_title=proposed.title
        )
    )
    approved = [n.model_copy(update={"config": config}) if n.id == node.id else n for n in nodes]
    return {"experiments": dumped(approved)}
