"""Damage real SQLite files the ways disks and crashes do, and fingerprint folders to prove nothing changed."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

PAGE = 4096


def checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the file (as the last connection's close does) so damage hits real pages."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def smash_pages(path: Path) -> None:
    """Overwrite every page after the first (the tables, not the schema) with a byte pattern: "malformed"."""
    checkpoint(path)
    data = bytearray(path.read_bytes())
    assert len(data) > PAGE, f"{path} has a single page; nothing to smash"
    data[PAGE:] = bytes([0xA5]) * (len(data) - PAGE)
    path.write_bytes(bytes(data))


def smash_header(path: Path) -> None:
    """Overwrite the 100-byte header: "file is not a database"."""
    checkpoint(path)
    data = bytearray(path.read_bytes())
    data[:100] = b"\x00garbage" * 12 + b"\x00" * 4
    path.write_bytes(bytes(data))


def fingerprint(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative path -> digest)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
