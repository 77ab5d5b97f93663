"""The experiment tree of a run: the plan's experiments and the follow-ups the loop adds, as typed nodes in state.

A plan's main experiment is node ``e1``; its further experiments (``ExperimentPlan.experiments``: conditions,
ablations, controls) are ``e2``, ``e3``, ...; follow-ups are ``f1``, ``f2``, ... children of the node whose open
hypotheses they address. Each node has its own frozen config and its own results directory: ``e1`` keeps the run
directory itself (a single-experiment run looks as it always did), every other node writes
``experiments/<id>/`` (``host_dir``). Nodes run in creation order; ``active_node`` is the first one pending.
A checkpoint from before the tree existed (state version 1 or 2) has no ``experiments`` key: ``nodes_of`` reads it
as the one main node. Covers the records and the pure operations on them; results and verdicts per node are in
``assistant.graph.treeresults``, choosing follow-ups in ``assistant.graph.nodes.followup``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.graph.state import GraphState
from assistant.schemas import ExperimentPlan

PRIMARY = "e1"
"""The plan's main experiment; it writes into the run directory itself."""
EXPERIMENTS_DIR = "experiments"
"""Where every other node writes its results (``experiments/<id>/``), beside the main results."""

NodeRole = Literal["main", "condition", "ablation", "control", "follow_up"]
FollowUpKind = Literal["more_seeds", "larger_n"]
NodeStatus = Literal["pending", "done", "failed", "rejected"]


class ExperimentNode(BaseModel):
    """One experiment of the run's tree: what it runs (frozen config), why, and where its results are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    """``e1`` (main), ``e2``... (the plan's further experiments), ``f1``... (follow-ups)."""
    parent: str | None = None
    """The node a follow-up continues (None for the plan's experiments)."""
    depth: int = 0
    """0 for the plan's experiments, parent's depth + 1 for a follow-up."""
    name: str
    """Short name (the plan's experiment name, or the follow-up's kind)."""
    role: NodeRole
    """What the node is for."""
    reason: str = ""
    """Why it runs (the plan's description, or why the loop chose this follow-up)."""
    kind: FollowUpKind | None = None
    """For a follow-up: what it changes."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The frozen config the node runs with."""
    host_dir: str = "."
    """Its results directory relative to the run directory."""
    status: NodeStatus = "pending"
    """``pending`` until its cell ran ok; ``rejected`` when a person declined the follow-up."""
    settles: list[str] = Field(default_factory=list)
    """For a follow-up: the hypothesis ids it was chosen to settle."""
    score: float | None = None
    """For a follow-up: its best-first score when chosen."""

    @property
    def prefix(self) -> str:
        """Prefix of this node's metrics in the run's merged results (``""`` for the main experiment)."""
        return "" if self.id == PRIMARY else f"{self.id}/"

    @property
    def main_line(self) -> bool:
        """True for the main experiment and follow-ups that repeat it (the nodes the hypotheses are tested on)."""
        return self.role in ("main", "follow_up")


_NAME = re.compile(r"[^a-z0-9_]+")


def _clean_name(name: str, taken: set[str]) -> str:
    base = _NAME.sub("_", name.casefold()).strip("_")[:40] or "experiment"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def roots_from_plan(plan: ExperimentPlan) -> list[ExperimentNode]:
    """The plan's experiments as tree roots: the main one (``e1``, in the run directory) and each further one."""
    nodes = [ExperimentNode(id=PRIMARY, name="main", role="main", reason=plan.hypothesis, config=dict(plan.config))]
    taken = {"main"}
    for k, spec in enumerate(plan.experiments, start=2):
        name = _clean_name(spec.name, taken)
        taken.add(name)
        node_id = f"e{k}"
        nodes.append(
            ExperimentNode(
                id=node_id,
                name=name,
                role=spec.role,
                reason=spec.description,
                config=dict(spec.config),
                host_dir=f"{EXPERIMENTS_DIR}/{node_id}",
            )
        )
    return nodes


def nodes_of(state: GraphState) -> list[ExperimentNode]:
    """The run's tree in creation order; a run from before the tree existed reads as its one main node."""
    stored = state.get("experiments")
    if stored:
        return [ExperimentNode.model_validate(n) for n in stored]
    plan = state.get("plan")
    if not plan:
        return []
    done = bool(state.get("results_path"))
    return [
        ExperimentNode(
            id=PRIMARY,
            name="main",
            role="main",
            reason=str(plan.get("hypothesis", "")),
            config=dict(plan.get("config") or {}),
            status="done" if done else "pending",
        )
    ]


def dumped(nodes: list[ExperimentNode]) -> list[dict[str, Any]]:
    """Nodes as the JSON-able dicts graph state stores."""
    return [n.model_dump(mode="json") for n in nodes]


def active_node(state: GraphState) -> ExperimentNode | None:
    """The node that runs next (the first pending one), or None when every node ran."""
    return next((n for n in nodes_of(state) if n.status == "pending"), None)


def with_status(
    state: GraphState, node_id: str, status: NodeStatus, config: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The tree with ``node_id``'s status changed (as state stores it), and its config when ``config`` is given
    (the config that ran, after a debug step changed an open field: its follow-ups start from it)."""
    update: dict[str, Any] = {"status": status, **({"config": config} if config is not None else {})}
    return dumped([n.model_copy(update=update) if n.id == node_id else n for n in nodes_of(state)])


def cell_time_s(state: GraphState, node_id: str) -> float | None:
    """Wall time of the cell that completed ``node_id`` (None when no cell record names it)."""
    times = [
        float(c.get("duration_s", 0.0))
        for c in state.get("cells", [])
        if c.get("experiment") == node_id and c.get("status") == "ok"
    ]
    return times[-1] if times else None


def followup_count(nodes: list[ExperimentNode]) -> int:
    """How many follow-ups the tree holds (any status but rejected)."""
    return sum(1 for n in nodes if n.role == "follow_up" and n.status != "rejected")


def next_followup_id(nodes: list[ExperimentNode]) -> str:
    """The id of the next follow-up (``f1``, ``f2``, ...)."""
    return f"f{sum(1 for n in nodes if n.role == 'follow_up') + 1}"
