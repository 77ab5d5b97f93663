"""The runtime context of a research run: every dependency a node may use, injected through LangGraph.

Covers ``RunContext`` (the ``context_schema`` of the graph) and the small Protocols it is typed against, so tests
pass fakes and the real ``tools.kernel``, ``tools.papers`` and ``tools.vcs`` objects fit without adapters. Nothing
here is a module global: a node reaches the LLM, the paper library, the kernels, the workspace, the budget and
the run log only through ``runtime.context``. The review functions (approve, merge) are deliberately absent: no
node can reach them. Does not cover building the graph (``assistant.graph.builder``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from assistant.budget import Budget
from assistant.llm.client import LLMClient
from assistant.recipes import RecipeRegistry, default_registry
from assistant.runlog import RunLog
from assistant.schemas import Approval, CodeMode, ReportDraftMode
from assistant.subject import SubjectProxies
from assistant.toolchoice import ToolRanker
from tools.papers.models import ResolvedCitation


class HitLike(Protocol):
    """A retrieved passage (``tools.papers.Hit``)."""

    @property
    def key(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def anchor(self) -> str: ...
    @property
    def score(self) -> float: ...


class LibraryLike(Protocol):
    """The paper library (``tools.papers.PaperLibrary``): retrieval, and the citation seam the report uses."""

    def search(self, query: str, k: int = ...) -> Sequence[HitLike]:
        """Hybrid retrieval."""
        ...

    def resolve(self, key: str) -> ResolvedCitation:
        """The paper and chunk a citation key names; raises ``tools.papers.UnknownCitationError`` when none."""
        ...


class CellResultLike(Protocol):
    """What a kernel returns for one cell (``tools.kernel.CellResult``); error fields are read when present."""

    @property
    def status(self) -> str: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...


class SessionLike(Protocol):
    """A kernel session bound to one run directory."""

    async def execute(self, code: str, timeout: float) -> CellResultLike:
        """Run one cell."""
        ...


class KernelPoolLike(Protocol):
    """A pool of sandboxed kernels (``tools.kernel.KernelPool``)."""

    async def acquire(self, run_dir: Path) -> SessionLike:
        """A session whose only writable host path is ``run_dir``."""
        ...


class ProposalLike(Protocol):
    """A proposal (``tools.vcs.Proposal``)."""

    @property
    def id(self) -> int: ...
    @property
    def branch(self) -> str: ...
    @property
    def head_commit(self) -> str: ...


class WorkspaceLike(Protocol):
    """The workspace repository (``tools.vcs.Workspace``); ``propose`` is idempotent per (run id, step)."""

    path: Path

    def propose(
        self,
        run_id: str,
        slug: str,
        summary: str,
        files_under_run_dir: Sequence[str | os.PathLike[str]],
        report_path: str | os.PathLike[str] | None,
        results: Mapping[str, Any],
        *,
        step: str = ...,
        parent_id: int | None = ...,
    ) -> ProposalLike:
        """Commit the files on ``ara/<run_id>/<slug>`` and index the proposal (or return the existing one)."""
        ...


ApprovalPolicy = Literal["ask", "auto-approve"]
STALL_BASE_S = 1800.0
"""Default time without a run-log event before the watchdog ends a node, on top of the cell timeout: a host
step (feature extraction), a cell and a scoring step can run back to back with no event in between."""


@dataclass
class RunContext:
    """Dependencies of one run (LangGraph ``context_schema``).

    Attributes:
        llm: The language model (``assistant.llm.OpenAIClient`` or a scripted one in tests).
        runlog: The run's append-only ``events.jsonl``.
        workspace: The workspace repository (proposals).
        kernels: The sandboxed kernel pool.
        library: The paper library, or None when the user has none (the report says so).
        budget: Limits of this run (usage lives in graph state).
        approval_policy: ``ask`` interrupts for a human; ``auto-approve`` is the unattended policy.
        code_mode: ``recipe`` (the model fills typed configs) or ``free`` (the model writes cells).
        report_draft: ``analysis`` (the report is assembled from the typed analysis) or ``model`` (the model writes a
            ``ReportDraft``, used when it passes the report checks).
        recipes: The allow-list of recipes.
        cell_timeout_s: Wall-clock limit for one cell.
        top_k: Passages retrieved per query.
        host_cache_dir: Cache of recipes' host steps (features, activations): ``<workspace>/.ara/cache``, outside
            every kernel; None = no cache.
        subject: The subject model's proxies (``assistant.subject``), or None.
        stall_s: Longest the run may go without writing a run-log event before the progress watchdog ends the
            node it is in (``assistant.graph.runner``); None = ``STALL_BASE_S`` plus ``cell_timeout_s``.
    """

    llm: LLMClient
    runlog: RunLog
    workspace: WorkspaceLike
    kernels: KernelPoolLike
    library: LibraryLike | None = None
    budget: Budget = field(default_factory=Budget)
    approval_policy: ApprovalPolicy = "ask"
    code_mode: CodeMode = "recipe"
    report_draft: ReportDraftMode = "analysis"
    recipes: RecipeRegistry = field(default_factory=default_registry)
    cell_timeout_s: float = 300.0
    top_k: int = 6
    host_cache_dir: Path | None = None
    stall_s: float | None = None
    subject: SubjectProxies | None = None
    """The subject model's proxies (one per run, bound into the run's local sandboxed kernels); None = kernels have
    no model endpoint."""
    followup_depth: int = 2
    """Deepest follow-up of a follow-up the search adds (``assistant.graph.nodes.followup``)."""
    sessions: dict[str, SessionLike] = field(default_factory=dict)
    """Kernel sessions opened during this process, by run directory (reused across cells)."""
    prompt_hashes: dict[str, str] = field(default_factory=dict)
    """Prompt templates already logged in this process."""
    node_tokens_start: int = 0
    """The ledger's token count when the current node started (for mid-node budget checks)."""
    ranker: ToolRanker | None = None
    """Ranks the recipes' cards against the question; built from ``recipes`` on first use when None."""

    def tool_ranker(self) -> ToolRanker:
        """The ranker over the available recipes' cards (MiniLM loads on first use)."""
        if self.ranker is None:
            self.ranker = ToolRanker(self.recipes.cards())
        return self.ranker

    def stall_limit_s(self) -> float:
        """The progress watchdog's limit (``stall_s``, or ``STALL_BASE_S`` plus the cell timeout)."""
        return self.stall_s if self.stall_s is not None else STALL_BASE_S + self.cell_timeout_s

    def policy_approval(self) -> Approval | None:
        """The unattended policy's answer, or None when a person must decide."""
        if self.approval_policy == "auto-approve":
            return Approval(decision="approve", reviewer="policy:auto-approve", comment="--auto-approve-plans")
        return None
