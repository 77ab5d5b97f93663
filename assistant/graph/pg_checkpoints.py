"""Run checkpoints in PostgreSQL (``ARA_DATABASE_URL``), so a run started on one machine resumes on another.

Covers opening LangGraph's ``AsyncPostgresSaver`` for the duration of a block: one autocommit connection, its
tables created or migrated by ``setup`` under a session advisory lock (two workers starting at once would
otherwise race on the migration table; the lock is polled, never waited on, because the migrations'
``CREATE INDEX CONCURRENTLY`` waits for every open transaction, a blocked ``pg_advisory_lock`` call included),
and connection failures turned into ``DatabaseError`` naming the setting with the password masked. The
checkpoints hold the same state as the SQLite default (the thread id is the run id).
Does not choose between the two (``assistant.graph.session``) or cover the SQLite file (``assistant.graph.runner``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from assistant.database import DatabaseError, connect_error, masked

_SETUP_LOCK = 7_232_021
"""Session advisory-lock key held while the checkpoint tables are created or migrated."""
_SETUP_POLL_S = 0.05
_SETUP_WAIT_S = 300.0
"""How long a worker waits for another one's migration before giving up with a clear error."""


async def _take_setup_lock(saver: AsyncPostgresSaver, url: str) -> None:
    """Take the setup lock by polling ``pg_try_advisory_lock``: each try is a transaction that ends at once.

    A blocking ``pg_advisory_lock`` would keep a transaction open while it waits, and the holder's
    ``CREATE INDEX CONCURRENTLY`` waits for that transaction to end: PostgreSQL then reports a deadlock.
    """
    conn = saver.conn
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _SETUP_WAIT_S
    while True:
        cursor = await conn.execute(f"SELECT pg_try_advisory_lock({_SETUP_LOCK}) AS locked")  # type: ignore[union-attr]
        row = await cursor.fetchone()  # the saver's connection returns rows as dicts
        if row is not None and row["locked"]:
            return
        if loop.time() >= deadline:
            raise DatabaseError(
                f"the checkpoint tables on {masked(url)} stayed locked for {_SETUP_WAIT_S:.0f} s by another worker's"
                " set-up. Its index build waits for every older transaction on the database: look for a long-running"
                " or idle-in-transaction session in pg_stat_activity (or a stuck worker), end it, then start again"
            )
        await asyncio.sleep(_SETUP_POLL_S)


@asynccontextmanager
async def open_postgres_checkpointer(url: str) -> AsyncIterator[AsyncPostgresSaver]:
    """LangGraph's PostgreSQL checkpointer on ``url``, set up and open for the block.

    Raises:
        DatabaseError: the server cannot be reached or refuses the credentials (the message names
            ``ARA_DATABASE_URL`` and masks the password), or another worker's set-up held the tables' lock
            for longer than ``_SETUP_WAIT_S``.
    """
    try:
        opened = AsyncPostgresSaver.from_conn_string(url)
        saver = await opened.__aenter__()
    except psycopg.OperationalError as err:
        raise connect_error(url, err, "the checkpoint database") from None
    try:
        await _take_setup_lock(saver, url)
        try:
            await saver.setup()
        finally:
            # A broken connection cannot unlock, and must not replace setup's own error: closing it frees the lock.
            with contextlib.suppress(psycopg.Error):
                await saver.conn.execute(f"SELECT pg_advisory_unlock({_SETUP_LOCK})")  # type: ignore[union-attr]
        yield saver
    finally:
        await opened.__aexit__(None, None, None)
