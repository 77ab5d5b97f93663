"""ara's SQLite files when they go bad: corruption reported with what to do, checks, and automatic backups.

Covers telling a corrupt file (SQLite's ``SQLITE_CORRUPT``/``SQLITE_NOTADB``: "database disk image is
malformed", "file is not a database") from other database errors, turning it into ``StoreCorruptError`` that
names the file and the way back (the automatic backup, or the store's own rebuild command), ``quick_check``
(``PRAGMA quick_check`` on a read-only connection, which never writes), and ``backup_if_due``: SQLite's online
backup API into ``<file>.bak`` at most once per interval, written beside it and renamed into place only after
the copy passes ``quick_check``, so a good backup is never replaced by a bad one. Nothing here deletes or
rewrites a corrupt file. Does not cover what the files hold (their own modules).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from inspect import isgeneratorfunction
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from tools.errors import UserInputError

log = logging.getLogger(__name__)

BACKUP_INTERVAL_S = 600.0
"""A store is copied to ``<file>.bak`` at most this often (after a successful write)."""

_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_CORRUPT_WORDS = ("malformed", "not a database", "database corrupt")

T = TypeVar("T")


class Store(NamedTuple):
    """One SQLite file and how to get it back if it breaks."""

    path: Path
    what: str
    """What it holds, for messages ("the proposal index")."""
    rebuild: str | None = None
    """A command that rebuilds it from its source of truth, when there is one."""
    otherwise: str | None = None
    """What else can be done (and what it costs), e.g. starting a fresh file."""


class StoreCorruptError(UserInputError):
    """A SQLite file ara keeps is corrupt; the message names it and what to do. Nothing was changed."""

    title = "Corrupt database"

    def __init__(self, store: Store, detail: str) -> None:
        super().__init__(f"{store.path} ({store.what}) is corrupt: {detail}. {recovery_advice(store)}")
        self.store = store
        self.title = f"Corrupt {store.what}"


def backup_path(path: Path) -> Path:
    """``<file>.bak``: where the automatic backup of ``path`` lives."""
    return path.with_name(path.name + ".bak")


def recovery_advice(store: Store) -> str:
    """What a person can do about a corrupt ``store``: the backup's restore commands and the rebuild command."""
    path, bak = store.path, backup_path(store.path)
    steps: list[str] = []
    if bak.is_file():
        when = datetime.fromtimestamp(bak.stat().st_mtime, UTC).isoformat(timespec="seconds")
        steps.append(
            f"restore the automatic backup taken {when} (changes since then are lost): "
            f"mv {path} {path}.corrupt && rm -f {path}-wal {path}-shm && cp {bak} {path}"
        )
    else:
        steps.append(f"there is no automatic backup ({bak}) yet")
    if store.rebuild:
        steps.append(f"or rebuild it with '{store.rebuild}' (the corrupt file is kept aside)")
    if store.otherwise:
        steps.append(f"or {store.otherwise}")
    return "To recover: " + "; ".join(steps) + ". Nothing was changed."


def is_corruption(err: BaseException) -> bool:
    """Whether ``err`` is SQLite reporting a corrupt or non-database file (not a lock, a full disk, a bug)."""
    if not isinstance(err, sqlite3.DatabaseError):
        return False
    if getattr(err, "sqlite_errorcode", None) in _CORRUPT_CODES:
        return True
    text = str(err).lower()
    return any(word in text for word in _CORRUPT_WORDS)


@contextmanager
def guarded(store: Store) -> Iterator[None]:
    """Turn a corruption error raised inside the block into ``StoreCorruptError`` naming ``store``."""
    try:
        yield
    except sqlite3.DatabaseError as err:
        if is_corruption(err):
            raise StoreCorruptError(store, str(err)) from err
        raise


def guard_methods(store_of: Callable[[Any], Store]) -> Callable[[type[T]], type[T]]:
    """Class decorator: every public method (generators too) runs under ``guarded(store_of(self))``."""

    def decorate(cls: type[T]) -> type[T]:
        for name, member in list(vars(cls).items()):
            if name.startswith("_") or not callable(member):
                continue
            setattr(cls, name, _wrap(member, store_of))
        return cls

    return decorate


def _wrap(func: Callable[..., Any], store_of: Callable[[Any], Store]) -> Callable[..., Any]:
    if isgeneratorfunction(func):

        @wraps(func)
        def gen(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            with guarded(store_of(self)):
                yield from func(self, *args, **kwargs)

        return gen

    @wraps(func)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with guarded(store_of(self)):
            return func(self, *args, **kwargs)

    return call


def quick_check(path: Path) -> str | None:
    """``PRAGMA quick_check`` of ``path`` on a read-only connection: None when healthy (or absent), else why not."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as err:
        return str(err)
    try:
        rows = [str(r[0]) for r in db.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as err:
        return str(err)
    finally:
        db.close()
    return None if rows == ["ok"] else "; ".join(rows[:5])


def check_store(store: Store) -> None:
    """Raise ``StoreCorruptError`` when ``store`` exists and fails ``quick_check`` (read-only; changes nothing)."""
    problem = quick_check(store.path)
    if problem is not None:
        raise StoreCorruptError(store, problem)


def backup_if_due(path: Path, *, interval_s: float = BACKUP_INTERVAL_S) -> Path | None:
    """Copy ``path`` to ``<file>.bak`` with SQLite's online backup if the last copy is older than ``interval_s``.

    The copy is made beside the backup, checked with ``quick_check`` and only then renamed over it, so a failed
    or corrupt copy keeps the previous backup. Returns the backup's path when one was written.
    """
    bak = backup_path(path)
    try:
        if bak.is_file() and time.time() - bak.stat().st_mtime < interval_s:
            return None
    except OSError:
        return None
    tmp = bak.with_name(f"{bak.name}.{os.getpid()}.tmp")
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            target = sqlite3.connect(tmp)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
        problem = quick_check(tmp)
        if problem is not None:
            log.warning("not replacing the backup of %s: the new copy fails its check (%s)", path, problem)
            tmp.unlink(missing_ok=True)
            return None
        os.replace(tmp, bak)
    except (sqlite3.Error, OSError) as err:
        log.warning("could not back up %s to %s: %s", path, bak, err)
        tmp.unlink(missing_ok=True)
        return None
    return bak
