"""Run checkpoints in PostgreSQL (``ARA_DATABASE_URL``), so a run started on one machine resumes on another.

Covers opening LangGraph's ``AsyncPostgresSaver`` for the duration of a block: one autocommit connection, its
tables created or migrated by ``setup`` under a session advisory lock (two workers starting at once would
otherwise race on the migration table), and connection failures turned into ``DatabaseError`` naming the setting
with the password masked. The checkpoints hold the same state as the SQLite default (the thread id is the run id).
Does not choose between the two (``assistant.graph.session``) or cover the SQLite file (``assistant.graph.runner``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from assistant.database import connect_error

_SETUP_LOCK = 7_232_021
"""``pg_advisory_lock`` key held while the checkpoint tables are created or migrated."""


@asynccontextmanager
async def open_postgres_checkpointer(url: str) -> AsyncIterator[AsyncPostgresSaver]:
    """LangGraph's PostgreSQL checkpointer on ``url``, set up and open for the block.

    Raises:
        DatabaseError: the server cannot be reached or refuses the credentials (the message names
            ``ARA_DATABASE_URL`` and masks the password).
    """
    try:
        opened = AsyncPostgresSaver.from_conn_string(url)
        saver = await opened.__aenter__()
    except psycopg.OperationalError as err:
        raise connect_error(url, err, "the checkpoint database") from None
    try:
        await saver.conn.execute(f"SELECT pg_advisory_lock({_SETUP_LOCK})")  # type: ignore[union-attr]
        try:
            await saver.setup()
        finally:
            await saver.conn.execute(f"SELECT pg_advisory_unlock({_SETUP_LOCK})")  # type: ignore[union-attr]
        yield saver
    finally:
        await opened.__aexit__(None, None, None)
