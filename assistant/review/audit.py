"""The review audit log: ``<workspace>/.ara/audit.jsonl``, append-only and chained with a keyed MAC.

Covers appending one JSON line per review action (viewed, approved, rejected, revised, refused attempts) and
verifying the whole log. Each record carries a sequence number, the MAC of the record before it (``prev``) and
its own ``mac``: HMAC-SHA256, under a per-user key kept outside the workspace (``assistant.review.auditkey``),
of the record's canonical JSON. Editing a record breaks its MAC; deleting, inserting or reordering records breaks
the sequence and the chain; removing records from the end is caught by the tail anchor kept beside the key.
Someone who can write the workspace but not read the key cannot forge a record that verifies. Records written
before the log was keyed (no ``mac``) are checked with their old unkeyed sha256 chain and counted as legacy.
Appends happen under the workspace lock, so the chain never forks. Does not cover what the actions do
(``assistant.review.service``, ``assistant.review.approve``).
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.review.auditkey import Anchor, key_path, load_key, read_anchor, write_anchor

logger = logging.getLogger(__name__)

AuditAction = Literal["viewed", "approved", "rejected", "revised", "refused"]
GENESIS = "0" * 64


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


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
    """``Name <email>`` of the reviewer, or ara's identity with ``(ARA_ROLE=agent)`` for the agent's processes."""
    channel: str | None = None
    """How the caller was established: ``tty``, ``tui``, ``explicit`` (``--reviewer``) for decisions; for views
    also ``non-interactive`` (no terminal) and ``agent``."""
    head: str | None = None
    """The proposal commit the action concerned (the head shown, or the head an approval was asked to merge)."""
    pinned: bool | None = None
    """For views: whether the head was recorded as the one a human last looked at."""
    comment: str | None = None
    """The reviewer's comment, or the refusal's reason."""
    merge_commit: str | None = None
    """The main line's merge commit, for approvals."""
    revision_id: int | None = None
    """The new proposal, for revisions."""
    os_user: str = Field(default_factory=_os_user)
    """The operating-system account of the process that wrote the record."""
    pid: int = Field(default_factory=os.getpid)
    """The process that wrote the record."""
    seq: int = 0
    """1-based position in the log (set by ``append``)."""
    prev: str = GENESIS
    """MAC of the previous record (``0`` * 64 for the first; the sha256 of the line for a legacy record)."""
    mac: str = ""
    """HMAC-SHA256 of this record's canonical JSON (every field but ``mac``) under the audit key."""


class AuditProblem(NamedTuple):
    """One thing wrong with the log: where (line and sequence number) and what."""

    line: int
    seq: int | None
    what: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f" (record {self.seq})" if self.seq is not None else "")
        return f"{where}: {self.what}"


class AuditCheck(NamedTuple):
    """What ``verify`` found."""

    records: int
    """Lines in the log."""
    legacy: int
    """Records written before the log was keyed (checked with the unkeyed chain only)."""
    problems: list[AuditProblem]
    """Everything wrong, in file order (empty when the log is intact)."""
    key_file: Path
    """The key the log was checked with."""


