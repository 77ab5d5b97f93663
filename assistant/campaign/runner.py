"""Run a campaign: N entries at once, progress-based liveness, retries with backoff, budgets, deadline, clean stop.

Covers the supervisor loop around an ``EntryRunner`` (the function that runs one research-loop run for an
entry; ``assistant.campaign.entry_runner`` provides the real one). Liveness is progress, not a timer: an entry's
``Progress`` is marked by its run (every run-log event), the supervisor refreshes the queue heartbeat only of
entries that made progress within ``stall_s``, and an entry silent for longer is failed with a message saying
when it last moved (its thread is abandoned; the run keeps its checkpoint). Faults are sorted into transient (retried
with exponential backoff: LLM 429/5xx/unreachable, kernel death), per-entry (recorded as the entry's failure)
and campaign-wide (disk full: the campaign stops, resumable). A killed runner loses nothing: entries it held are
reclaimed by the next ``resume`` (dead owner) and continue their run from its checkpoint. Does not cover the
research loop or review: a campaign never approves a proposal.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from assistant.campaign.queue import CampaignQueue, EntryOutcome, EntryRecord, owner_token
from assistant.campaign.spec import ApprovalPolicy, CampaignEntry, CampaignSpec
from assistant.errors import (
    AssistantError,
    BudgetExceededError,
    EndpointResponseError,
    EndpointStatusError,
    EndpointUnreachableError,
)

log = logging.getLogger(__name__)

TRANSIENT_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class TransientError(AssistantError):
    """A fault worth retrying later (endpoint down, kernel died); raised by entry runners."""


class EntryInterrupted(AssistantError):
    """The entry stopped cleanly because the campaign is stopping (SIGTERM, deadline); it resumes later."""


class Progress:
    """When an entry last made progress (a run-log event, a finished cell) and what it was.

    Args:
        clock: The supervisor's clock (tests pass a fake one).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.last = clock()
        self.what = "started"
        self.abandoned = threading.Event()
        """Set when the supervisor gave up on the entry (no progress for ``stall_s``); the runner should stop."""

    def mark(self, what: str) -> None:
        """Record progress now (called from the entry's thread)."""
        self.last, self.what = self._clock(), what

    def idle_s(self) -> float:
        """Seconds since the last progress."""
        return self._clock() - self.last


@dataclass
class EntryContext:
    """What an entry runner gets for one attempt."""

    campaign_id: str
    entry: CampaignEntry
    run_id: str
    """The research-loop run id, fixed for the entry (a resume continues the same run and checkpoint)."""
    resume: bool
    """True when an earlier attempt of this run was interrupted or its runner died."""
    attempt: int
    policy: ApprovalPolicy
    token_budget: int | None
    stop: threading.Event
    """Set when the campaign is stopping; runners check it between steps and raise ``EntryInterrupted``."""
    deadline: datetime | None = None
    progress: Progress = field(default_factory=Progress)
    """Marked by the runner on every run-log event; the supervisor's liveness check reads it."""


class EntryRunner(Protocol):
    """Runs one entry to an outcome; raises ``TransientError``/LLM errors for retryable faults."""

    def __call__(self, ctx: EntryContext) -> EntryOutcome: ...


Classification = Literal["transient", "entry", "campaign"]


def classify(err: BaseException) -> Classification:
    """Sort a fault: retry later, fail the entry, or stop the whole campaign."""
    if isinstance(err, (TransientError, EndpointUnreachableError, EndpointResponseError)):
        return "transient"
    if isinstance(err, EndpointStatusError):
        return "transient" if err.status_code in TRANSIENT_STATUS else "entry"
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "campaign"
    return "entry"


