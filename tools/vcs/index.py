"""The proposal index: a small SQLite file at ``<workspace>/.ara/proposals.sqlite``.

Covers storing and querying proposal records, the ``(run_id, step)`` idempotency key, compare-and-set status
changes (two concurrent decisions: exactly one wins), pinned review heads and the reviewers' comments. The
index is a cache of what the branches say plus the decisions; git stays the source of truth for content. Does
not cover git operations (``tools.vcs.workspace``) or who may decide (``assistant.review``).

Writes use ``BEGIN IMMEDIATE`` so two processes never interleave a read-check-write; WAL mode lets ``review
list`` read while a proposal is being written. After a write the file is copied to ``proposals.sqlite.bak`` at
most every ten minutes (``tools.sqlitefile``); a corrupt file raises ``StoreCorruptError`` naming that backup
and ``ara review reindex``, which rebuilds the index from the ``ara/*`` branches, the approval merges and the
audit log (``tools.vcs.reindex``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tools.sqlitefile import Store, backup_if_due, guarded
from tools.vcs.errors import NotAWorkspaceError, ProposalNotFoundError

if TYPE_CHECKING:
    from tools.vcs.records import KeyNumber, Proposal, ProposalStatus

_STATUSES = ("open", "approved", "rejected", "superseded")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS proposals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    branch TEXT NOT NULL,
    base_commit TEXT NOT NULL DEFAULT '',
    head_commit TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL,
    report_path TEXT,
    results TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'open',
    parent_id INTEGER REFERENCES proposals(id),
    created_at TEXT NOT NULL,
    decided_at TEXT,
    reviewer TEXT,
    comment TEXT,
    merge_commit TEXT,
    pinned_head TEXT,
    complete INTEGER NOT NULL DEFAULT 0,
    UNIQUE (run_id, step)
);
CREATE INDEX IF NOT EXISTS proposals_status ON proposals(status);
CREATE TABLE IF NOT EXISTS comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_proposal ON comments(proposal_id);
"""

_COLUMNS = (
    "id, run_id, step, branch, base_commit, head_commit, summary, report_path, results, status, parent_id, "
    "created_at, decided_at, reviewer, comment, merge_commit, pinned_head"
)


class Reservation(NamedTuple):
    """The index row for ``(run_id, step)``: its id and whether the proposal was already fully built."""

    id: int
    branch: str
    complete: bool


class Comment(NamedTuple):
    """A reviewer's (or the agent's) comment on a proposal."""

    proposal_id: int
    action: str
    actor: str
    text: str
    created_at: datetime


def open_index(workspace: Path) -> ProposalIndex:
    """The proposal index of the workspace at ``workspace`` without starting git (the fast path of ``list``).

    Raises:
        NotAWorkspaceError: ``workspace`` has no ``.git``.
    """
    if not (workspace / ".git").exists():
        raise NotAWorkspaceError.at(workspace)
    return ProposalIndex(workspace / ".ara" / "proposals.sqlite")


def utcnow() -> datetime:
    """The current time in UTC (timezone-aware)."""
    return datetime.now(UTC)


