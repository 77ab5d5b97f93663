"""Past-tense events of a research run, as written to its ``events.jsonl``.

Covers the event records (one class per kind, discriminated by ``type``) and ``parse_event``. The TUI and the
CLI's progress lines read these; tests assert on them. Does not cover writing or reading files
(``assistant.runlog``).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Event(BaseModel):
    """Common fields of every event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    """The run the event belongs to."""
    ts: float = Field(default_factory=time.time)
    """Unix time when it happened."""


class RunStarted(Event):
    """A run began."""

    type: Literal["run_started"] = "run_started"
    question: str
    """The question."""
    model: str
    """LLM model name."""
    base_url: str
    """LLM endpoint."""
    code_mode: str
    """``recipe`` or ``free``."""
    budget: dict[str, float | int | None]
    """Budget limits the run started with."""
    workspace_commit: str | None = None
    """HEAD of the workspace repository, when known."""
    workspace_dirty: bool | None = None
    """Whether the workspace had uncommitted changes."""


class RunResumed(Event):
    """A run continued from its last checkpoint."""

    type: Literal["run_resumed"] = "run_resumed"
    next_node: str | None
    """Where it continues."""


class NodeStarted(Event):
    """A graph node began (again, after a resume)."""

    type: Literal["node_started"] = "node_started"
    node: str
    """Node name."""


class NodeFinished(Event):
    """A graph node returned."""

    type: Literal["node_finished"] = "node_finished"
    node: str
    """Node name."""
    duration_s: float
    """Wall time."""
    tokens: int
    """Tokens the node spent."""


class PromptLoaded(Event):
    """A prompt template was used; its hash pins the exact text."""

    type: Literal["prompt_loaded"] = "prompt_loaded"
    name: str
    """``<node>.<purpose>``."""
    sha256: str
    """Hash of the template file."""


class LLMCalled(Event):
    """One request/response with the model."""

    type: Literal["llm_called"] = "llm_called"
    node: str
    """Node that asked."""
    kind: str
    """``chat`` or ``structured``."""
    model: str
    """Model name."""
    messages: list[dict[str, Any]]
    """Messages sent."""
    response: str
    """Raw answer."""
    prompt_tokens: int
    """Prompt tokens."""
    completion_tokens: int
    """Completion tokens."""
    duration_s: float
    """Wall time."""
    attempt: int = 1
    """Structured-output attempt number."""


class EvidenceRetrieved(Event):
    """Literature search returned passages."""

    type: Literal["evidence_retrieved"] = "evidence_retrieved"
    queries: list[str]
    """Queries run."""
    keys: list[str]
    """Citation keys retrieved."""


class ToolChosen(Event):
    """The tool shortlist was ranked and a tool chosen from it, or none (the run then ends out of scope)."""

    type: Literal["tool_chosen"] = "tool_chosen"
    offered: list[str]
    """Tools the model could choose, best first."""
    scores: dict[str, float]
    """Every tool's similarity to the question."""
    chosen: str | None
    """The tool chosen, or None when no tool tests the question."""
    reason: str
    """Why (the shortlist's rule, then the model's reason)."""


class PlanAdjusted(Event):
    """Code changed a proposed plan before approval (what and why), so the approver sees the final plan."""

    type: Literal["plan_adjusted"] = "plan_adjusted"
    plan_title: str
    """The plan."""
    change: str
    """What changed and why."""


class HypothesesEvaluated(Event):
    """Code computed the verdicts of the pre-registered hypotheses from the results."""

    type: Literal["hypotheses_evaluated"] = "hypotheses_evaluated"
    verdicts: dict[str, str]
    """Hypothesis id -> supported | refuted | inconclusive | insufficient."""


class ClaimRejected(Event):
    """A model-written claim was dropped because its evidence does not hold it up."""

    type: Literal["claim_rejected"] = "claim_rejected"
    claim: str
    """The claim as written."""
    reason: str
    """Why it was dropped."""


class PlanProposed(Event):
    """The model proposed experiment plans."""

    type: Literal["plan_proposed"] = "plan_proposed"
    plans: list[dict[str, Any]]
    """The plans that passed structural checks."""


class ApprovalRequested(Event):
    """The run paused for a plan approval."""

    type: Literal["approval_requested"] = "approval_requested"
    plan_count: int
    """Plans offered."""


class PlanApproved(Event):
    """A plan was approved (possibly modified)."""

    type: Literal["plan_approved"] = "plan_approved"
    reviewer: str
    """Who approved."""
    decision: str
    """``approve`` or ``modify``."""
    plan_title: str
    """Approved plan."""


