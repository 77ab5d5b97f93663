"""The audit log's key: a per-user secret outside every workspace, made on first use.

Covers finding the key file (``ARA_AUDIT_KEY_FILE``, else ``$XDG_CONFIG_HOME/ara/audit.key``, else
``~/.config/ara/audit.key``), creating it with mode 0600 in a 0700 folder on first use, refusing one that other
users can read or write or that sits inside the workspace it would protect, and the tail anchors kept beside it
(the last sequence number and MAC of each audit log, so removing records from the end is noticed too). Does not
cover the log itself (``assistant.review.audit``).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
from pathlib import Path
from typing import NamedTuple

from assistant.review.errors import ReviewError

KEY_ENV = "ARA_AUDIT_KEY_FILE"
"""Environment variable naming the key file (tests and shared review accounts set it)."""


class AuditKeyError(ReviewError):
    """The audit key file cannot be used (unsafe permissions, unreadable, malformed, inside the workspace)."""


class Anchor(NamedTuple):
    """The last record an append wrote to one audit log: its sequence number and MAC."""

    seq: int
    mac: str


def key_path() -> Path:
    """Where the key lives: ``$ARA_AUDIT_KEY_FILE``, else the user's config folder."""
    explicit = os.environ.get(KEY_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config).expanduser().resolve() / "ara" / "audit.key"


def load_key(workspace: Path, *, create: bool) -> bytes | None:
    """The key bytes; made (0600) when missing and ``create`` is true, else None when missing.

    Raises:
        AuditKeyError: the file lies inside ``workspace``, is readable or writable by other users, belongs to
            another user, or does not hold a 64-hex-digit key.
    """
    path = key_path()
    root = workspace.resolve()
    if path == root or root in path.parents:
        raise AuditKeyError(
            f"the audit key {path} lies inside the workspace {root}, where anything that writes the workspace "
            f"could read it; point {KEY_ENV} at a file outside it (default ~/.config/ara/audit.key)",
            title="Audit key inside the workspace",
        )
    if not path.exists():
        if not create:
            return None
        _create(path)
    try:
        info = path.stat()
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise AuditKeyError(f"cannot read the audit key {path}: {err}", title="Audit key unreadable") from err
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO) or info.st_uid != os.getuid():
        raise AuditKeyError(
            f"the audit key {path} is open to other users (mode {stat.filemode(info.st_mode)}, owner uid "
            f"{info.st_uid}); anyone who can read it can forge audit records. Run 'chmod 600 {path}' as its "
            "owner. Nothing was written.",
            title="Audit key not private",
        )
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise AuditKeyError(
            f"the audit key {path} does not hold 64 hex digits; restore it from a backup (records written with "
            "the old key verify only with it), or move it away to start a new key. Nothing was written.",
            title="Audit key malformed",
        )
    return key


def _create(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _anchor_file(log: Path) -> Path:
    digest = hashlib.sha256(str(log.resolve()).encode()).hexdigest()[:32]
    return key_path().parent / "audit-anchors" / f"{digest}.json"


def read_anchor(log: Path) -> Anchor | None:
    """The anchor recorded for ``log`` by this user's last append, if any."""
    try:
        data = json.loads(_anchor_file(log).read_text(encoding="utf-8"))
        return Anchor(int(data["seq"]), str(data["mac"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_anchor(log: Path, anchor: Anchor) -> None:
    """Record ``anchor`` as the tail of ``log`` (temporary file + rename, so a crash leaves the old one)."""
    target = _anchor_file(log)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"log": str(log.resolve()), "seq": anchor.seq, "mac": anchor.mac}), encoding="utf-8")
    os.replace(tmp, target)
