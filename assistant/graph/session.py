"""Building a run's ``RunContext`` from ``Settings``: the real LLM, kernels, paper library and workspace.

Covers ``open_run_context`` (an async context manager that shuts the kernel pool and closes the library on exit),
used by ``ara run``/``ara resume`` and by the campaign runner, and the small pieces it is made of
(``open_library``, ``code_mode_for``, ``report_draft_for``; kernels come from ``assistant.kernels.kernel_pool``). Does not drive the graph (``assistant.graph.runner``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from assistant.budget import Budget
from assistant.events import Event
from assistant.graph.context import ApprovalPolicy, LibraryLike, RunContext
from assistant.kernels import kernel_pool
from assistant.paths import state_dir
from assistant.runlog import RunLog
from assistant.schemas import CodeMode, ReportDraftMode
from assistant.settings import Settings


def open_library(settings: Settings) -> LibraryLike | None:
    """The workspace's paper library, or None when it does not exist or holds no chunks."""
    store = state_dir(settings.workspace) / "papers"
    if not store.is_dir():
        return None
    from tools.papers import LibraryConfig, PaperLibrary

    library = PaperLibrary.open(store, LibraryConfig(embedding_batch_size=settings.papers.embedding_batch_size))
    if library.stats().chunks == 0:
        library.close()
        return None
    return library


def code_mode_for(settings: Settings, flag: str | None = None) -> CodeMode:
    """``recipe`` or ``free``: the flag, else ``settings.run.code_mode``; ``auto`` = recipe for the embedded model."""
    chosen = flag or settings.run.code_mode
    if chosen == "auto":
        return "recipe" if settings.uses_embedded_llm else "free"
    return "free" if chosen == "free" else "recipe"


def report_draft_for(settings: Settings) -> ReportDraftMode:
    """``analysis`` or ``model`` from ``settings.run.report_draft``; ``auto`` = analysis for the embedded model."""
    chosen = settings.run.report_draft
    if chosen == "auto":
        return "analysis" if settings.uses_embedded_llm else "model"
    return chosen


@asynccontextmanager
async def open_run_context(
    settings: Settings,
    run_path: Path,
    budget: Budget,
    *,
    approval_policy: ApprovalPolicy = "ask",
    code_mode: CodeMode | None = None,
    listeners: Iterable[Callable[[Event], None]] = (),
) -> AsyncIterator[RunContext]:
    """The dependencies of the run in ``run_path``, released when the block ends.

    Args:
        settings: Effective settings (LLM endpoint or embedded model, kernels, papers, workspace).
        run_path: ``<workspace>/runs/<run_id>`` (its ``events.jsonl`` is the run log).
        budget: The run's limits.
        approval_policy: ``ask`` pauses at plan approval; ``auto-approve`` is the unattended policy.
        code_mode: Overrides ``code_mode_for(settings)``.
        listeners: Called with each event as it is logged (progress lines, the TUI).
    """
    from assistant.llm import connect_llm
    from tools.vcs import Workspace

    runlog = RunLog(run_path / "events.jsonl")
    runlog.listeners.extend(listeners)
    pool = kernel_pool(settings)
    library = open_library(settings)
    try:
        yield RunContext(
            llm=connect_llm(settings),
            runlog=runlog,
            workspace=Workspace.open_or_create(settings.workspace),
            kernels=pool,
            library=library,
            budget=budget,
            approval_policy=approval_policy,
            code_mode=code_mode or code_mode_for(settings),
            report_draft=report_draft_for(settings),
            cell_timeout_s=settings.kernel.cell_timeout_s,
            top_k=settings.papers.top_k,
            host_cache_dir=state_dir(settings.workspace) / "cache",
        )
    finally:
        await pool.shutdown()
        close = getattr(library, "close", None)
        if close is not None:
            close()
