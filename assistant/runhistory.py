"""The runs of a workspace as read back from disk: a listing per run, its events, and its report.

Covers ``list_runs`` (every ``runs/<id>/`` with a run log, newest first, each summarised from its
``events.jsonl``: question, status, tokens, cells, proposal, report) and ``read_run`` / ``read_report`` for one run.
Run directories hold files the experiment wrote, so everything is read through ``tools.runfiles.RunFiles``: no
link is followed (a run directory, a run log or a report that is a symlink is reported and skipped), only regular
files are opened, and sizes are capped (``MAX_LOG_BYTES`` of run log, ``MAX_REPORT_BYTES`` of report,
``MAX_RUNS`` runs listed). A run log line that is not an event is skipped and counted, never fatal. Used by the
TUI's Runs pane (``assistant.tui.adapters.WorkspaceRuns``). Does not start or resume runs
(``assistant.graph.session.RunSession``) and does not read the checkpoints.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.events import (
    AnyEvent,
    ApprovalRequested,
    BudgetExhausted,
    CellExecuted,
    LLMCalled,
    NodeStarted,
    ProposalCreated,
    ReportWritten,
    RunFailed,
    RunFinished,
    RunStarted,
    parse_event,
)
from tools.runfiles import RunFileError, RunFiles

log = logging.getLogger(__name__)

MAX_LOG_BYTES = 64 * 1024 * 1024
"""Largest run log read back (a long run's log with every model call is a few MB)."""
MAX_LINE_BYTES = 8 * 1024 * 1024
"""A longer run-log line is skipped (as ``assistant.runlog`` does)."""
MAX_REPORT_BYTES = 2 * 1024 * 1024
"""Largest report read back."""
MAX_RUNS = 500
"""Newest runs listed; older ones stay on disk and in ``ara runs list``."""
_RUN_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
"""A ULID, as ``tools.vcs`` names run directories."""


class RunListing(BaseModel):
    """One run as read back from its run log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    """The run's ULID."""
    question: str
    """The question it was asked."""
    status: str
    """``running`` (or interrupted without a record), ``awaiting_approval``, ``done``, ``failed``, ``stopped``,
    ``budget_exhausted``, ``rejected``..."""
    started_at: float
    """Unix time of ``RunStarted``."""
    tokens: int = 0
    """Prompt and completion tokens of every model call in the log."""
    cells: int = 0
    """Cells executed."""
    proposal_id: str | None = None
    """The change proposal the run made, if any."""
    report_path: str | None = None
    """The report, relative to the run directory (e.g. ``report.md``), once written."""
    next_node: str | None = None
    """The node a resume would start from, when the run is not done."""
    problem: str = ""
    """Why part of the log could not be read (lines skipped, a log cut at the size cap), or empty."""


class RunRecord(BaseModel):
    """One run's listing and its events, for replaying it on screen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listing: RunListing
    """The summary."""
    events: tuple[AnyEvent, ...]
    """Its run log's events, in order."""


def _report_rel(run_id: str, path: str | None) -> str | None:
    """``path`` (as events record it: ``runs/<id>/report.md`` or relative to the run) relative to the run dir."""
    if not path:
        return None
    prefix = f"runs/{run_id}/"
    rel = path[len(prefix) :] if path.startswith(prefix) else path
    if rel.startswith("/") or ".." in rel.split("/"):
        return None
    return rel


def summarise(run_id: str, events: list[AnyEvent], problem: str = "") -> RunListing | None:
    """The listing of a run from its events; None when it never started (no ``RunStarted``)."""
    started = next((e for e in events if isinstance(e, RunStarted)), None)
    if started is None:
        return None
    status, node = "running", None
    tokens = cells = 0
    proposal = report = None
    for event in events:
        if isinstance(event, NodeStarted):
            node, status = event.node, "running"
        elif isinstance(event, LLMCalled):
            tokens += event.prompt_tokens + event.completion_tokens
        elif isinstance(event, CellExecuted):
            cells += 1
        elif isinstance(event, ProposalCreated):
            proposal = event.proposal_id
        elif isinstance(event, ReportWritten):
            report = _report_rel(run_id, event.path) or report
        elif isinstance(event, RunFinished):
            status = event.status
            proposal = event.proposal_id or proposal
            report = _report_rel(run_id, event.report_path) or report
            tokens = max(tokens, event.tokens)
        elif isinstance(event, RunFailed):
            status = "stopped" if event.error == "Interrupted" else "failed"
        elif isinstance(event, BudgetExhausted):
            status = "budget_exhausted"
        elif isinstance(event, ApprovalRequested):
            status = "awaiting_approval"
    return RunListing(
        run_id=run_id,
        question=started.question,
        status=status,
        started_at=started.ts,
        tokens=tokens,
        cells=cells,
        proposal_id=proposal,
        report_path=report,
        next_node=None if status == "done" else node,
        problem=problem,
    )


def _read_events(run: RunFiles) -> tuple[list[AnyEvent], str]:
    """The events of ``run``'s log and a note on what could not be read (empty when all was read)."""
    events: list[AnyEvent] = []
    skipped = 0
    with run.open_read("events.jsonl", limit=MAX_LOG_BYTES) as handle:
        for raw in handle:
            if len(raw) > MAX_LINE_BYTES or not raw.strip():
                skipped += bool(raw.strip())
                continue
            try:
                events.append(parse_event(raw.decode("utf-8")))
            except (UnicodeDecodeError, ValidationError, ValueError):
                skipped += 1
    return events, f"{skipped} unreadable run-log line(s) skipped" if skipped else ""


def _open_run(runs: RunFiles, run_id: str) -> RunFiles:
    """The run directory ``run_id`` below ``runs``, reached without following a link."""
    if not _RUN_ID.match(run_id):
        raise RunFileError(f"{run_id!r} is not a run id (a 26-character ULID, as 'ara runs list' shows)")
    kind = runs.kind(run_id)
    if kind == "missing":
        raise FileNotFoundError(f"no run {run_id} in {runs.root}")
    if kind != "dir":
        raise RunFileError(f"{runs.root / run_id} is a {kind}, not a run directory; ara does not follow it")
    return runs.sub(run_id)


def list_runs(workspace: Path, limit: int = MAX_RUNS) -> list[RunListing]:
    """The runs of ``workspace`` with a run log, newest first (at most ``limit``).

    A run whose directory or log is a link, not a regular file, or over the size cap is left out with a warning
    in the log (naming the file); so is a log with no ``RunStarted`` (a run created but never started).
    """
    root = workspace / "runs"
    if not root.is_dir() or root.is_symlink():
        return []
    listings: list[RunListing] = []
    with RunFiles(root) as runs:
        names = sorted((n for n in runs.listdir() if _RUN_ID.match(n)), reverse=True)
        for run_id in names:
            if len(listings) >= limit:
                break
            try:
                with _open_run(runs, run_id) as run:
                    events, problem = _read_events(run)
            except FileNotFoundError:
                continue
            except RunFileError as err:
                log.warning("run %s not listed: %s", run_id, err)
                continue
            listing = summarise(run_id, events, problem)
            if listing is not None:
                listings.append(listing)
    return listings


def read_run(workspace: Path, run_id: str) -> RunRecord:
    """One run's listing and events.

    Raises:
        FileNotFoundError: no such run, or it has no run log.
        RunFileError: the run id is malformed, or its directory or log is a link, special or too large.
        ValueError: the log has no ``RunStarted`` (the run was made but never started).
    """
    with RunFiles(workspace / "runs") as runs, _open_run(runs, run_id) as run:
        events, problem = _read_events(run)
    listing = summarise(run_id, events, problem)
    if listing is None:
        raise ValueError(f"run {run_id} never started (its run log has no run_started event)")
    return RunRecord(listing=listing, events=tuple(events))


def read_report(workspace: Path, listing: RunListing) -> str:
    """The Markdown report of a run (``listing.report_path``, else ``report.md``), capped at ``MAX_REPORT_BYTES``.

    Raises:
        FileNotFoundError: the run has no report yet.
        RunFileError: the report is a link, not a regular file, or too large.
    """
    rel = listing.report_path or "report.md"
    with RunFiles(workspace / "runs") as runs, _open_run(runs, listing.run_id) as run:
        return run.read_text(rel, limit=MAX_REPORT_BYTES)
