"""The real backends behind the TUI's Protocols: the LangGraph research loop, the paper library, proposal review.

Covers ``GraphRunDriver`` (a thin caller of ``assistant.graph.session.RunSession``, as ``ara run`` and campaigns
are: it drives the session on a private event loop inside the app's worker thread, forwards run-log events and each
cell's output, and cancels by cancelling the graph task: the loop logs an ``Interrupted`` failure and the
checkpoint of the last finished node is kept), ``WorkspaceRuns`` (the runs on disk through
``assistant.runhistory``, replayed through the same forwarder a live run uses), ``LibraryBackend`` (``tools.papers.PaperLibrary``) and ``ReviewServiceBackend``
(``assistant.review``: decisions carry the reviewer's git identity through channel ``tui``, which the review module
counts as an interactive human). Does not cover drawing anything.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from assistant.budget import Budget
from assistant.events import CellExecuted, Event, ReportWritten, ResultsRead
from assistant.llm.client import LLMClient
from assistant.runhistory import RunListing, list_runs, read_report, read_run
from assistant.schemas import Approval, RunOutcome
from assistant.settings import Settings
from assistant.tui.backends import (
    CellOutput,
    Emit,
    OpenedRun,
    PaperHit,
    ProposalDetail,
    ProposalSummary,
    ResultTable,
)
from tools.results import ResultsFileError, read_results
from tools.runfiles import RunFileError, RunFiles

if TYPE_CHECKING:
    from assistant.graph.context import KernelPoolLike, LibraryLike
    from assistant.graph.session import RunSession
    from assistant.recipes import RecipeRegistry

log = logging.getLogger(__name__)
T = TypeVar("T")

DIFF_CHUNK_BYTES = 1 << 16


class GraphRunDriver:
    """``RunDriver`` over ``assistant.graph.session.RunSession``: one run at a time, each call on its own event loop.

    Args:
        settings: Effective settings (workspace, kernels, budgets, code mode).
        llm: The connected client, or a callable returning it (the app connects lazily).
        kernels: A kernel pool (default: the sandboxed pool ``ara run`` uses).
        library: The paper library, or None to open ``<workspace>/.ara/papers`` when it has papers.
        budget: Run limits (default: from settings).
        recipes: The recipe allow-list (default: the built-in one).
    """

    def __init__(
        self,
        settings: Settings,
        llm: LLMClient | Callable[[], LLMClient | None],
        *,
        kernels: KernelPoolLike | None = None,
        library: LibraryLike | None = None,
        budget: Budget | None = None,
        recipes: RecipeRegistry | None = None,
    ) -> None:
        from assistant.graph.session import SessionDeps

        self.settings = settings
        self.deps = SessionDeps(
            llm=None if callable(llm) else llm,
            llm_factory=llm if callable(llm) else None,
            kernels=kernels,
            library=library,
            recipes=recipes,
        )
        self.budget = budget
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None

    def _session(self, emit: Emit) -> RunSession:
        from assistant.graph.session import RunSession

        runs = self.settings.workspace / "runs"
        return RunSession(self.settings, deps=self.deps, budget=self.budget, listeners=[_forwarder(runs, emit)])

    def start(self, question: str, emit: Emit) -> RunOutcome:
        """Start a run for ``question``; returns when it pauses for approval or ends."""
        session = self._session(emit)
        run = session.new_run(question)

        async def drive() -> RunOutcome:
            async with session:
                return await session.start(run, question)

        return self._run(run.run_id, drive())

    def resume(self, run_id: str, approval: Approval | None, emit: Emit) -> RunOutcome:
        """Continue ``run_id`` (answering a pending plan approval with ``approval``)."""
        session = self._session(emit)
        session.run_dir(run_id)  # an unknown run is refused before anything starts

        async def drive() -> RunOutcome:
            async with session:
                return await session.resume(run_id, approval)

        return self._run(run_id, drive())

    def cancel(self, run_id: str) -> None:
        """Cancel the running graph task (thread safe); the run stops as ``stopped`` and can be resumed."""
        with self._lock:
            loop, task = self._loop, self._task
        if loop is not None and task is not None:
            loop.call_soon_threadsafe(task.cancel)

    def _run(self, run_id: str, drive: Coroutine[Any, Any, RunOutcome]) -> RunOutcome:
        loop = asyncio.new_event_loop()
        try:
            task = loop.create_task(drive)
            with self._lock:
                self._loop, self._task = loop, task
            try:
                return loop.run_until_complete(task)
            except asyncio.CancelledError:
                return RunOutcome(
                    run_id=run_id,
                    status="stopped",
                    failure="cancelled; the last finished step is checkpointed (press r on Runs to resume)",
                )
        finally:
            with self._lock:
                self._loop, self._task = None, None
            loop.close()


class WorkspaceRuns:
    """``RunHistory`` over ``assistant.runhistory``: the runs in ``<workspace>/runs`` as stored on disk.

    Opening a run replays its run log through ``_forwarder``, so a past run shows exactly what it showed live
    (cells, their output, results tables, figures), each file read through ``tools.runfiles``.
    """

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace

    def list(self) -> Sequence[RunListing]:
        """Runs with a run log, newest first."""
        return list_runs(self.workspace)

    def open(self, run_id: str) -> OpenedRun:
        """One run's events, each followed by the outputs it points at."""
        record = read_run(self.workspace, run_id)
        items: list[Event | CellOutput] = []
        forward = _forwarder(self.workspace / "runs", items.append)
        for event in record.events:
            forward(event)
        return OpenedRun(listing=record.listing, items=tuple(items))

    def report(self, run_id: str) -> str:
        """The run's Markdown report."""
        return read_report(self.workspace, read_run(self.workspace, run_id).listing)


