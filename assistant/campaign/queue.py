"""The campaign queue: campaigns, their entries, workers and an append-only event log in the campaign database.

The database is ``<workspace>/.ara/campaigns.sqlite`` by default, or PostgreSQL when ``ARA_DATABASE_URL`` is set
(``assistant.campaign.db``). Covers creating a campaign from a spec, claiming entries atomically (SQLite's
``BEGIN IMMEDIATE``; PostgreSQL's ``FOR UPDATE SKIP LOCKED`` on the claimed row), from one campaign or from any
running campaign (workers), heartbeats as leases, reclaiming entries whose runner died (dead owner process or a
lease that ran out), retries with a not-before time, final statuses, spend totals, worker records, and reading it
all back. Each entry gets its research-loop ``run_id`` when the campaign
is created, so a resumed entry continues the same run (and its checkpoint) instead of starting a new one.
On SQLite, after a write the file is copied to ``campaigns.sqlite.bak`` at most every ten minutes; a corrupt file
stops every command with ``StoreCorruptError`` naming that backup (``tools.sqlitefile``). Does not run anything
(``assistant.campaign.runner``).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Collection
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal

import psutil
from pydantic import BaseModel, ConfigDict
from ulid import ULID

from assistant.campaign.db import Conn, QueueDatabase, SqliteDatabase, open_database
from assistant.campaign.spec import CampaignEntry, CampaignSpec
from assistant.errors import AssistantError
from assistant.settings import Settings

EntryStatus = Literal["queued", "running", "done", "failed", "waiting_human", "skipped"]
FINAL: frozenset[str] = frozenset({"done", "failed", "waiting_human"})
CampaignStatus = Literal["running", "stopped", "finished"]


class QueueError(AssistantError):
    """A campaign or entry does not exist, or the queue is in a state that forbids the request."""


class EntryOutcome(BaseModel):
    """What one finished entry produced (stored as JSON in the queue)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["done", "waiting_human", "failed"]
    """Final status of the entry's run."""
    detail: str = ""
    """Why (for waiting_human and failed) or a one-line result."""
    proposal_id: str | None = None
    """The proposal awaiting review, if one was made."""
    report_path: str | None = None
    """The run's report."""
    key_metrics: dict[str, float] = {}
    """A few headline numbers read from the run's results.json."""
    tokens: int = 0
    """LLM tokens the run used."""
    dollars: float = 0.0
    """Money the run used, where priced."""
    kernel_s: float = 0.0
    """Kernel wall time the run used."""
    worker: str | None = None
    """The worker that ran it (``ara campaign worker --name``); None for ``ara campaign run``."""
    pushed_to: str | None = None
    """The review remote the proposal branch was pushed to (workers with ``campaign.review_remote``)."""
    push_error: str | None = None
    """Why that push failed (the proposal stays in the worker's workspace; the message says how to push it)."""


class EntryRecord(BaseModel):
    """One entry as the queue holds it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    campaign_id: str
    entry: CampaignEntry
    run_id: str
    status: EntryStatus
    attempts: int
    resumes: int
    next_attempt_at: float
    heartbeat_at: float | None
    owner: str | None
    outcome: EntryOutcome | None
    error: str | None
    started_at: float | None
    finished_at: float | None


class CampaignRecord(BaseModel):
    """A campaign's row plus its entries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    file: str
    spec: CampaignSpec
    status: CampaignStatus
    created_at: float
    finished_at: float | None
    tokens: int
    dollars: float
    kernel_s: float
    wall_s: float
    stop_reason: str | None
    entries: list[EntryRecord]


def owner_token() -> str:
    """``host:pid:create_time`` of this process: a dead owner is detectable even after pid reuse."""
    me = psutil.Process()
    return f"{socket.gethostname()}:{me.pid}:{me.create_time():.3f}"


def owner_alive(owner: str | None) -> bool:
    """Whether the process named by ``owner`` still runs (other hosts are assumed alive)."""
    if not owner:
        return False
    try:
        host, pid, created = owner.rsplit(":", 2)
    except ValueError:
        return False
    if host != socket.gethostname():
        return True
    try:
        proc = psutil.Process(int(pid))
        return abs(proc.create_time() - float(created)) < 0.01 and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, ValueError):
        return False