class FollowUpProposed(Event):
    """The loop chose the next experiment of the run's tree (best-first over open hypotheses)."""

    type: Literal["followup_proposed"] = "followup_proposed"
    node: str
    """The new experiment's id (``f1``, ``f2``, ...)."""
    parent: str
    """The experiment it follows up."""
    kind: str
    """``more_seeds``, ``larger_n``, ...: what changes."""
    settles: list[str]
    """Hypothesis ids it is meant to settle."""
    score: float
    """Its best-first score (expected share of open hypotheses settled, times validity)."""
    reason: str
    """Why, in one sentence."""


class PlanRejected(Event):
    """The plans were rejected; the run ends."""

    type: Literal["plan_rejected"] = "plan_rejected"
    reviewer: str
    """Who rejected."""
    comment: str
    """Why."""


class CellStarted(Event):
    """A cell was sent to a kernel."""

    type: Literal["cell_started"] = "cell_started"
    key: str
    """Idempotency key ``<run_id>:cell:<n>``."""
    index: int
    """Cell index."""


class CellExecuted(Event):
    """A cell finished (ok or not)."""

    type: Literal["cell_executed"] = "cell_executed"
    key: str
    """Idempotency key."""
    index: int
    """Cell index."""
    status: str
    """ok/error/timeout/died/aborted/blocked."""
    error: str | None = None
    """``Name: value`` for failures."""
    duration_s: float = 0.0
    """Wall time."""
    reused: bool = False
    """True when a resumed run found the finished result and did not execute again."""


class DebugAttempted(Event):
    """The model was asked to fix a failing cell."""

    type: Literal["debug_attempted"] = "debug_attempted"
    attempt: int
    """1-based attempt number."""
    error: str
    """The error being fixed."""


class InjectionBlocked(Event):
    """Structure refused something the model (or data it read) tried to do."""

    type: Literal["injection_blocked"] = "injection_blocked"
    node: str
    """Where."""
    rule: str
    """Which structural rule refused it (``unknown_recipe``, ``field_not_in_schema``, ...)."""
    detail: str
    """What was refused."""


class ResultsRead(Event):
    """Metrics were read from results.json."""

    type: Literal["results_read"] = "results_read"
    path: str
    """The results.json read."""
    metrics: list[str]
    """Metric names found."""


class ReportWritten(Event):
    """The report was written."""

    type: Literal["report_written"] = "report_written"
    path: str
    """Report path, relative to the workspace."""
    verified: bool | None = None
    """The report checker's verdict (every number traced to results.json, every citation resolved)."""
    problems: list[str] = []
    """What the checker found, when not verified."""


class ProposalCreated(Event):
    """A proposal branch exists for the run."""

    type: Literal["proposal_created"] = "proposal_created"
    proposal_id: str
    """Proposal id."""
    branch: str
    """Branch name."""
    commit: str
    """Head commit."""


class SubjectModelCalled(Event):
    """Kernel code called the subject model through the run's model proxy (refused calls included)."""

    type: Literal["subject_model_called"] = "subject_model_called"
    route: str
    """``chat`` or ``completions``."""
    model: str
    """The model name the kernel sent."""
    status: int
    """HTTP status the proxy answered."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    """True when the backend gave no usage and the tokens were estimated."""
    duration_s: float = 0.0
    refused: str | None = None
    """Why the proxy refused the call (None when it was forwarded)."""


class BudgetExhausted(Event):
    """A budget ran out; the run stopped and can be resumed with a larger budget."""

    type: Literal["budget_exhausted"] = "budget_exhausted"
    budget: str
    """tokens / cells / wall / debug."""
    detail: str
    """Used versus allowed."""


class RunFailed(Event):
    """The run stopped on an error; its checkpoint is kept."""

    type: Literal["run_failed"] = "run_failed"
    error: str
    """Error class name."""
    message: str
    """What failed and what to do."""


class RunFinished(Event):
    """The graph reached its end."""

    type: Literal["run_finished"] = "run_finished"
    status: str
    """Final status."""
    proposal_id: str | None = None
    """Proposal id, if any."""
    report_path: str | None = None
    """Report path, if any."""
    tokens: int = 0
    """Tokens used in all."""


AnyEvent = Annotated[
    RunStarted
    | RunResumed
    | NodeStarted
    | NodeFinished
    | PromptLoaded
    | LLMCalled
    | EvidenceRetrieved
    | ToolChosen
    | PlanAdjusted
    | HypothesesEvaluated
    | ClaimRejected
    | PlanProposed
    | ApprovalRequested
    | PlanApproved
    | FollowUpProposed
    | PlanRejected
    | CellStarted
    | CellExecuted
    | DebugAttempted
    | InjectionBlocked
    | ResultsRead
    | ReportWritten
    | ProposalCreated
    | SubjectModelCalled
    | BudgetExhausted
    | RunFailed
    | RunFinished,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def parse_event(data: str | bytes | dict[str, Any]) -> AnyEvent:
    """Parse one event from a JSON line or a dict."""
    if isinstance(data, dict):
        return _ADAPTER.validate_python(data)
    return _ADAPTER.validate_json(data)
