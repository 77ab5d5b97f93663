"""The campaign database: the embedded SQLite file (default) or a shared PostgreSQL server, behind one interface.

Covers opening either backend from settings (``database.url`` / ``ARA_DATABASE_URL`` unset = ``<workspace>/.ara/
campaigns.sqlite`` exactly as before), short read and write transactions (``BEGIN IMMEDIATE`` on SQLite; a pooled
connection and ``BEGIN`` on PostgreSQL), the row lock a claim takes (``FOR UPDATE SKIP LOCKED`` on PostgreSQL;
SQLite's write transaction already serialises claims), and the schema with its version table (``ara_schema``).
A SQLite file from an older ara is upgraded in place (it has one user, and it is backed up after writes); a
PostgreSQL database from an older ara is refused with the command that upgrades it, because other machines may
still run the older version against it. Connection failures (unreachable host, wrong password, missing database)
become ``DatabaseError`` naming the setting with the password masked. Does not cover what the tables mean
(``assistant.campaign.queue``) or run checkpoints (``assistant.campaign.checkpoints``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from assistant.database import DatabaseError
from assistant.paths import ensure_state_dir
from assistant.settings import Settings
from assistant.stores import campaign_queue
from tools.sqlitefile import backup_if_due, guarded

SCHEMA_VERSION = 2
"""The schema this ara reads and writes. 1 = campaigns, entries, events, schedules; 2 = + workers."""

Dialect = Literal["sqlite", "postgresql"]

_TABLES_V1 = {
    "campaigns": """
  id TEXT PRIMARY KEY, name TEXT NOT NULL, file TEXT NOT NULL, spec_json TEXT NOT NULL,
  status TEXT NOT NULL, created_at {real} NOT NULL, finished_at {real},
  tokens BIGINT NOT NULL DEFAULT 0, dollars {real} NOT NULL DEFAULT 0,
  kernel_s {real} NOT NULL DEFAULT 0, wall_s {real} NOT NULL DEFAULT 0, stop_reason TEXT""",
    "entries": """
  campaign_id TEXT NOT NULL, entry_id TEXT NOT NULL, position INTEGER NOT NULL, spec_json TEXT NOT NULL,
  run_id TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  resumes INTEGER NOT NULL DEFAULT 0, next_attempt_at {real} NOT NULL DEFAULT 0, heartbeat_at {real},
  owner TEXT, outcome_json TEXT, error TEXT, started_at {real}, finished_at {real},
  PRIMARY KEY (campaign_id, entry_id)""",
    "campaign_events": """
  seq {serial}, campaign_id TEXT NOT NULL, entry_id TEXT,
  at {real} NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL""",
    "schedules": """
  id TEXT PRIMARY KEY, file TEXT NOT NULL, cron TEXT NOT NULL, misfire TEXT NOT NULL,
  created_at {real} NOT NULL, last_fire {real}, enabled INTEGER NOT NULL DEFAULT 1""",
}
_TABLES_V2 = {
    "workers": """
  name TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
  started_at {real} NOT NULL, heartbeat_at {real} NOT NULL, status TEXT NOT NULL, stopped_at {real},
  entries_done INTEGER NOT NULL DEFAULT 0""",
}
_TYPES: dict[Dialect, dict[str, str]] = {
    "sqlite": {"real": "REAL", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"},
    "postgresql": {"real": "DOUBLE PRECISION", "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"},
}


def migration(version: int, dialect: Dialect) -> list[str]:
    """The statements that take the schema from ``version - 1`` to ``version``."""
    tables = {1: _TABLES_V1, 2: _TABLES_V2}[version]
    out = [
        f"CREATE TABLE IF NOT EXISTS {name} ({columns.format(**_TYPES[dialect])}\n)" for name, columns in tables.items()
    ]
    if version == 1:
        out.append("CREATE INDEX IF NOT EXISTS entries_by_status ON entries (campaign_id, status, position)")
        out.append("CREATE INDEX IF NOT EXISTS events_by_campaign ON campaign_events (campaign_id, seq)")
    return out


class Cursor(Protocol):
    """What ``execute`` returns on both backends."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    """One connection inside a transaction (or autocommit for reads); rows are read as ``row["column"]``."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...


class QueueDatabase(Protocol):
    """One campaign database. SQL is written with ``?`` placeholders; the PostgreSQL side translates them."""

    dialect: Dialect
    where: str
    """For messages: the SQLite file, or the masked URL."""
    lock_row: str
    """Appended to a ``SELECT`` of one entry to lock it for a claim (empty on SQLite)."""

    def read(self) -> AbstractContextManager[Conn]: ...

    def tx(self) -> AbstractContextManager[Conn]: ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...


class _SqliteConn:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.db.execute(sql, tuple(params))


class SqliteDatabase:
    """``<workspace>/.ara/campaigns.sqlite`` (WAL, one connection per call); corrupt files raise with the backup."""

    dialect: Dialect = "sqlite"
    lock_row = ""

    def __init__(self, workspace: Path) -> None:
        self.path = ensure_state_dir(workspace) / "campaigns.sqlite"
        self.store = campaign_queue(workspace)
        self.where = str(self.path)
        with self.tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS ara_schema (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM ara_schema").fetchone()
            if row is not None:
                found = int(row["version"])
            else:
                legacy = db.execute("SELECT name FROM sqlite_master WHERE name = 'campaigns'").fetchone()
                found = 1 if legacy else 0
            check_not_newer(found, self.where)
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in migration(version, "sqlite"):
                    db.execute(statement)
            if row is None:
                db.execute("INSERT INTO ara_schema (version) VALUES (?)", (SCHEMA_VERSION,))
            elif found < SCHEMA_VERSION:
                db.execute("UPDATE ara_schema SET version = ?", (SCHEMA_VERSION,))

    @contextmanager
    def read(self) -> Iterator[Conn]:
        """A connection for reads; a corrupt file raises ``StoreCorruptError`` (naming the backup), unchanged."""
        with guarded(self.store):
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
                db.row_factory = sqlite3.Row
                yield _SqliteConn(db)
            finally:
                db.close()

    @contextmanager
    def tx(self) -> Iterator[Conn]:
        """A write transaction (``BEGIN IMMEDIATE``: claims from several processes are serialised)."""
        with self.read() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        backup_if_due(self.path)

    def schema_version(self) -> int:
        """The version recorded in ``ara_schema``."""
        with self.read() as db:
            return int(db.execute("SELECT version FROM ara_schema").fetchone()["version"])

    def close(self) -> None:
        """Nothing is held between calls."""


def check_not_newer(found: int, where: str) -> None:
    """Refuse a database written by a newer ara (its tables may mean something this version does not know)."""
    if found > SCHEMA_VERSION:
        raise DatabaseError(
            f"the campaign database {where} has schema version {found}, newer than this ara understands "
            f"({SCHEMA_VERSION}); upgrade ara on this machine ('git pull && make setup'). Nothing was changed.",
            title="Campaign database is newer",
        )


def open_database(settings: Settings) -> QueueDatabase:
    """The configured campaign database: PostgreSQL when ``database.url`` is set, else the workspace's SQLite file.

    Raises:
        DatabaseError: the server cannot be reached, refuses the credentials, or has an older or newer schema.
    """
    if settings.database.url is None:
        return SqliteDatabase(settings.workspace)
    from assistant.campaign.postgres import PostgresDatabase

    return PostgresDatabase(settings.database.url.get_secret_value())
