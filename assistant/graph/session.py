"""``RunSession``: the one way to start and resume research runs, used by ``ara run``, the TUI and campaigns.

A session is opened from ``Settings`` (``async with RunSession(settings, ...) as session``). It owns the run's
dependencies (the LLM, the sandboxed kernel pool, the paper library, the workspace repository) and the
checkpointer with the compiled graph (the workspace's SQLite file, or PostgreSQL when ``ARA_DATABASE_URL`` is set,
so a run resumes on any machine), and releases what it opened when the block ends. ``new_run`` validates the
question before anything is created and makes the run directory with its commit provenance; ``start`` and
``resume`` drive the graph (``start_run`` refuses a bad question too, for callers that drive the graph directly) and
return the typed ``RunOutcome``. Callers differ only in how they answer a plan
approval and how they show progress (``listeners``); anything they do not pass (``SessionDeps``) is built from
settings, which is also the seam tests use. Does not contain loop logic (``assistant.graph.runner`` drives the
graph; nodes live in ``assistant.graph.nodes``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from langgraph.checkpoint.base import BaseCheckpointSaver

from assistant.budget import Budget, budget_from_settings
from assistant.errors import AssistantError, LLMError
from assistant.events import Event
from assistant.graph.context import ApprovalPolicy, KernelPoolLike, LibraryLike, RunContext
from assistant.graph.runner import Graph, compile_graph, open_checkpointer, resume_run, start_run
from assistant.llm.client import LLMClient
from assistant.paths import state_dir
from assistant.recipes import RecipeRegistry, default_registry
from assistant.runlog import RunLog
from assistant.schemas import Approval, CodeMode, ReportDraftMode, RunOutcome, validate_question
from assistant.settings import Settings
from assistant.subject import SubjectProxies, check_allowed
from tools.papers import PaperLibrary
from tools.vcs import RunDir, Workspace
from tools.vcs.errors import RunNotFoundError

Listener = Callable[[Event], None]
"""Called with each run-log event as it is written (progress lines, the TUI)."""

_WORKSPACE_LOCK = threading.Lock()
"""Serialises creating the workspace and run directories across a process's threads (campaign workers)."""


def code_mode_for(settings: Settings, flag: str | None = None) -> CodeMode:
    """``recipe`` or ``free``: the flag, else ``settings.run.code_mode``; ``auto`` = recipe for every model.

    Free code is offered only when asked for: offered beside a tool whose held-out scoring stays on the host, the
    default model wrote free cells for every plan of a steering and a critique question (self-reported numbers,
    and cells it could not make run), never the tool's recipe.
    """
    chosen = flag or settings.run.code_mode
    return "free" if chosen == "free" else "recipe"


def report_draft_for(settings: Settings) -> ReportDraftMode:
    """``analysis`` or ``model`` from ``settings.run.report_draft``; ``auto`` = analysis for the embedded model."""
    chosen = settings.run.report_draft
    if chosen == "auto":
        return "analysis" if settings.uses_embedded_llm else "model"
    return chosen


@dataclass(frozen=True)
class SessionDeps:
    """Dependencies a caller supplies instead of the ones built from settings (tests; the TUI's lazy LLM).

    Attributes:
        llm: A connected client; None = ``llm_factory``, else ``connect_llm(settings)``.
        llm_factory: Returns a client (or None when none can be connected) when a run first needs one.
        kernels: A kernel pool, left running when the session closes; None = the sandboxed pool from settings.
        library: A paper library, left open when the session closes; None = the workspace's library if it has
            papers.
        recipes: The recipe allow-list; None = the built-in one.
        subject: The subject model's proxies; None = from settings.
    """

    llm: LLMClient | None = None
    llm_factory: Callable[[], LLMClient | None] | None = None
    kernels: KernelPoolLike | None = None
    library: LibraryLike | None = None
    recipes: RecipeRegistry | None = None
    subject: SubjectProxies | None = None
    """The subject model's proxies; None = from ``[subject]`` settings (closed with the session either way)."""