def _forwarder(runs: Path, emit: Emit) -> Callable[[Event], None]:
    """A run-log listener: forward each event, then what it points at: a finished cell's output
    (``cells/NN.result.json``), results.json's tables and figures, and the figures the report drew."""

    def forward(event: Event) -> None:
        emit(event)
        run_path = runs / event.run_id
        if isinstance(event, CellExecuted):
            result = _run_json(run_path, f"cells/{event.index:02d}.result.json")
            if isinstance(result, dict):
                for stream in ("stdout", "stderr"):
                    text = result.get(stream) or ""
                    if text:
                        emit(CellOutput(run_id=event.run_id, index=event.index, stream=stream, text=text))
                for output in _rich_outputs(run_path, event.run_id, event.index, result.get("outputs") or []):
                    emit(output)
                if result.get("traceback"):
                    emit(CellOutput(run_id=event.run_id, index=event.index, stream="stderr", text=result["traceback"]))
        elif isinstance(event, ResultsRead):
            results_file = run_path / event.path
            try:
                document = read_results(results_file, below=run_path)
            except ResultsFileError as err:
                log.warning("results of run %s not shown: %s", event.run_id, err)
                return
            for name, table in document.tables.items():
                emit(
                    CellOutput(
                        run_id=event.run_id,
                        index=-1,
                        stream="table",
                        text=name,
                        path=str(results_file.resolve()),
                        table=ResultTable.of(table),
                    )
                )
            for name, rel in document.figures.items():
                path = _run_path(run_path, results_file.parent / rel)
                if path is not None:
                    emit(CellOutput(run_id=event.run_id, index=-1, stream="figure", text=name, path=str(path)))
        elif isinstance(event, ReportWritten):
            report = _run_json(run_path, "report.json")
            if isinstance(report, dict):
                for figure in report.get("figures") or []:
                    # results.json figures were forwarded with ResultsRead; these are the report's own
                    if not (isinstance(figure, dict) and figure.get("origin") == "generated" and figure.get("path")):
                        continue
                    path = _run_path(run_path, run_path / str(figure["path"]))
                    if path is not None:
                        name = f"report: {figure.get('name', path.stem)}"
                        emit(CellOutput(run_id=event.run_id, index=-1, stream="figure", text=name, path=str(path)))

    return forward


def _run_json(run_path: Path, rel: str) -> Any:
    """A run file parsed as JSON through ``tools.runfiles`` (no link followed, size capped); None when unusable."""
    try:
        with RunFiles(run_path) as files:
            return files.read_json(rel)
    except FileNotFoundError:
        return None
    except RunFileError as err:
        log.warning("not shown: %s", err)
        return None


def _run_path(run_path: Path, path: Path) -> Path | None:
    """``path`` when it is inside the run and, if it exists, a regular file reached without links (the figure viewer
    opens it; a missing one it reports), else None: a figure the kernel named can be a link to a host file."""
    try:
        rel = Path(os.path.normpath(path)).relative_to(os.path.normpath(run_path))
        with RunFiles(run_path) as files:
            if files.kind(rel) in ("file", "missing"):
                return run_path / rel
    except (ValueError, RunFileError):
        pass
    log.warning("figure %s is not a regular file inside run %s; not shown", path, run_path.name)
    return None


def _rich_outputs(run_path: Path, run_id: str, index: int, outputs: list[Any]) -> Iterator[CellOutput]:
    """What a cell displayed (``cells/NN.result.json`` ``outputs``): images as figures, values as text."""
    images = 0
    for output in outputs:
        if not isinstance(output, dict):
            continue
        kind = output.get("kind")
        path = _run_path(run_path, run_path / str(output["path"])) if output.get("path") else None
        if kind == "image/png" and path is not None:
            images += 1
            yield CellOutput(
                run_id=run_id, index=index, stream="figure", text=f"cell {index} image {images}", path=str(path)
            )
        elif output.get("text"):
            yield CellOutput(run_id=run_id, index=index, stream="display", text=str(output["text"]))
        elif "data" in output:
            yield CellOutput(run_id=run_id, index=index, stream="display", text=json.dumps(output["data"], default=str))


