"""The chat log: every ``ara chat`` exchange in ``<workspace>/.ara/logs.sqlite``, grouped into conversations.

Covers the schema (versioned with ``PRAGMA user_version``), ``Exchange`` records (prompt, system prompt, response,
model, endpoint, tokens, duration, conversation id, the library passages given and the citations found), writing
one, reading the latest conversation, one conversation and the most recent exchanges. A corrupt file raises
``StoreCorruptError`` naming it, its backup and what to do; nothing is written to it. Does not cover the model
call or printing (``assistant.cli.chat``, ``assistant.cli.logs``).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from assistant.errors import AssistantError
from assistant.paths import state_dir
from tools.sqlitefile import Store, backup_if_due, guard_methods, guarded

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS exchanges (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    created TEXT NOT NULL,
    model TEXT NOT NULL,
    base_url TEXT NOT NULL,
    prompt TEXT NOT NULL,
    system TEXT NOT NULL,
    response TEXT NOT NULL,
    passages TEXT NOT NULL,
    citations TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    tokens_estimated INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS exchanges_conversation ON exchanges (conversation_id, created);
CREATE INDEX IF NOT EXISTS exchanges_created ON exchanges (created);
"""


class Citation(BaseModel):
    """A ``paper#chunk`` key the answer cites, and whether it was one of the passages the model was given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    """The key as written in the answer."""
    known: bool
    """True when it is one of the passages given with the prompt."""


class Exchange(BaseModel):
    """One prompt and its answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    """ULID of the exchange (sorts by time)."""
    conversation_id: str
    """ULID of the conversation (the first exchange's id); ``ara chat -c`` continues it."""
    created: str
    """UTC time the answer finished, ISO 8601."""
    model: str
    """Model name sent."""
    base_url: str
    """Endpoint."""
    prompt: str
    """What the person asked (without the library passages)."""
    system: str
    """The system prompt sent."""
    response: str
    """The model's answer."""
    passages: list[str] = Field(default_factory=list)
    """Keys of the library passages sent with the prompt."""
    citations: list[Citation] = Field(default_factory=list)
    """Keys the answer cites, in order of first mention."""
    prompt_tokens: int = 0
    """Prompt tokens (as the endpoint reported, or estimated)."""
    completion_tokens: int = 0
    """Completion tokens."""
    tokens_estimated: bool = False
    """True when the endpoint gave no usage and the counts are estimates."""
    duration_ms: int = 0
    """Wall time of the model call."""


def log_path(workspace: Path) -> Path:
    """``<workspace>/.ara/logs.sqlite``."""
    return state_dir(workspace) / "logs.sqlite"


def chat_log_store(workspace: Path) -> Store:
    """The chat log with its way back when corrupt."""
    path = log_path(workspace)
    return Store(
        path,
        "chat log",
        otherwise=f"move it aside (mv {path} {path}.corrupt): past exchanges stay in that file, new ones go to a "
        "fresh log",
    )


def new_id() -> str:
    """A new ULID (time-ordered)."""
    from ulid import ULID

    return str(ULID())


def now() -> str:
    """The current UTC time, ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@guard_methods(lambda log: log.store)
class ChatLog:
    """The workspace's chat log (created on first use)."""

    def __init__(self, workspace: Path) -> None:
        self.store = chat_log_store(workspace)
        self.path = self.store.path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with guarded(self.store):
            self.db = sqlite3.connect(str(self.path))
            self.db.execute("PRAGMA journal_mode=WAL")
            version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                self.db.close()
                raise AssistantError(
                    f"{self.path} was written by a newer ara (chat log schema {version}, this one reads "
                    f"{SCHEMA_VERSION}); upgrade ara, or move the file aside to start a new log",
                    title="Chat log from a newer ara",
                )
            self.db.executescript(_SCHEMA)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> ChatLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, exchange: Exchange) -> None:
        """Write one exchange (committed at once; the file is backed up when the last copy is old)."""
        self.db.execute(
            "INSERT INTO exchanges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                exchange.id,
                exchange.conversation_id,
                exchange.created,
                exchange.model,
                exchange.base_url,
                exchange.prompt,
                exchange.system,
                exchange.response,
                json.dumps(exchange.passages),
                json.dumps([c.model_dump() for c in exchange.citations]),
                exchange.prompt_tokens,
                exchange.completion_tokens,
                int(exchange.tokens_estimated),
                exchange.duration_ms,
            ),
        )
        self.db.commit()
        backup_if_due(self.path)

    @staticmethod
    def _exchange(row: tuple[object, ...]) -> Exchange:
        keys = list(Exchange.model_fields)
        data = dict(zip(keys, row, strict=True))
        data["passages"] = json.loads(str(data["passages"]))
        data["citations"] = json.loads(str(data["citations"]))
        data["tokens_estimated"] = bool(data["tokens_estimated"])
        return Exchange.model_validate(data)

    _COLUMNS = (
        "id, conversation_id, created, model, base_url, prompt, system, response, passages, citations, "
        "prompt_tokens, completion_tokens, tokens_estimated, duration_ms"
    )

    def latest_conversation(self) -> str | None:
        """The id of the conversation of the most recent exchange, or None when the log is empty."""
        row = self.db.execute("SELECT conversation_id FROM exchanges ORDER BY created DESC, id DESC LIMIT 1").fetchone()
        return str(row[0]) if row else None

    def conversation(self, conversation_id: str) -> list[Exchange]:
        """The exchanges of one conversation, oldest first (empty when there is no such conversation)."""
        rows = self.db.execute(
            f"SELECT {self._COLUMNS} FROM exchanges WHERE conversation_id = ? ORDER BY created, id",
            (conversation_id,),
        ).fetchall()
        return [self._exchange(tuple(r)) for r in rows]

    def recent(self, limit: int | None) -> list[Exchange]:
        """The ``limit`` most recent exchanges (all when None), oldest first."""
        sql = f"SELECT {self._COLUMNS} FROM exchanges ORDER BY created DESC, id DESC"
        rows = self.db.execute(sql + (" LIMIT ?" if limit is not None else ""), (limit,) if limit is not None else ())
        return [self._exchange(tuple(r)) for r in reversed(rows.fetchall())]

    def count(self) -> int:
        """Exchanges logged."""
        return int(self.db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0])
