"""Campaign workers: named processes on any machine that claim entries from every running campaign.

Covers the worker records in the campaign database (name, host, pid, heartbeat, entries finished; a name is held
by one live process at a time, and a dead worker's name can be taken again at once), the ``CampaignWorker`` loop
(claim from any running campaign, run N entries at once with the campaign runner's liveness, retries and fault
sorting, beat, stop a campaign at its deadline or budget, mark a campaign finished when its last entry is final)
and what ``ara campaign status`` shows of them: every worker, its lease and its current entries. A worker that dies loses its leases; another worker
reclaims its entries (at once on the same host, after the lease on another) and resumes each run from its
checkpoint. Does not push proposals (``assistant.campaign.review_remote``) or run the research loop itself.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from assistant.campaign.queue import FINAL, CampaignQueue, owner_alive, owner_token, pid_of
from assistant.campaign.runner import CampaignRunner, EntryRunner
from assistant.campaign.spec import CampaignSpec
from assistant.errors import AssistantError

log = logging.getLogger(__name__)

WORKER_BEAT_S = 5.0
"""How often a worker refreshes its own record; it counts as gone after three missed beats."""


class WorkerNameTakenError(AssistantError):
    """Another live process already runs a worker under this name."""


class LeaseView(BaseModel):
    """One entry a worker holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    campaign_id: str
    entry_id: str
    run_id: str
    heartbeat_at: float | None
    lease_until: float | None
    """Last heartbeat plus the campaign's lease (three heartbeat intervals); after it another worker may take over."""


class WorkerView(BaseModel):
    """A worker as ``ara campaign status`` shows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    host: str
    pid: int
    state: Literal["running", "stopped", "gone"]
    """running (beating), stopped (exited cleanly) or gone (its process died or stopped beating)."""
    started_at: float
    heartbeat_at: float
    entries_done: int
    leases: list[LeaseView]


class WorkerRegistry:
    """Worker records in the campaign database."""

    def __init__(self, queue: CampaignQueue) -> None:
        self.queue = queue

    def register(self, name: str, owner: str) -> None:
        """Take ``name`` for this process. Raises ``WorkerNameTakenError`` when a live process holds it."""
        now = self.queue.clock()
        host = owner.rsplit(":", 2)[0] if owner.count(":") >= 2 else socket.gethostname()
        with self.queue.db.tx() as db:
            row = db.execute("SELECT * FROM workers WHERE name = ?" + self.queue.db.lock_row, (name,)).fetchone()
            if row is not None and row["status"] == "running" and _alive(row, now):
                raise WorkerNameTakenError(
                    f"worker '{name}' already runs on {row['host']} (pid {row['pid']}, last beat "
                    f"{now - row['heartbeat_at']:.0f} s ago); pick another name with --name, or stop that worker.",
                    title="Worker name in use",
                )
            pid = pid_of(owner) or 0
            if row is None:
                db.execute(
                    "INSERT INTO workers (name, owner, host, pid, started_at, heartbeat_at, status) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'running')",
                    (name, owner, host, pid, now, now),
                )
            else:
                db.execute(
                    "UPDATE workers SET owner = ?, host = ?, pid = ?, started_at = ?, heartbeat_at = ?, "
                    "status = 'running', stopped_at = NULL WHERE name = ?",
                    (owner, host, pid, now, now, name),
                )

    def beat(self, name: str, owner: str) -> None:
        """Refresh the worker's own heartbeat."""
        with self.queue.db.tx() as db:
            db.execute(
                "UPDATE workers SET heartbeat_at = ? WHERE name = ? AND owner = ?", (self.queue.clock(), name, owner)
            )

    def entry_done(self, name: str, owner: str) -> None:
        """Count one more entry this worker finished."""
        with self.queue.db.tx() as db:
            db.execute("UPDATE workers SET entries_done = entries_done + 1 WHERE name = ? AND owner = ?", (name, owner))

    def stopped(self, name: str, owner: str) -> None:
        """Mark the worker stopped (a clean exit)."""
        now = self.queue.clock()
        with self.queue.db.tx() as db:
            db.execute(
                "UPDATE workers SET status = 'stopped', stopped_at = ?, heartbeat_at = ? WHERE name = ? AND owner = ?",
                (now, now, name, owner),
            )

    def list(self) -> list[WorkerView]:
        """Every worker, with the entries it holds now and their leases."""
        now = self.queue.clock()
        leases: dict[str, list[LeaseView]] = {}
        with self.queue.db.read() as db:
            workers = db.execute("SELECT * FROM workers ORDER BY name").fetchall()
            specs = {
                r["id"]: CampaignSpec.model_validate_json(r["spec_json"])
                for r in db.execute("SELECT id, spec_json FROM campaigns WHERE status = 'running'").fetchall()
            }
            held = db.execute(
                "SELECT campaign_id, entry_id, run_id, owner, heartbeat_at FROM entries WHERE status = 'running' "
                "ORDER BY campaign_id, position"
            ).fetchall()
        for row in held:
            spec = specs.get(row["campaign_id"])
            beat = row["heartbeat_at"]
            lease = None if beat is None or spec is None else beat + 3 * spec.heartbeat_s
            leases.setdefault(row["owner"], []).append(
                LeaseView(
                    campaign_id=row["campaign_id"], entry_id=row["entry_id"], run_id=row["run_id"],
                    heartbeat_at=beat, lease_until=lease,
                )
            )  # fmt: skip
        views = []
        for w in workers:
            state: Literal["running", "stopped", "gone"] = w["status"]
            if state == "running" and not _alive(w, now):
                state = "gone"
            views.append(
                WorkerView(
                    name=w["name"], host=w["host"], pid=w["pid"], state=state, started_at=w["started_at"],
                    heartbeat_at=w["heartbeat_at"], entries_done=w["entries_done"], leases=leases.get(w["owner"], []),
                )
            )  # fmt: skip
        return views


