"""The campaign database on a PostgreSQL server (``ARA_DATABASE_URL``), shared by workers on several machines.

Covers connecting (one ``psycopg_pool`` pool per process; autocommit reads, explicit transactions for writes),
turning connection failures into ``DatabaseError`` messages that name the setting, mask the password and say what
to check, the schema and its version under an advisory lock (so two machines starting at once create it once),
refusing a schema from an older or newer ara, and ``upgrade`` (the explicit step that moves an older schema
forward, keeping every row). Claims lock the entry they take with ``FOR UPDATE SKIP LOCKED``, so a worker never
waits on, or takes, an entry another worker is claiming. Does not cover what the tables mean
(``assistant.campaign.queue``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from assistant.campaign.db import SCHEMA_VERSION, Conn, Cursor, Dialect, check_not_newer, migration
from assistant.database import SETTING, DatabaseError, connect_error, masked

_SCHEMA_LOCK = 7_232_020
"""``pg_advisory_xact_lock`` key held while the schema is created or upgraded."""


class _PgConn:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.conn.execute(sql.replace("?", "%s"), tuple(params))


class PostgresDatabase:
    """The campaign tables in the PostgreSQL database at ``url``.

    Args:
        url: ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE`` (any libpq URL).
        check_schema: Refuse a database whose schema is older or newer than this ara's (``upgrade`` skips it).

    Raises:
        DatabaseError: unreachable, wrong credentials, no such database, or a schema of another version.
    """

    dialect: Dialect = "postgresql"
    lock_row = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, *, check_schema: bool = True) -> None:
        self.url = url
        self.where = masked(url)
        try:
            psycopg.connect(url, connect_timeout=10).close()
        except (psycopg.OperationalError, psycopg.ProgrammingError) as err:
            raise connect_error(url, err) from None
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=8,
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": 10},
            check=ConnectionPool.check_connection,
            timeout=30,
            open=True,
            name="ara-campaigns",
        )
        if check_schema:
            self._prepare()

    @contextmanager
    def read(self) -> Iterator[Conn]:
        """A pooled connection in autocommit mode (each statement sees committed data)."""
        try:
            with self.pool.connection() as conn:
                yield _PgConn(conn)
        except PoolTimeout as err:
            raise connect_error(self.url, err) from None

    @contextmanager
    def tx(self) -> Iterator[Conn]:
        """One transaction (READ COMMITTED; claims lock their row)."""
        with self.read() as conn:
            assert isinstance(conn, _PgConn)
            with conn.conn.transaction():
                yield conn

    def _found_version(self, db: Conn) -> int | None:
        if db.execute("SELECT to_regclass('ara_schema') AS t").fetchone()["t"] is None:
            return None
        row = db.execute("SELECT version FROM ara_schema").fetchone()
        return int(row["version"]) if row else 0

    def _prepare(self) -> None:
        with self.tx() as db:
            db.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            found = self._found_version(db)
            if found is None:
                for version in range(1, SCHEMA_VERSION + 1):
                    for statement in migration(version, "postgresql"):
                        db.execute(statement)
                db.execute("CREATE TABLE ara_schema (version INTEGER NOT NULL)")
                db.execute("INSERT INTO ara_schema (version) VALUES (?)", (SCHEMA_VERSION,))
                return
        check_not_newer(found, f"{SETTING} = {self.where}")
        if found < SCHEMA_VERSION:
            raise DatabaseError(
                f"the campaign database {SETTING} = {self.where} has schema version {found}, older than this "
                f"ara's ({SCHEMA_VERSION}). Stop the workers that run the older ara, back the database up "
                "(pg_dump), then upgrade it once with 'ara campaign upgrade-db'. Nothing was changed.",
                title="Campaign database schema is older",
            )

    def schema_version(self) -> int:
        """The version recorded in ``ara_schema`` (0 when the table is empty)."""
        with self.read() as db:
            return self._found_version(db) or 0

    def upgrade(self) -> tuple[int, int]:
        """Apply the migrations from the recorded version to ``SCHEMA_VERSION``; returns (from, to). Keeps every row."""
        with self.tx() as db:
            db.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            found = self._found_version(db) or 0
            check_not_newer(found, f"{SETTING} = {self.where}")
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in migration(version, "postgresql"):
                    db.execute(statement)
            db.execute("CREATE TABLE IF NOT EXISTS ara_schema (version INTEGER NOT NULL)")
            db.execute("DELETE FROM ara_schema")
            db.execute("INSERT INTO ara_schema (version) VALUES (?)", (SCHEMA_VERSION,))
        return found, SCHEMA_VERSION

    def close(self) -> None:
        """Close the pool."""
        self.pool.close()
