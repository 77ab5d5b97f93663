"""Chat history per thread, and the note that another ``ara tui`` holds the same workspace.

Covers ``ChatHistory`` (one JSONL file per thread under ``<workspace>/.ara/tui/threads``; each message is one
``O_APPEND`` line, so two TUIs on one workspace interleave whole lines and never tear them) and ``InstanceLock``
(an advisory ``flock`` on ``<workspace>/.ara/tui/instance.lock``: the second TUI still opens, and is told that
another one is running so it does not expect to see that one's runs live). Does not cover run state (the
graph's checkpoints) or the run log.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

log = logging.getLogger(__name__)

Role = Literal["user", "assistant", "system"]
_THREAD_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ChatMessage(BaseModel):
    """One message of a chat thread."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    """Who wrote it."""
    content: str
    """The text."""
    ts: float = 0.0
    """Unix time."""


def tui_dir(workspace: Path) -> Path:
    """``<workspace>/.ara/tui``."""
    return workspace / ".ara" / "tui"


class ChatHistory:
    """The chat threads of one workspace.

    Args:
        workspace: The research workspace.
    """

    def __init__(self, workspace: Path) -> None:
        self.root = tui_dir(workspace) / "threads"

    def _path(self, thread_id: str) -> Path:
        if not _THREAD_RE.match(thread_id):
            raise ValueError(
                f"thread name {thread_id!r} is not allowed; use 1-64 letters, digits, '.', '_' or '-' (e.g. main)"
            )
        return self.root / f"{thread_id}.jsonl"

    def threads(self) -> list[str]:
        """Thread names, most recently written first."""
        if not self.root.is_dir():
            return []
        files = sorted(self.root.glob("*.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True)
        return [p.stem for p in files]

    def append(self, thread_id: str, role: Role, content: str) -> ChatMessage:
        """Append one message (one line, one ``write`` with ``O_APPEND``)."""
        message = ChatMessage(role=role, content=content, ts=time.time())
        path = self._path(thread_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = (message.model_dump_json() + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return message

    def load(self, thread_id: str, limit: int = 200) -> list[ChatMessage]:
        """The last ``limit`` messages of a thread (a torn or foreign line is skipped with a warning)."""
        path = self._path(thread_id)
        if not path.is_file():
            return []
        messages: list[ChatMessage] = []
        with path.open(encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    messages.append(ChatMessage.model_validate(json.loads(line)))
                except (json.JSONDecodeError, ValidationError):
                    log.warning("%s:%d: skipping an unreadable history line", path, number)
        return messages[-limit:]


class InstanceLock:
    """An advisory lock saying "a TUI is open on this workspace"; ``held_by`` names the other one when taken."""

    def __init__(self, workspace: Path) -> None:
        self.path = tui_dir(workspace) / "instance.lock"
        self._fh: IO[str] | None = None
        self.held_by: str | None = None

    def acquire(self) -> bool:
        """Take the lock; False (with ``held_by`` set) when another TUI holds it. Never blocks."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            self.held_by = fh.read().strip() or "another process"
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        self._fh = fh
        return True

    def release(self) -> None:
        """Drop the lock (closing the file releases the flock)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