def _alive(row: object, now: float) -> bool:
    """A worker row whose process still runs (this host) and that beat within three intervals."""
    owner = row["owner"]  # type: ignore[index]
    beat = row["heartbeat_at"]  # type: ignore[index]
    return bool(owner_alive(owner)) and now - float(beat) <= 3 * WORKER_BEAT_S


class WorkerResult(BaseModel):
    """How a worker's run ended."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    entries_done: int
    finished_campaigns: list[str]
    reason: str


@dataclass
class CampaignWorker:
    """Claim and run entries from every running campaign until stopped (or, with ``exit_when_idle``, until none is left).

    Args:
        queue: The campaign queue (PostgreSQL for workers on several machines).
        name: This worker's name (one live process per name).
        run_entry: Runs one entry (the research loop in production).
        concurrency: Entries run at once by this worker.
        exit_when_idle: Return when no running campaign has an entry left to claim or running anywhere.
        on_campaign_finished: Called with a campaign id after this worker marked it finished (the summary).
    """

    queue: CampaignQueue
    name: str
    run_entry: EntryRunner
    concurrency: int = 1
    exit_when_idle: bool = False
    on_campaign_finished: Callable[[str], None] | None = None
    clock: Callable[[], float] = time.time
    poll_s: float = 0.5
    stop: threading.Event = field(default_factory=threading.Event)
    owner: str = field(default_factory=owner_token)
    stop_reason: str = ""
    _runners: dict[str, tuple[CampaignRunner, CampaignSpec]] = field(default_factory=dict)
    _last_beat: float = 0.0
    _limits_due: bool = True
    """Check deadlines and budgets before the next claim (set when an entry ends)."""

    def request_stop(self, reason: str) -> None:
        """Stop claiming; running entries stop at their next step and are handed back."""
        if not self.stop.is_set():
            log.warning("worker %s stopping: %s", self.name, reason)
            self.stop_reason = reason
            self.stop.set()

    def _runner(self, campaign_id: str) -> tuple[CampaignRunner, CampaignSpec]:
        if campaign_id not in self._runners:
            spec = self.queue.get(campaign_id).spec
            runner = CampaignRunner(
                self.queue, campaign_id, self.run_entry, clock=self.clock, poll_s=self.poll_s, stop=self.stop,
                owner=self.owner,
            )  # fmt: skip
            runner._started = self.clock()
            self._runners[campaign_id] = (runner, spec)
        return self._runners[campaign_id]

    def _beat(self, registry: WorkerRegistry, running: dict[Future[None], tuple[str, str]], *, force: bool) -> None:
        for campaign_id, (runner, spec) in self._runners.items():
            mine = {f: entry for f, (cid, entry) in running.items() if cid == campaign_id}
            runner._check_progress(spec, mine, force=force)
            for future in list(running):
                if running[future][0] == campaign_id and future not in mine:
                    del running[future]  # failed for lack of progress by the runner
        if self.clock() - self._last_beat >= WORKER_BEAT_S:
            registry.beat(self.name, self.owner)
            self._enforce_limits()
            self._last_beat = self.clock()

    def _enforce_limits(self) -> None:
        """Stop campaigns past their deadline or budgets: queued entries are skipped (``resume`` queues them again)."""
        now = self.clock()
        for campaign_id, spec in self.queue.running_campaigns():
            record = self.queue.get(campaign_id)
            b = spec.budgets
            reason = None
            if spec.deadline is not None and now >= spec.deadline.timestamp():
                reason = f"deadline {spec.deadline.isoformat(timespec='minutes')} reached"
            elif b.tokens is not None and record.tokens >= b.tokens:
                reason = f"campaign token budget exhausted ({record.tokens} of {b.tokens})"
            elif b.dollars is not None and record.dollars >= b.dollars:
                reason = f"campaign money budget exhausted (${record.dollars:.2f} of ${b.dollars:.2f})"
            elif b.kernel_hours is not None and record.kernel_s >= b.kernel_hours * 3600:
                reason = f"campaign kernel-hours exhausted ({record.kernel_s / 3600:.2f} of {b.kernel_hours})"
            elif b.wall_time_s is not None and now - record.created_at >= b.wall_time_s:
                reason = f"campaign wall-time budget exhausted ({b.wall_time_s:.0f} s since it was queued)"
            if reason is not None:
                log.warning("worker %s: campaign %s stops: %s", self.name, campaign_id, reason)
                self.queue.skip_remaining(campaign_id, f"not started: {reason}")
                self.queue.set_status(campaign_id, "stopped", reason)

    def _idle(self) -> bool:
        return not any(self.queue.pending(cid) for cid, _ in self.queue.running_campaigns())

    def run(self) -> WorkerResult:
        """Register, then claim and run entries until stopped (or idle with ``exit_when_idle``)."""
        registry = WorkerRegistry(self.queue)
        registry.register(self.name, self.owner)
        log.info("worker %s (%s) on %s", self.name, self.owner, self.queue.where)
        running: dict[Future[None], tuple[str, str]] = {}
        done = 0
        finished: list[str] = []
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"worker-{self.name}")
        try:
            while True:
                self._beat(registry, running, force=False)
                if not self.stop.is_set() and len(running) < self.concurrency:
                    self._beat(registry, running, force=True)  # claim never takes over this worker's own entries
                    if self._limits_due:
                        self._enforce_limits()
                        self._limits_due = False
                while not self.stop.is_set() and len(running) < self.concurrency:
                    claimed = self.queue.claim_any(self.owner)
                    if claimed is None:
                        break
                    record, resume = claimed
                    runner, spec = self._runner(record.campaign_id)
                    future = pool.submit(runner._attempt, record, resume, spec)
                    running[future] = (record.campaign_id, record.entry.id)
                if not running:
                    if self.stop.is_set() or (self.exit_when_idle and self._idle()):
                        break
                    self.stop.wait(self.poll_s)
                    continue
                ready, _ = wait(list(running), timeout=self.poll_s, return_when=FIRST_COMPLETED)
                for future in ready:
                    campaign_id, entry_id = running.pop(future)
                    future.result()
                    self._limits_due = True
                    if self.queue.entry_status(campaign_id, entry_id) in FINAL:
                        done += 1
                        registry.entry_done(self.name, self.owner)
                    if self.queue.finish_if_done(campaign_id):
                        finished.append(campaign_id)
                        if self.on_campaign_finished is not None:
                            self.on_campaign_finished(campaign_id)
        finally:
            pool.shutdown(wait=not any(r._abandoned for r, _ in self._runners.values()), cancel_futures=True)
            registry.stopped(self.name, self.owner)
        return WorkerResult(
            name=self.name, entries_done=done, finished_campaigns=finished, reason=self.stop_reason or "idle"
        )