class ProposalIndex:
    """Proposal records in SQLite. Cheap to construct; every call opens and closes its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = Store(path, "proposal index", rebuild="ara review reindex")
        self._ready = False

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection for one read or one write transaction; a corrupt file raises ``StoreCorruptError``."""
        with guarded(self.store), self._open(write=write) as conn:
            yield conn
        if write:
            backup_if_due(self.path)

    @contextmanager
    def _open(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        if not write and not self.path.exists():
            # reading a workspace ara never wrote to: an empty index, and no .ara/ created in it
            conn = sqlite3.connect(":memory:", isolation_level=None)
            conn.executescript(_SCHEMA)
            try:
                yield conn
            finally:
                conn.close()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            if not self._ready:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                self._ready = True
            if write:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            else:
                yield conn
        finally:
            conn.close()

    def reserve(self, run_id: str, step: str, branch: str, summary: str, parent_id: int | None) -> Reservation:
        """Return the row for ``(run_id, step)``, inserting an incomplete one (with ``branch``) if none exists."""
        with self._connect(write=True) as conn:
            row = conn.execute(
                "SELECT id, branch, complete FROM proposals WHERE run_id = ? AND step = ?", (run_id, step)
            ).fetchone()
            if row is not None:
                return Reservation(int(row[0]), str(row[1]), bool(row[2]))
            cur = conn.execute(
                "INSERT INTO proposals (run_id, step, branch, summary, parent_id, created_at) VALUES (?,?,?,?,?,?)",
                (run_id, step, branch, summary, parent_id, utcnow().isoformat()),
            )
            assert cur.lastrowid is not None
            return Reservation(cur.lastrowid, branch, False)

    def branch_taken(self, branch: str) -> bool:
        """Whether any row (complete or not) already uses ``branch``."""
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM proposals WHERE branch = ?", (branch,)).fetchone() is not None

    def complete(
        self,
        proposal_id: int,
        *,
        base_commit: str,
        head_commit: str,
        summary: str,
        parent_id: int | None,
        report_path: str | None,
        results: dict[str, KeyNumber],
    ) -> Proposal:
        """Record the built commit and make the proposal visible (status ``open``)."""
        with self._connect(write=True) as conn:
            conn.execute(
                "UPDATE proposals SET base_commit = ?, head_commit = ?, summary = ?, parent_id = ?, "
                "report_path = ?, results = ?, complete = 1, status = 'open' WHERE id = ?",
                (base_commit, head_commit, summary, parent_id, report_path, json.dumps(results), proposal_id),
            )
        return self.get(proposal_id)

    def find(self, run_id: str, step: str) -> Proposal | None:
        """The complete proposal made for ``(run_id, step)``, if any."""
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM proposals WHERE run_id = ? AND step = ? AND complete = 1",
                (run_id, step),
            ).fetchone()
        return None if row is None else _to_proposal(row)

    def get(self, proposal_id: int) -> Proposal:
        """The proposal with ``proposal_id``.

        Raises:
            ProposalNotFoundError: no complete proposal has that id.
        """
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM proposals WHERE id = ? AND complete = 1", (proposal_id,)
            ).fetchone()
        if row is None:
            raise ProposalNotFoundError(
                f"no proposal with id {proposal_id} in {self.path}; 'ara review list --status all' shows the ids"
            )
        return _to_proposal(row)

    def select(self, statuses: Iterable[ProposalStatus] | None = None, limit: int | None = None) -> list[Proposal]:
        """Complete proposals, newest first, optionally filtered by status."""
        return [_to_proposal(row) for row in self._rows(statuses, limit)]

    def select_rows(
        self, statuses: Iterable[ProposalStatus] | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Like ``select`` but plain dicts (JSON-able, no pydantic import): the fast path of ``ara review list``."""
        names = _COLUMNS.split(", ")
        rows = []
        for row in self._rows(statuses, limit):
            values = dict(zip(names, row, strict=True))
            values["results"] = json.loads(values["results"])
            rows.append(values)
        return rows

    def _rows(self, statuses: Iterable[ProposalStatus] | None, limit: int | None) -> list[tuple[Any, ...]]:
        wanted = tuple(statuses) if statuses is not None else _STATUSES
        marks = ",".join("?" for _ in wanted)
        sql = f"SELECT {_COLUMNS} FROM proposals WHERE complete = 1 AND status IN ({marks}) ORDER BY id DESC"
        params: list[Any] = list(wanted)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._connect() as conn:
            return list(conn.execute(sql, params).fetchall())

    def children(self, proposal_id: int) -> list[Proposal]:
        """Revisions made from ``proposal_id``, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM proposals WHERE parent_id = ? AND complete = 1 ORDER BY id",
                (proposal_id,),
            ).fetchall()
        return [_to_proposal(row) for row in rows]

    def transition(
        self, proposal_id: int, expected: Iterable[ProposalStatus], new: ProposalStatus, **fields: str | None
    ) -> bool:
        """Compare-and-set the status: move to ``new`` only if the status is one of ``expected``.

        ``fields`` may set ``decided_at``, ``reviewer``, ``comment`` and ``merge_commit``. Returns False (and
        changes nothing) when another actor changed the status first.
        """
        allowed = {"decided_at", "reviewer", "comment", "merge_commit"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"transition() cannot set {sorted(unknown)}; allowed: {sorted(allowed)}")
        wanted = tuple(expected)
        sets = ", ".join(["status = ?", *(f"{name} = ?" for name in fields)])
        marks = ",".join("?" for _ in wanted)
        with self._connect(write=True) as conn:
            cur = conn.execute(
                f"UPDATE proposals SET {sets} WHERE id = ? AND complete = 1 AND status IN ({marks})",
                (new, *fields.values(), proposal_id, *wanted),
            )
            return cur.rowcount == 1

    def pin(self, proposal_id: int, head: str) -> None:
        """Record the head commit a reviewer is looking at."""
        with self._connect(write=True) as conn:
            conn.execute("UPDATE proposals SET pinned_head = ? WHERE id = ?", (head, proposal_id))

    def add_comment(self, proposal_id: int, action: str, actor: str, text: str) -> Comment:
        """Append a comment (kept forever; the agent reads rejections through ``comments``)."""
        created = utcnow()
        with self._connect(write=True) as conn:
            conn.execute(
                "INSERT INTO comments (proposal_id, action, actor, text, created_at) VALUES (?,?,?,?,?)",
                (proposal_id, action, actor, text, created.isoformat()),
            )
        return Comment(proposal_id, action, actor, text, created)

    def comments(self, proposal_id: int) -> list[Comment]:
        """Every comment on ``proposal_id``, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT proposal_id, action, actor, text, created_at FROM comments WHERE proposal_id = ? ORDER BY id",
                (proposal_id,),
            ).fetchall()
        return [Comment(int(r[0]), str(r[1]), str(r[2]), str(r[3]), datetime.fromisoformat(r[4])) for r in rows]


def _to_proposal(row: tuple[Any, ...]) -> Proposal:
    from tools.vcs.records import Proposal

    values = dict(zip(_COLUMNS.split(", "), row, strict=True))
    values["results"] = json.loads(values["results"])
    return Proposal.model_validate(values)


def write_index(path: Path, proposals: Iterable[Proposal], comments: Iterable[Comment]) -> None:
    """Write a new index file at ``path`` (which must not exist) holding exactly ``proposals`` and ``comments``.

    Used by the rebuild (``ara review reindex``); ids are kept, every proposal is complete.
    """
    if path.exists():
        raise FileExistsError(f"{path} already exists; the rebuild writes a new file only")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript(_SCHEMA)
        conn.execute("BEGIN IMMEDIATE")
        for p in proposals:
            conn.execute(
                f"INSERT INTO proposals ({_COLUMNS}, complete) VALUES ({', '.join('?' * 17)}, 1)",
                (
                    p.id, p.run_id, p.step, p.branch, p.base_commit, p.head_commit, p.summary, p.report_path,
                    json.dumps(p.results), p.status, p.parent_id, p.created_at.isoformat(),
                    p.decided_at.isoformat() if p.decided_at else None, p.reviewer, p.comment, p.merge_commit,
                    p.pinned_head,
                ),
            )  # fmt: skip
        conn.executemany(
            "INSERT INTO comments (proposal_id, action, actor, text, created_at) VALUES (?,?,?,?,?)",
            [(c.proposal_id, c.action, c.actor, c.text, c.created_at.isoformat()) for c in comments],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