class RunSummary(BaseModel):
    """How a ``run_campaign`` call ended."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    campaign_id: str
    stopped: bool
    """True when it stopped before every entry was final (signal, deadline, budget, disk)."""
    reason: str
    counts: dict[str, int]


@dataclass
class CampaignRunner:
    """Drive one campaign to the end (or to a clean stop).

    Args:
        queue: The persistent queue.
        campaign_id: Which campaign.
        run_entry: Runs one entry (the research loop in production, a fake in tests).
        clock: Wall clock (tests pass a fake).
        poll_s: How often the loop looks for due entries when nothing finishes.
    """

    queue: CampaignQueue
    campaign_id: str
    run_entry: EntryRunner
    clock: Callable[[], float] = time.time
    poll_s: float = 0.5
    stop: threading.Event = field(default_factory=threading.Event)
    owner: str = field(default_factory=owner_token)
    stop_reason: str = ""
    _started: float = 0.0
    _live: dict[str, Progress] = field(default_factory=dict)
    _last_beat: float = 0.0
    _abandoned: bool = False
    """An entry's thread was given up on (it may still be blocked): the pool is not joined at the end."""

    def request_stop(self, reason: str) -> None:
        """Stop claiming; running entries are asked to stop at their next step."""
        if not self.stop.is_set():
            log.warning("campaign %s stopping: %s", self.campaign_id, reason)
            self.stop_reason = reason
            self.stop.set()

    @contextlib.contextmanager
    def signals_stop_it(self) -> Iterator[None]:
        """While inside, SIGTERM and SIGINT stop the campaign cleanly (main thread only); the previous handlers
        come back on exit, so a process that goes on (a test session, a caller) keeps its own Ctrl-C."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            self.request_stop(f"received {signal.Signals(signum).name}")

        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            for number, old in previous.items():
                signal.signal(number, old)

    def _budget_exhausted(self, spec: CampaignSpec) -> str | None:
        record = self.queue.get(self.campaign_id)
        b = spec.budgets
        if b.tokens is not None and record.tokens >= b.tokens:
            return f"campaign token budget exhausted ({record.tokens} of {b.tokens})"
        if b.dollars is not None and record.dollars >= b.dollars:
            return f"campaign money budget exhausted (${record.dollars:.2f} of ${b.dollars:.2f})"
        if b.kernel_hours is not None and record.kernel_s >= b.kernel_hours * 3600:
            return f"campaign kernel-hours exhausted ({record.kernel_s / 3600:.2f} of {b.kernel_hours})"
        if b.wall_time_s is not None and record.wall_s + self._elapsed() >= b.wall_time_s:
            return f"campaign wall-time budget exhausted ({b.wall_time_s:.0f} s)"
        return None

    def _elapsed(self) -> float:
        return self.clock() - self._started

    def _check_progress(self, spec: CampaignSpec, running: dict[Future[None], str], *, force: bool = False) -> None:
        """Refresh the heartbeat of entries that made progress within ``stall_s``; fail the ones that did not.

        ``force`` beats now (before claiming: ``claim`` takes over a silent entry, even this runner's own).
        """
        now = self.clock()
        if not force and now - self._last_beat < spec.heartbeat_s:
            return
        self._last_beat = now
        alive = [entry_id for entry_id, progress in self._live.items() if progress.idle_s() <= spec.stall_s]
        self.queue.heartbeat(self.campaign_id, self.owner, alive)
        for entry_id, progress in list(self._live.items()):
            if entry_id in alive:
                continue
            detail = (
                f"no progress for {progress.idle_s():.0f} s (last: {progress.what}; the limit is {spec.stall_s:.0f} s):"
                " the run stopped answering and was abandoned; its last finished step is checkpointed"
            )
            log.error("entry %s: %s", entry_id, detail)
            progress.abandoned.set()
            self._abandoned = True
            self.queue.finish(self.campaign_id, entry_id, self.owner, EntryOutcome(status="failed", detail=detail))
            self._live.pop(entry_id, None)
            for future, running_id in list(running.items()):
                if running_id == entry_id:
                    del running[future]

    def _attempt(self, record: EntryRecord, resume: bool, spec: CampaignSpec) -> None:
        entry = record.entry
        ctx = EntryContext(
            campaign_id=self.campaign_id,
            entry=entry,
            run_id=record.run_id,
            resume=resume,
            attempt=record.attempts,
            policy=spec.policy,
            token_budget=entry.budget_tokens or spec.policy.max_tokens_per_run,
            stop=self.stop,
            deadline=spec.deadline,
            progress=Progress(self.clock),
        )
        self._live[entry.id] = ctx.progress
        try:
            outcome = self.run_entry(ctx)
        except EntryInterrupted as err:
            self.queue.release(self.campaign_id, entry.id, self.owner, str(err))
            return
        except BudgetExceededError as err:
            outcome = EntryOutcome(status="failed", detail=f"run budget exhausted: {err}")
        except Exception as err:  # noqa: BLE001 - the supervisor boundary: one entry's fault must not end the night
            kind = classify(err)
            if kind == "campaign":
                self.queue.release(self.campaign_id, entry.id, self.owner, f"campaign stopped: {err}")
                self.request_stop(f"{type(err).__name__}: {err} (free disk space, then 'ara campaign resume')")
                return
            if kind == "transient" and record.attempts < spec.retry.max_attempts:
                delay = spec.retry.delay(record.attempts)
                log.warning("entry %s attempt %d: %s; retry in %.0f s", entry.id, record.attempts, err, delay)
                self.queue.retry_later(self.campaign_id, entry.id, self.owner, delay, f"{type(err).__name__}: {err}")
                return
            detail = f"{type(err).__name__}: {err}"
            if kind == "transient":
                detail = f"gave up after {record.attempts} attempts; last fault {detail}"
            elif not isinstance(err, AssistantError):
                log.error("entry %s crashed:\n%s", entry.id, "".join(traceback.format_exception(err)))
                detail = f"bug: {detail} (traceback in the runner's log)"
            outcome = EntryOutcome(status="failed", detail=detail)
        finally:
            self._live.pop(entry.id, None)
        self.queue.finish(self.campaign_id, entry.id, self.owner, outcome)

    def run(self) -> RunSummary:
        """Run until every entry is final, or stop cleanly; safe to call again after a crash (``resume``)."""
        record = self.queue.get(self.campaign_id)
        spec = record.spec
        self._started = self.clock()
        self.queue.set_status(self.campaign_id, "running")
        self.queue.requeue_skipped(self.campaign_id)
        stale_after = 3 * spec.heartbeat_s
        running: dict[Future[None], str] = {}
        pool = ThreadPoolExecutor(max_workers=spec.concurrency, thread_name_prefix="campaign")
        try:
            while True:
                self._check_progress(spec, running)
                if spec.deadline is not None and self.clock() >= spec.deadline.timestamp():
                    self.request_stop(f"deadline {spec.deadline.isoformat(timespec='minutes')} reached")
                exhausted = self._budget_exhausted(spec)
                if exhausted:
                    self.request_stop(exhausted)
                if running and not self.stop.is_set() and len(running) < spec.concurrency:
                    self._check_progress(spec, running, force=True)
                while not self.stop.is_set() and len(running) < spec.concurrency:
                    claimed = self.queue.claim(self.campaign_id, self.owner, stale_after)
                    if claimed is None:
                        break
                    entry_record, resume = claimed
                    running[pool.submit(self._attempt, entry_record, resume, spec)] = entry_record.entry.id
                if not running:
                    if self.stop.is_set() or self.queue.pending(self.campaign_id) == 0:
                        break
                    due = self.queue.next_due(self.campaign_id)
                    wait_s = self.poll_s if due is None else max(0.0, min(due - self.clock(), self.poll_s * 20))
                    self.stop.wait(max(wait_s, 0.01))
                    continue
                finished, _ = wait(list(running), timeout=self.poll_s, return_when=FIRST_COMPLETED)
                for future in finished:
                    running.pop(future)
                    future.result()
        finally:
            pool.shutdown(wait=not self._abandoned, cancel_futures=True)
            self.queue.add_wall(self.campaign_id, self._elapsed())
        pending = self.queue.pending(self.campaign_id)
        if self.stop.is_set() and pending:
            self.queue.skip_remaining(self.campaign_id, f"not started: {self.stop_reason}")
            self.queue.set_status(self.campaign_id, "stopped", self.stop_reason)
        else:
            self.queue.set_status(self.campaign_id, "finished", self.stop_reason or None)
        final = self.queue.get(self.campaign_id)
        counts: dict[str, int] = {}
        for e in final.entries:
            counts[e.status] = counts.get(e.status, 0) + 1
        return RunSummary(
            campaign_id=self.campaign_id,
            stopped=final.status == "stopped",
            reason=self.stop_reason or "all entries final",
            counts=counts,
        )