class LibraryBackend:
    """``PapersBackend`` over ``tools.papers.PaperLibrary`` in ``<workspace>/.ara/papers`` (opened on first use).

    The library's SQLite catalogue may only be used from the thread that opened it, while the app's workers run on
    different threads; so every library call runs on one private thread of this backend.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._library: Any = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ara-papers")

    def _call(self, fn: Callable[[Any], T]) -> T:
        return self._thread.submit(lambda: fn(self._open())).result()

    def _open(self) -> Any:
        if self._library is None:
            from assistant.library import open_library

            self._library = open_library(self.settings, create=True)
        return self._library

    def search(self, query: str, k: int) -> Sequence[PaperHit]:
        """Hybrid search with chunk text."""
        hits: Sequence[PaperHit] = self._call(lambda lib: lib.search(query, k=k))
        return hits

    def add(self, paths: Sequence[str]) -> str:
        """Ingest ``paths``; a one-line summary naming failures."""
        sources = [Path(p).expanduser() if Path(p).expanduser().exists() else p for p in paths]  # ids stay text
        report = self._call(lambda lib: lib.add_paths(sources))
        line = (
            f"added {len(report.added)} paper(s), updated {len(report.updated)}, {report.unchanged} unchanged, "
            f"{report.duplicates} duplicate(s), {report.chunks_added} chunks in {report.seconds:.1f}s"
        )
        if report.errors:
            line += "; failed: " + "; ".join(
                f"{e.path}: {e.error.removeprefix(f'{e.path}: ')}" for e in report.errors[:5]
            )
        return line

    def stats(self) -> dict[str, Any]:
        """Library counts."""
        stats: dict[str, Any] = self._call(lambda lib: lib.stats().model_dump())
        return stats

    def close(self) -> None:
        """Close the catalogue (on its own thread) if it was opened, and stop the thread."""
        if self._library is not None:
            self._thread.submit(self._library.close).result()
            self._library = None
        self._thread.shutdown()


class ReviewServiceBackend:
    """``ReviewBackend`` over ``assistant.review``; decisions use the reviewer's identity and channel ``tui``.

    Args:
        settings: Effective settings (workspace, prices for the cost line).
        reviewer: ``"Name <email>"``; None = the workspace's git ``user.name``/``user.email``.
    """

    def __init__(self, settings: Settings, reviewer: str | None = None) -> None:
        self.settings = settings
        self.reviewer = reviewer
        self._views: dict[int, Any] = {}

    def _service(self) -> Any:
        from assistant.review import ReviewService
        from tools.vcs import Workspace

        return ReviewService(Workspace.open_or_create(self.settings.workspace))

    def _authority(self) -> Any:
        from assistant.review import authorize_decision

        return authorize_decision(self.settings.workspace, explicit_reviewer=self.reviewer, interactive=False, tui=True)

    def list(self) -> Sequence[ProposalSummary]:
        """Proposals, newest first."""
        return [
            ProposalSummary(
                id=p.id,
                title=p.summary.splitlines()[0] if p.summary else "",
                status=p.status,
                branch=p.branch,
                run_id=p.run_id,
            )
            for p in self._service().proposals()
        ]

    def show(self, proposal_id: int) -> ProposalDetail:
        """Pin the head under review (as ``ara review show`` does) and gather report, results and citations."""
        service = self._service()
        identity = str(self._authority().reviewer)
        view = service.show(
            proposal_id,
            actor=identity,
            price_in_per_mtok=self.settings.llm.price_in_per_mtok,
            price_out_per_mtok=self.settings.llm.price_out_per_mtok,
        )
        self._views[proposal_id] = view
        p = view.proposal
        report = view.report or ""
        if view.warnings:
            report = "\n".join(f"> **warning:** {w}" for w in view.warnings) + "\n\n" + report
        return ProposalDetail(
            summary=ProposalSummary(
                id=p.id,
                title=p.summary.splitlines()[0] if p.summary else "",
                status=p.status,
                branch=p.branch,
                run_id=p.run_id,
            ),
            report=report,
            results={k: v for k, v in p.results.items()},
            citations=tuple(f"[{r.number}] {r.key}: {r.title}" for r in view.references),
        )

    def diff(self, proposal_id: int) -> Iterator[str]:
        """The diff of the head under review, decoded lazily chunk by chunk."""
        view = self._views.get(proposal_id)
        service = self._service()
        if view is None:
            view = service.show(proposal_id, actor=str(self._authority().reviewer))
            self._views[proposal_id] = view
        for chunk in service.iter_diff(view):
            yield chunk.decode("utf-8", "replace")

    def approve(self, proposal_id: int, comment: str) -> str:
        """Merge as the human reviewer (channel ``tui``); returns the merge commit."""
        from assistant.review import ReviewError
        from assistant.review.approve import approve

        view = self._views.get(proposal_id)
        if view is None:
            raise ReviewError("open the proposal before approving it; nothing was changed", title="Not reviewed")
        result = approve(
            self._service(), proposal_id, self._authority(), head=view.reviewed_head, comment=comment or None
        )
        return f"merged as {result.merge_commit[:12]} by {result.proposal.reviewer}"

    def reject(self, proposal_id: int, comment: str) -> str:
        """Reject with ``comment`` (required; fed back to the agent)."""
        proposal = self._service().reject(proposal_id, comment, self._authority())
        return f"rejected by {proposal.reviewer}"