def _canonical(record: dict[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != "mac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _mac(key: bytes, record: dict[str, Any]) -> str:
    return hmac.new(key, _canonical(record), hashlib.sha256).hexdigest()


class AuditLog:
    """Appends to and reads ``path``. Callers hold the workspace lock while appending."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.workspace = path.parent.parent

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Chain ``entry`` to the last record, MAC it, write it with one ``O_APPEND`` write, and fsync.

        Raises:
            AuditKeyError: the key file is unusable (nothing is written).
        """
        key = load_key(self.workspace, create=True)
        assert key is not None
        seq, prev = self._tail()
        record = entry.model_copy(update={"seq": seq + 1, "prev": prev, "mac": ""}).model_dump(mode="json")
        chained = entry.model_copy(update={"seq": seq + 1, "prev": prev, "mac": _mac(key, record)})
        line = (chained.model_dump_json() + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        write_anchor(self.path, Anchor(chained.seq, chained.mac))
        return chained

    def entries(self) -> list[AuditEntry]:
        """Every readable entry, oldest first (a line that is not an entry is skipped with a warning)."""
        if not self.path.is_file():
            return []
        out: list[AuditEntry] = []
        with self.path.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    out.append(AuditEntry.model_validate_json(line))
                except ValidationError:
                    logger.warning("%s:%d: not an audit entry; skipped (run 'ara review verify')", self.path, number)
        return out

    def verify(self) -> AuditCheck:
        """Check every record's MAC, the sequence, the chain and the tail anchor; problems in file order.

        Raises:
            AuditKeyError: the key file is unusable.
        """
        key = load_key(self.workspace, create=False)
        problems: list[AuditProblem] = []
        lines = self.path.read_bytes().splitlines(keepends=True) if self.path.is_file() else []
        expected_prev, expected_seq, legacy, keyed_seen = GENESIS, 1, 0, False
        macs: dict[int, str] = {}
        last: Anchor | None = None
        for number, raw in enumerate(lines, start=1):
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                problems.append(AuditProblem(number, None, "not a JSON audit record (edited, or a torn write)"))
                expected_prev, expected_seq = hashlib.sha256(raw).hexdigest(), expected_seq + 1
                continue
            seq = record.get("seq") if isinstance(record.get("seq"), int) else None
            if not record.get("mac"):
                legacy += 1
                if keyed_seen:
                    problems.append(AuditProblem(number, seq, "a record without a MAC after keyed records (inserted)"))
                elif record.get("prev") != expected_prev:
                    problems.append(AuditProblem(number, seq, "legacy chain broken (a line before it was edited)"))
                expected_prev, expected_seq = hashlib.sha256(raw).hexdigest(), expected_seq + 1
                continue
            keyed_seen = True
            if seq is not None and seq - 1 in macs:
                expected_prev = macs[seq - 1]
            problems.extend(self._check(number, record, seq, key, expected_seq, expected_prev, macs))
            expected_prev = str(record["mac"])
            if seq is not None:
                macs[seq] = expected_prev
                expected_seq = max(expected_seq, seq + 1)
            else:
                expected_seq += 1
            last = Anchor(max(macs, default=0), macs.get(max(macs, default=0), ""))
        anchor = read_anchor(self.path)
        if anchor is not None and key is not None and (last is None or anchor.seq > last.seq):
            problems.append(
                AuditProblem(
                    len(lines) + 1,
                    anchor.seq,
                    f"the log ends at record {last.seq if last else 0} but record {anchor.seq} was written "
                    "(records were removed from the end)",
                )
            )
        return AuditCheck(len(lines), legacy, problems, key_path())

    @staticmethod
    def _check(
        number: int,
        record: dict[str, Any],
        seq: int | None,
        key: bytes | None,
        expected_seq: int,
        expected_prev: str,
        seen: dict[int, str],
    ) -> list[AuditProblem]:
        found: list[AuditProblem] = []
        if key is None:
            found.append(AuditProblem(number, seq, "no audit key on this account to check the MAC with"))
        elif not hmac.compare_digest(str(record["mac"]), _mac(key, record)):
            found.append(
                AuditProblem(number, seq, "MAC does not match: the record was edited (or written with another key)")
            )
        if seq is None:
            found.append(AuditProblem(number, None, "no sequence number (edited)"))
        elif seq in seen:
            found.append(AuditProblem(number, seq, f"record {seq} appears twice (duplicated)"))
        elif seq > expected_seq:
            missing = f"record {expected_seq}" if seq == expected_seq + 1 else f"records {expected_seq}-{seq - 1}"
            found.append(AuditProblem(number, seq, f"{missing} before it is missing (deleted, or moved later)"))
        elif seq < expected_seq:
            found.append(AuditProblem(number, seq, f"expected record {expected_seq} here (records reordered)"))
        elif record.get("prev") != expected_prev:
            found.append(AuditProblem(number, seq, "chain broken: the record before it was replaced"))
        return found

    def _tail(self) -> tuple[int, str]:
        """(sequence number, chain value) of the last record; (0, GENESIS) for an empty log."""
        if not self.path.is_file():
            return 0, GENESIS
        with self.path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            data = b""
            while end > 0 and data.rstrip(b"\n").count(b"\n") < 1:
                start = max(0, end - 4096)
                fh.seek(start)
                data = fh.read(end - start) + data
                end = start
        last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        if not last.strip():
            return 0, GENESIS
        try:
            record = json.loads(last)
        except ValueError:
            record = None
        if isinstance(record, dict) and record.get("mac") and isinstance(record.get("seq"), int):
            return int(record["seq"]), str(record["mac"])
        with self.path.open("rb") as fh:
            count = sum(1 for line in fh if line.strip())
        return count, hashlib.sha256(last + b"\n").hexdigest()
