"""The review audit log: ``<workspace>/.ara/audit.jsonl``, append-only and hash-chained.

Covers appending one JSON line per review action (viewed, approved, rejected, revised, refused attempts) and
verifying the chain: each entry carries the sha256 of the line before it, so an edited or deleted line is
detected by ``verify``. Appends happen under the workspace lock, so the chain never forks. Does not cover what
the actions do (``assistant.review.service``, ``assistant.review.approve``).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AuditAction = Literal["viewed", "approved", "rejected", "revised", "refused"]
GENESIS = "0" * 64


class AuditEntry(BaseModel):
    """One review action."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ts: datetime = Field(default_factory=lambda: datetime.now(UTC))
    """When it happened (UTC)."""
    action: AuditAction
    """What happened; ``refused`` records an approval or rejection that was turned down, with the reason."""
    proposal_id: int
    """The proposal acted on."""
    run_id: str
    """The proposal's run."""
    actor: str
    """``Name <email>`` of the reviewer (or ``ara-agent`` for revisions)."""
    channel: str | None = None
    """How authority was established for decisions: ``tty``, ``tui`` or ``explicit`` (``--reviewer``)."""
    head: str | None = None
    """The proposal commit the action concerned (pinned head for views and approvals)."""
    comment: str | None = None
    """The reviewer's comment, or the refusal's reason."""
    merge_commit: str | None = None
    """The main line's merge commit, for approvals."""
    revision_id: int | None = None
    """The new proposal, for revisions."""
    prev: str = GENESIS
    """sha256 of the previous line (hex), ``0`` * 64 for the first."""


class AuditLog:
    """Appends to and reads ``path``. Callers hold the workspace lock while appending."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Chain ``entry`` to the last line, write it with one ``O_APPEND`` write, and fsync."""
        chained = entry.model_copy(update={"prev": self._last_hash()})
        line = (chained.model_dump_json() + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return chained

    def entries(self) -> list[AuditEntry]:
        """Every entry, oldest first."""
        if not self.path.is_file():
            return []
        with self.path.open("rb") as fh:
            return [AuditEntry.model_validate_json(line) for line in fh if line.strip()]

    def verify(self) -> list[str]:
        """Problems with the chain (empty when intact): each names the line number and what is wrong."""
        problems: list[str] = []
        if not self.path.is_file():
            return problems
        expected = GENESIS
        with self.path.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    prev = json.loads(line)["prev"]
                except (ValueError, KeyError, TypeError):
                    problems.append(f"{self.path}:{number}: not an audit entry")
                    prev = None
                if prev is not None and prev != expected:
                    problems.append(f"{self.path}:{number}: chain broken (a line before it was edited or removed)")
                expected = hashlib.sha256(line).hexdigest()
        return problems

    def _last_hash(self) -> str:
        if not self.path.is_file():
            return GENESIS
        with self.path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            block, data = 4096, b""
            while end > 0:
                start = max(0, end - block)
                fh.seek(start)
                data = fh.read(end - start) + data
                end = start
                if data.rstrip(b"\n").count(b"\n") >= 1:
                    break
            last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        return hashlib.sha256(last + b"\n").hexdigest() if last else GENESIS