def _library_with_papers(settings: Settings) -> PaperLibrary | None:
    from assistant.library import open_library

    library = open_library(settings)
    if library is not None and library.stats().chunks == 0:
        library.close()
        return None
    return library


class RunSession:
    """Open dependencies for research runs in one workspace; ``new_run``, ``start`` and ``resume`` use them.

    Args:
        settings: Effective settings (workspace, LLM endpoint or embedded model, kernels, papers, budgets).
        deps: Injected dependencies (anything left None is built from settings).
        approval_policy: ``ask`` pauses at plan approval; ``auto-approve`` is the unattended policy.
        code_mode: ``recipe`` or ``free``; None = ``code_mode_for(settings)``.
        budget: The runs' limits; None = from settings.
        listeners: Called with every event of every run this session drives.
        fsync_events: Force each run-log line to disk (default); off only for benchmarks that measure the loop.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        deps: SessionDeps | None = None,
        approval_policy: ApprovalPolicy = "ask",
        code_mode: CodeMode | None = None,
        budget: Budget | None = None,
        listeners: Iterable[Listener] = (),
        fsync_events: bool = True,
    ) -> None:
        self.settings = settings
        self.fsync_events = fsync_events
        self.deps = deps or SessionDeps()
        self.approval_policy: ApprovalPolicy = approval_policy
        self.code_mode: CodeMode = code_mode or code_mode_for(settings)
        self.budget = budget or budget_from_settings(settings.run, settings.llm.token_budget)
        self.listeners = list(listeners)
        self._stack: AsyncExitStack | None = None
        self._graph: Graph | None = None
        self._kernels: KernelPoolLike | None = None
        self._library: LibraryLike | None = None
        self._llm: LLMClient | None = None
        self._subject: SubjectProxies | None = None
        self._contexts: dict[str, RunContext] = {}

    # ------------------------------------------------------------------------------------------- lifetime
    async def __aenter__(self) -> Self:
        stack = AsyncExitStack()
        try:
            self._kernels = self.deps.kernels
            if self._kernels is None:
                from assistant.kernels import kernel_pool

                pool = kernel_pool(self.settings)
                stack.push_async_callback(pool.shutdown)
                self._kernels = pool
            self._library = self.deps.library
            if self._library is None:
                library = _library_with_papers(self.settings)
                if library is not None:
                    stack.callback(library.close)
                    self._library = library
            self._subject = self.deps.subject or SubjectProxies.from_settings(self.settings)
            if self._subject is not None:
                stack.callback(self._subject.close)
            database = self.settings.database.url
            if database is None:
                saver: BaseCheckpointSaver[Any] = await stack.enter_async_context(
                    open_checkpointer(self.settings.workspace)
                )
            else:
                from assistant.graph.pg_checkpoints import open_postgres_checkpointer

                saver = await stack.enter_async_context(open_postgres_checkpointer(database.get_secret_value()))
            self._graph = compile_graph(saver)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        self._graph, self._contexts = None, {}
        if stack is not None:
            await stack.aclose()

    @property
    def graph(self) -> Graph:
        """The research loop compiled over this session's checkpointer."""
        if self._graph is None:
            raise RuntimeError("RunSession is not open: use 'async with RunSession(...) as session'")
        return self._graph

    # ------------------------------------------------------------------------------------------------ runs
    def workspace(self) -> Workspace:
        """The workspace repository (created on first use)."""
        with _WORKSPACE_LOCK:
            return Workspace.open_or_create(self.settings.workspace)

    def new_run(self, question: str, *, run_id: str | None = None, slug: str | None = None) -> RunDir:
        """Validate ``question`` and make its run directory (with the workspace commit it starts from).

        Args:
            question: The research question.
            run_id: A run id fixed earlier (a campaign entry's); its directory is reused if it exists already.
            slug: Text for the proposal branch's slug (default: the question).

        Raises:
            AssistantError: the question is empty or too long, or the subject model is not on the allow-list
                (nothing is created).
        """
        validate_question(question)
        if self.settings.subject.enabled:
            check_allowed(self.settings.subject)  # refused before the run directory exists
        with _WORKSPACE_LOCK:
            workspace = Workspace.open_or_create(self.settings.workspace)
            if run_id is not None:
                try:
                    return workspace.run(run_id)
                except RunNotFoundError:
                    pass
            return workspace.new_run(slug or question.strip()[:60], run_id=run_id)

    def run_dir(self, run_id: str) -> RunDir:
        """The directory of an existing run.

        Raises:
            AssistantError: no such run in this workspace (says how to list runs).
        """
        try:
            return self.workspace().run(run_id)
        except RunNotFoundError as err:
            raise AssistantError(f"{err}. List runs with: ara runs list", title="Unknown run") from err

    async def has_checkpoint(self, run_id: str) -> bool:
        """True when ``run_id`` has started (a checkpoint exists), so ``resume`` continues it."""
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": run_id}})
        return bool(snapshot.values)

    async def start(self, run: RunDir, question: str, *, revises: int | None = None) -> RunOutcome:
        """Start ``run`` (from ``new_run``) on ``question``; returns when it pauses for an approval or ends.

        ``revises``: the proposal this run revises (its proposal is linked to that one as the next revision).
        """
        return await start_run(
            self.graph,
            self._context(run),
            run_id=run.run_id,
            question=question,
            run_dir=run.path,
            workspace=self.settings.workspace,
            workspace_commit=run.base_commit,
            workspace_dirty=run.workspace_dirty,
            revises=revises,
        )

    async def resume(self, run_id: str, approval: Approval | None = None) -> RunOutcome:
        """Continue ``run_id`` from its last checkpoint; ``approval`` answers a pending plan approval."""
        return await resume_run(self.graph, self._context(self.run_dir(run_id)), run_id, approval=approval)

    # ------------------------------------------------------------------------------------------- internals
    def _client(self) -> LLMClient:
        if self._llm is not None:
            return self._llm
        client: LLMClient | None = self.deps.llm
        if client is None and self.deps.llm_factory is not None:
            client = self.deps.llm_factory()
        elif client is None:
            from assistant.llm import connect_llm

            client = connect_llm(self.settings)
        if client is None:
            raise LLMError(
                "no language model is connected, so the research loop cannot start. Fix the endpoint (see "
                "'ara doctor') and try again.",
                title="No language model",
            )
        self._llm = client
        return client

    def _context(self, run: RunDir) -> RunContext:
        """The run's ``RunContext`` (one per run per session, so kernel sessions are reused across calls)."""
        if self._kernels is None:
            raise RuntimeError("RunSession is not open: use 'async with RunSession(...) as session'")
        ctx = self._contexts.get(run.run_id)
        if ctx is None:
            runlog = RunLog(run.path / "events.jsonl", fsync=self.fsync_events)
            runlog.listeners.extend(self.listeners)
            ctx = RunContext(
                llm=self._client(),
                runlog=runlog,
                workspace=self.workspace(),
                kernels=self._kernels,
                library=self._library,
                budget=self.budget,
                approval_policy=self.approval_policy,
                code_mode=self.code_mode,
                report_draft=report_draft_for(self.settings),
                cell_timeout_s=self.settings.kernel.cell_timeout_s,
                top_k=self.settings.papers.top_k,
                host_cache_dir=state_dir(self.settings.workspace) / "cache",
                recipes=self.deps.recipes if self.deps.recipes is not None else default_registry(),
                subject=self._subject,
            )
            self._contexts[run.run_id] = ctx
        return ctx


def run_path(settings: Settings, run_id: str) -> Path:
    """``<workspace>/runs/<run_id>`` (where a run's files and ``events.jsonl`` live)."""
    return Path(settings.workspace) / "runs" / run_id
