"""Graph state of the research loop: small, JSON-able values only, guarded by ``SCHEMA_VERSION``.

Big things (evidence text, cell code and output, results, the report) live in the run directory and are referenced
by path or key. Pydantic records are stored as plain dicts (``model_dump(mode="json")``) so checkpoints never need
a serializer allow-list and load across code changes; bump ``SCHEMA_VERSION`` on every change of shape. Nodes read
records back through the typed readers here (``plan_of``, ``brief_of``, ...), never by validating dicts themselves.
Does not cover nodes or routing.
"""

from __future__ import annotations

from typing import Any, TypedDict

from assistant.errors import AssistantError
from assistant.schemas import Analysis, Approval, Critique, ExperimentPlan, ResearchBrief

SCHEMA_VERSION = 3
"""Bump when a key is added, removed or changes meaning; old checkpoints are then refused with a clear message."""
READABLE_VERSIONS = (1, 2, 3)
"""Versions this code resumes: version 1 lacks the keys version 2 added, version 2 lacks the experiment tree
(``experiments``, ``frontier``, ``followup_stop``) that version 3 added; all are optional here and read as a one-experiment run
(``assistant.graph.tree.nodes_of``), nothing else."""


class GraphState(TypedDict, total=False):
    """The research loop's state. Usage counters make budgets survive a resume."""

    schema_version: int
    run_id: str
    question: str
    run_dir: str
    workspace: str
    status: str
    failure: str | None
    brief: dict[str, Any] | None
    evidence: list[dict[str, Any]]
    shortlist: dict[str, Any] | None
    tool: str | None
    tool_reason: str | None
    plans: list[dict[str, Any]]
    plan_notes: list[list[str]]
    approved_notes: list[str]
    approval: dict[str, Any] | None
    plan: dict[str, Any] | None
    pending_code: dict[str, Any] | None
    cells: list[dict[str, Any]]
    error_signatures: list[str]
    debug_attempts: int
    results_path: str | None
    metrics: dict[str, Any]
    analysis: dict[str, Any] | None
    critique: dict[str, Any] | None
    report_path: str | None
    proposal: dict[str, Any] | None
    experiments: list[dict[str, Any]]
    frontier: list[dict[str, Any]]
    followup_stop: str
    tokens_used: int
    cells_run: int
    wall_used_s: float
    revises: int | None
    """The proposal this run revises (``ara review revise``): its proposal links to it as ``parent_id``."""


def initial_state(run_id: str, question: str, run_dir: str, workspace: str) -> GraphState:
    """The input of a new run."""
    return GraphState(
        schema_version=SCHEMA_VERSION,
        run_id=run_id,
        question=question,
        run_dir=run_dir,
        workspace=workspace,
        status="running",
        failure=None,
        brief=None,
        evidence=[],
        shortlist=None,
        tool=None,
        tool_reason=None,
        plans=[],
        plan_notes=[],
        approved_notes=[],
        approval=None,
        plan=None,
        pending_code=None,
        cells=[],
        error_signatures=[],
        debug_attempts=0,
        results_path=None,
        metrics={},
        analysis=None,
        critique=None,
        report_path=None,
        proposal=None,
        experiments=[],
        frontier=[],
        followup_stop="",
        tokens_used=0,
        cells_run=0,
        wall_used_s=0.0,
    )


class CheckpointVersionError(AssistantError):
    """A checkpoint was written by an incompatible version of the research loop."""


def check_schema_version(values: dict[str, Any], run_id: str) -> None:
    """Refuse to resume a checkpoint whose state shape differs from this code's.

    Raises:
        CheckpointVersionError: says which version was found, which is expected and what to do.
    """
    found = values.get("schema_version")
    if found not in READABLE_VERSIONS:
        raise CheckpointVersionError(
            f"run {run_id} was checkpointed with research-loop state version {found!r}, but this ara expects "
            f"version {SCHEMA_VERSION}. Resume it with the ara release that started it, or start a new run "
            "(its files and events in <workspace>/runs/{run_id}/ are kept).".replace("{run_id}", run_id),
            title="Incompatible checkpoint",
        )


class StateError(RuntimeError):
    """A node read a record the graph has not written yet (a routing bug, never user input)."""


def _required(state: GraphState, key: str) -> Any:
    value = state.get(key)
    if value is None:
        raise StateError(f"run {state.get('run_id')}: state has no {key!r} yet (routing reached a node too early)")
    return value


def brief_of(state: GraphState) -> ResearchBrief:
    """The run's brief (the question itself as the objective before ``intake`` wrote one)."""
    return ResearchBrief.model_validate(state.get("brief") or {"objective": state["question"]})


def plans_of(state: GraphState) -> list[ExperimentPlan]:
    """The proposed plans."""
    return [ExperimentPlan.model_validate(p) for p in state.get("plans") or []]


def plan_of(state: GraphState) -> ExperimentPlan:
    """The approved plan (what runs)."""
    return ExperimentPlan.model_validate(_required(state, "plan"))


def approval_of(state: GraphState) -> Approval:
    """The recorded plan approval."""
    return Approval.model_validate(_required(state, "approval"))


def analysis_of(state: GraphState) -> Analysis:
    """The analysis of the run's results."""
    return Analysis.model_validate(_required(state, "analysis"))


def critique_of(state: GraphState) -> Critique | None:
    """The critic's second look (None before ``critique`` ran, or in a run from an older version)."""
    data = state.get("critique")
    return Critique.model_validate(data) if data else None