class CampaignQueue:
    """The queue in the campaign database: SQLite under ``<workspace>/.ara`` unless a database is given.

    Args:
        workspace: The workspace (its SQLite file is used when ``database`` is None).
        clock: Wall clock (tests pass a fake one).
        database: An open campaign database (``open_database(settings)``; PostgreSQL for workers on several
            machines).
    """

    def __init__(self, workspace: Path, *, clock: Any = time.time, database: QueueDatabase | None = None) -> None:
        self.db: QueueDatabase = database if database is not None else SqliteDatabase(workspace)
        self.where = self.db.where
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Any = time.time) -> CampaignQueue:
        """The queue in the configured database (``ARA_DATABASE_URL``, else the workspace's SQLite file)."""
        return cls(settings.workspace, clock=clock, database=open_database(settings))

    @property
    def path(self) -> Path:
        """The SQLite file (only for the embedded default)."""
        if not isinstance(self.db, SqliteDatabase):
            raise RuntimeError(f"the campaign queue is in {self.where}, not a SQLite file")
        return self.db.path

    def _connect(self) -> AbstractContextManager[Conn]:
        return self.db.read()

    def _tx(self) -> AbstractContextManager[Conn]:
        return self.db.tx()

    def _event(self, db: Conn, campaign_id: str, entry_id: str | None, kind: str, **detail: Any) -> None:
        db.execute(
            "INSERT INTO campaign_events (campaign_id, entry_id, at, kind, detail) VALUES (?, ?, ?, ?, ?)",
            (campaign_id, entry_id, self.clock(), kind, json.dumps(detail, default=str)),
        )

    # -- campaigns ------------------------------------------------------------------------------------
    def create(self, spec: CampaignSpec, file: Path) -> str:
        """Queue every entry of ``spec``; returns the campaign id."""
        campaign_id = str(ULID())
        now = self.clock()
        with self._tx() as db:
            db.execute(
                "INSERT INTO campaigns (id, name, file, spec_json, status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (campaign_id, spec.name, str(file), spec.model_dump_json(), "running", now),
            )
            for position, entry in enumerate(spec.entries):
                db.execute(
                    "INSERT INTO entries (campaign_id, entry_id, position, spec_json, run_id, status) "
                    "VALUES (?, ?, ?, ?, ?, 'queued')",
                    (campaign_id, entry.id, position, entry.model_dump_json(), str(ULID())),
                )
            self._event(db, campaign_id, None, "created", name=spec.name, file=str(file), entries=len(spec.entries))
        return campaign_id

    def unfinished_for(self, file: Path) -> str | None:
        """The newest campaign from ``file`` that is not finished, if any."""
        with self._connect() as db:
            row = db.execute(
                "SELECT id FROM campaigns WHERE file = ? AND status != 'finished' ORDER BY created_at DESC LIMIT 1",
                (str(file),),
            ).fetchone()
        return str(row["id"]) if row else None

    def latest(self) -> str | None:
        """The newest campaign id."""
        with self._connect() as db:
            row = db.execute("SELECT id FROM campaigns ORDER BY created_at DESC LIMIT 1").fetchone()
        return str(row["id"]) if row else None

    def get(self, campaign_id: str) -> CampaignRecord:
        """A campaign with its entries. Raises ``QueueError`` for an unknown id."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()
            if row is None:
                known = [
                    r["id"] for r in db.execute("SELECT id FROM campaigns ORDER BY created_at DESC LIMIT 5").fetchall()
                ]
                raise QueueError(
                    f"no campaign '{campaign_id}' in {self.where}; recent ids: {', '.join(known) or 'none'}. "
                    "See 'ara campaign status'.",
                    title="Unknown campaign",
                )
            entries = [
                self._entry(e)
                for e in db.execute(
                    "SELECT * FROM entries WHERE campaign_id = ? ORDER BY position", (campaign_id,)
                ).fetchall()
            ]
        return CampaignRecord(
            id=row["id"],
            name=row["name"],
            file=row["file"],
            spec=CampaignSpec.model_validate_json(row["spec_json"]),
            status=row["status"],
            created_at=row["created_at"],
            finished_at=row["finished_at"],
            tokens=row["tokens"],
            dollars=row["dollars"],
            kernel_s=row["kernel_s"],
            wall_s=row["wall_s"],
            stop_reason=row["stop_reason"],
            entries=entries,
        )

    @staticmethod
    def _entry(row: Any) -> EntryRecord:
        return EntryRecord(
            campaign_id=row["campaign_id"],
            entry=CampaignEntry.model_validate_json(row["spec_json"]),
            run_id=row["run_id"],
            status=row["status"],
            attempts=row["attempts"],
            resumes=row["resumes"],
            next_attempt_at=row["next_attempt_at"],
            heartbeat_at=row["heartbeat_at"],
            owner=row["owner"],
            outcome=EntryOutcome.model_validate_json(row["outcome_json"]) if row["outcome_json"] else None,
            error=row["error"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )

    def set_status(self, campaign_id: str, status: CampaignStatus, reason: str | None = None) -> None:
        """Mark the campaign running, stopped (resumable) or finished."""
        with self._tx() as db:
            db.execute(
                "UPDATE campaigns SET status = ?, stop_reason = ?, finished_at = ? WHERE id = ?",
                (status, reason, self.clock() if status == "finished" else None, campaign_id),
            )
            self._event(db, campaign_id, None, f"campaign_{status}", reason=reason)

    def finish_if_done(self, campaign_id: str) -> bool:
        """Mark a running campaign finished when none of its entries is queued or running; True when this call did."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE campaigns SET status = 'finished', finished_at = ? WHERE id = ? AND status = 'running' "
                "AND NOT EXISTS (SELECT 1 FROM entries WHERE campaign_id = ? AND status IN ('queued', 'running'))",
                (self.clock(), campaign_id, campaign_id),
            )
            if cursor.rowcount == 0:
                return False
            self._event(db, campaign_id, None, "campaign_finished", reason="every entry final")
        return True

    def entry_status(self, campaign_id: str, entry_id: str) -> EntryStatus:
        """One entry's status."""
        with self._connect() as db:
            row = db.execute(
                "SELECT status FROM entries WHERE campaign_id = ? AND entry_id = ?", (campaign_id, entry_id)
            ).fetchone()
        if row is None:
            raise QueueError(f"no entry '{entry_id}' in campaign {campaign_id}", title="Unknown entry")
        status: EntryStatus = row["status"]
        return status

    def add_wall(self, campaign_id: str, seconds: float) -> None:
        """Add runner wall time (resumes accumulate)."""
        with self._tx() as db:
            db.execute("UPDATE campaigns SET wall_s = wall_s + ? WHERE id = ?", (seconds, campaign_id))

    # -- entries --------------------------------------------------------------------------------------
    def claim(self, campaign_id: str, owner: str, stale_after_s: float) -> tuple[EntryRecord, bool] | None:
        """Atomically take the next runnable entry: queued and due, or running under a dead owner or a lapsed lease.

        The lease of a running entry is its last heartbeat plus ``stale_after_s``; an owner on this host whose
        process is gone loses it at once. Returns the entry and whether its run was started before (a retry, a
        clean stop or a dead runner): the caller then resumes the same run id from its checkpoint instead of
        starting over. On PostgreSQL the entry's row is locked ``FOR UPDATE SKIP LOCKED`` and checked again, so
        two workers never take the same entry and neither waits for the other.
        """
        now = self.clock()
        with self._tx() as db:
            candidates = db.execute(
                "SELECT entry_id, status, owner, heartbeat_at, next_attempt_at FROM entries "
                "WHERE campaign_id = ? AND status IN ('queued', 'running') ORDER BY position",
                (campaign_id,),
            ).fetchall()
            for candidate in candidates:
                if _claimable(candidate, now, stale_after_s) is None:
                    continue
                row = db.execute(
                    "SELECT * FROM entries WHERE campaign_id = ? AND entry_id = ?" + self.db.lock_row,
                    (campaign_id, candidate["entry_id"]),
                ).fetchone()
                how = None if row is None else _claimable(row, now, stale_after_s)
                if how == "claim":
                    resume = row["started_at"] is not None
                    db.execute(
                        "UPDATE entries SET status = 'running', owner = ?, heartbeat_at = ?, "
                        "attempts = attempts + 1, started_at = COALESCE(started_at, ?) "
                        "WHERE campaign_id = ? AND entry_id = ?",
                        (owner, now, now, campaign_id, row["entry_id"]),
                    )
                    self._event(db, campaign_id, row["entry_id"], "claimed", attempt=row["attempts"] + 1, owner=owner)
                    return self._reload(db, campaign_id, row["entry_id"]), resume
                if how == "reclaim":
                    db.execute(
                        "UPDATE entries SET owner = ?, heartbeat_at = ?, resumes = resumes + 1 "
                        "WHERE campaign_id = ? AND entry_id = ?",
                        (owner, now, campaign_id, row["entry_id"]),
                    )
                    self._event(db, campaign_id, row["entry_id"], "reclaimed", previous_owner=row["owner"], owner=owner)
                    return self._reload(db, campaign_id, row["entry_id"]), True
        return None

    def claim_any(self, owner: str) -> tuple[EntryRecord, bool] | None:
        """Take the next runnable entry of any running campaign, oldest campaign first (``claim`` for each).

        Each campaign's lease is three of its heartbeat intervals.
        """
        for campaign_id, spec in self.running_campaigns():
            claimed = self.claim(campaign_id, owner, 3 * spec.heartbeat_s)
            if claimed is not None:
                return claimed
        return None

    def running_campaigns(self) -> list[tuple[str, CampaignSpec]]:
        """``(id, spec)`` of every campaign whose status is running, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, spec_json FROM campaigns WHERE status = 'running' ORDER BY created_at"
            ).fetchall()
        return [(str(r["id"]), CampaignSpec.model_validate_json(r["spec_json"])) for r in rows]

    def _reload(self, db: Conn, campaign_id: str, entry_id: str) -> EntryRecord:
        row = db.execute(
            "SELECT * FROM entries WHERE campaign_id = ? AND entry_id = ?", (campaign_id, entry_id)
        ).fetchone()
        return self._entry(row)

    def heartbeat(self, campaign_id: str, owner: str, entry_ids: Collection[str] | None = None) -> int:
        """Refresh the heartbeat of the entries ``owner`` runs (only ``entry_ids`` when given); returns how many."""
        ids = None if entry_ids is None else list(entry_ids)
        if ids is not None and not ids:
            return 0
        where = "" if ids is None else f" AND entry_id IN ({', '.join('?' * len(ids))})"
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE entries SET heartbeat_at = ? WHERE campaign_id = ? AND owner = ? AND status = 'running'"
                + where,
                (self.clock(), campaign_id, owner, *(ids or ())),
            )
            return cursor.rowcount

    def finish(self, campaign_id: str, entry_id: str, owner: str, outcome: EntryOutcome) -> None:
        """Record a final outcome (done, waiting_human or failed) and add its spend to the campaign.

        Only the entry's current owner can finish it: a runner whose lease lapsed (another took the entry over)
        is ignored, and an event says so.
        """
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE entries SET status = ?, outcome_json = ?, error = ?, finished_at = ?, owner = NULL "
                "WHERE campaign_id = ? AND entry_id = ? AND owner = ?",
                (
                    outcome.status,
                    outcome.model_dump_json(),
                    outcome.detail if outcome.status == "failed" else None,
                    self.clock(),
                    campaign_id,
                    entry_id,
                    owner,
                ),
            )
            if cursor.rowcount == 0:
                # The lease lapsed and another runner took the entry over: its outcome is the one that counts.
                self._event(db, campaign_id, entry_id, "finish_ignored", owner=owner, status=outcome.status)
                return
            db.execute(
                "UPDATE campaigns SET tokens = tokens + ?, dollars = dollars + ?, kernel_s = kernel_s + ? WHERE id = ?",
                (outcome.tokens, outcome.dollars, outcome.kernel_s, campaign_id),
            )
            self._event(
                db, campaign_id, entry_id, outcome.status, detail=outcome.detail, proposal=outcome.proposal_id,
                owner=owner, pushed_to=outcome.pushed_to, push_error=outcome.push_error,
            )  # fmt: skip

    def retry_later(self, campaign_id: str, entry_id: str, owner: str, delay_s: float, reason: str) -> None:
        """Put an entry back in the queue after a transient fault, not before ``delay_s`` from now."""
        with self._tx() as db:
            db.execute(
                "UPDATE entries SET status = 'queued', owner = NULL, error = ?, next_attempt_at = ? "
                "WHERE campaign_id = ? AND entry_id = ? AND owner = ?",
                (reason, self.clock() + delay_s, campaign_id, entry_id, owner),
            )
            self._event(db, campaign_id, entry_id, "retry_scheduled", delay_s=delay_s, reason=reason)

    def release(self, campaign_id: str, entry_id: str, owner: str, reason: str) -> None:
        """Hand an interrupted entry back (clean stop): the attempt does not count; the run resumes later."""
        with self._tx() as db:
            db.execute(
                "UPDATE entries SET status = 'queued', owner = NULL, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, "
                "next_attempt_at = 0 WHERE campaign_id = ? AND entry_id = ? AND owner = ?",
                (campaign_id, entry_id, owner),
            )
            self._event(db, campaign_id, entry_id, "released", reason=reason)

    def skip_remaining(self, campaign_id: str, reason: str) -> int:
        """Mark every queued entry skipped (budget or deadline); ``requeue_skipped`` undoes it on resume."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE entries SET status = 'skipped', error = ? WHERE campaign_id = ? AND status = 'queued'",
                (reason, campaign_id),
            )
            self._event(db, campaign_id, None, "skipped_remaining", reason=reason, count=cursor.rowcount)
            return cursor.rowcount

    def requeue_skipped(self, campaign_id: str) -> int:
        """Put skipped entries back in the queue (on resume)."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE entries SET status = 'queued', error = NULL WHERE campaign_id = ? AND status = 'skipped'",
                (campaign_id,),
            )
            return cursor.rowcount

    def events(self, campaign_id: str) -> list[dict[str, Any]]:
        """The campaign's event log, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM campaign_events WHERE campaign_id = ? ORDER BY seq", (campaign_id,)
            ).fetchall()
        return [
            {"seq": r["seq"], "entry": r["entry_id"], "at": r["at"], "kind": r["kind"], **json.loads(r["detail"])}
            for r in rows
        ]

    def pending(self, campaign_id: str) -> int:
        """Entries not yet in a final or skipped state."""
        with self._connect() as db:
            row = db.execute(
                "SELECT COUNT(*) AS n FROM entries WHERE campaign_id = ? AND status IN ('queued', 'running')",
                (campaign_id,),
            ).fetchone()
        return int(row["n"])

    def next_due(self, campaign_id: str) -> float | None:
        """Earliest not-before time of a queued entry."""
        with self._connect() as db:
            row = db.execute(
                "SELECT MIN(next_attempt_at) AS t FROM entries WHERE campaign_id = ? AND status = 'queued'",
                (campaign_id,),
            ).fetchone()
        return float(row["t"]) if row["t"] is not None else None


def _claimable(row: Any, now: float, stale_after_s: float) -> Literal["claim", "reclaim"] | None:
    """Whether an entry row can be claimed (queued and due) or reclaimed (running, owner dead or lease lapsed)."""
    if row["status"] == "queued" and row["next_attempt_at"] <= now:
        return "claim"
    if row["status"] == "running":
        silent = row["heartbeat_at"] is None or now - row["heartbeat_at"] > stale_after_s
        if silent or not owner_alive(row["owner"]):
            return "reclaim"
    return None


def pid_of(owner: str | None) -> int | None:
    """The pid part of an owner token."""
    if not owner:
        return None
    try:
        return int(owner.rsplit(":", 2)[1])
    except (IndexError, ValueError):
        return None


def this_pid() -> int:
    """The current process id (for tests and status output)."""
    return os.getpid()
