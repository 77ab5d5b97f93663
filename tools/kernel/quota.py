"""Disk quota for a kernel's writable host directories: a host-side watchdog that measures them and says when to stop.

Covers ``measure_tree`` (the blocks allocated under a directory, walked through directory descriptors with
``O_NOFOLLOW`` so a planted symlink is never followed, hard links counted once, at most ``max_entries`` entries and
``MAX_DEPTH`` levels per scan), ``held_deleted_bytes`` (files a kernel deleted but still holds open, found through
``/proc/<pid>/fd``) and ``DiskWatchdog`` (one thread per kernel that scans every interval and calls ``on_over``
once when usage passes the limit). No size-capped filesystem is used: a loop mount or a quota needs privileges,
and a tmpfs inside the sandbox would hide the files from the host. Does not kill anything itself
(``tools.kernel.local`` does) and does not cover files the kernel maps into memory after deleting them (those
count against its memory limit).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

MAX_DEPTH = 64
"""Directory levels a scan descends; a deeper tree is reported as over the quota (it cannot be measured cheaply)."""

POLL_S = 0.02
"""How often the watchdog compares the filesystems' free space with the headroom left under the limit."""
NEAR_POLL_S = 0.005
"""The same, once less than ``NEAR_BYTES`` are left: a writer at 2 GB/s then gets ~10 MB past the limit."""
NEAR_BYTES = 256 * 2**20

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Usage:
    """What one scan found: allocated bytes and entries, or why the tree counts as over the quota anyway."""

    bytes: int
    entries: int
    problem: str | None = None
    """Set when the tree could not be measured within bounds (too many entries, too deep, unreadable)."""


def _walk(root_fd: int, label: str, max_entries: int, entries: int, seen: set[tuple[int, int]]) -> Usage:
    """Depth-first over directory descriptors; one descriptor open per level (at most ``MAX_DEPTH``)."""
    total = 0
    stack: list[tuple[int, list[str], str]] = []
    try:
        stack.append((os.open(".", _DIR_FLAGS, dir_fd=root_fd), [], label))
        while stack:
            fd, pending, path = stack[-1]
            total += os.fstat(fd).st_blocks * 512
            with os.scandir(fd) as it:
                for entry in it:
                    entries += 1
                    if entries > max_entries:
                        return Usage(total, entries, f"it holds more than {max_entries} files and directories")
                    try:
                        est = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    if stat.S_ISDIR(est.st_mode):
                        pending.append(entry.name)
                        continue
                    if est.st_nlink > 1:
                        key = (est.st_dev, est.st_ino)
                        if key in seen:
                            continue
                        seen.add(key)
                    total += est.st_blocks * 512
            while stack:  # the next directory to list: a pending child of the deepest open level
                fd, pending, path = stack[-1]
                if not pending:
                    os.close(stack.pop()[0])
                    continue
                name = pending.pop()
                if len(stack) >= MAX_DEPTH:
                    return Usage(total, entries, f"its directories nest more than {MAX_DEPTH} levels deep")
                try:
                    stack.append((os.open(name, _DIR_FLAGS, dir_fd=fd), [], f"{path}/{name}"))
                    break
                except OSError as err:
                    if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                        continue  # removed, or replaced by a file or symlink, since it was listed
                    return Usage(total, entries, f"the host cannot read {path}/{name} ({err.strerror})")
        return Usage(total, entries)
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def measure_tree(
    root_fd: int, max_entries: int, label: str = ".", seen: set[tuple[int, int]] | None = None, entries: int = 0
) -> Usage:
    """Allocated bytes (``st_blocks``, so sparse files count what they use) under the directory ``root_fd``.

    Symlinks are counted as themselves and never followed; a file with several hard links is counted once per
    ``seen`` set. A directory that vanishes mid-scan is skipped; one the host may not open is a problem.
    ``entries`` already counted elsewhere (another root of the same kernel) count against ``max_entries``.
    """
    return _walk(root_fd, label, max_entries, entries, set() if seen is None else seen)


def held_deleted_bytes(pids: Iterable[int], devices: set[int], seen: set[tuple[int, int]]) -> int:
    """Bytes of regular files on ``devices`` that ``pids`` hold open after deleting them (not yet in ``seen``)."""
    total = 0
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            link = f"/proc/{pid}/fd/{fd}"
            try:
                if not os.readlink(link).endswith(" (deleted)"):
                    continue
                st = os.stat(link)
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if stat.S_ISREG(st.st_mode) and st.st_dev in devices and key not in seen:
                seen.add(key)
                total += st.st_blocks * 512
    return total


@dataclass(frozen=True)
class Breach:
    """Why the watchdog wants the kernel stopped."""

    used_bytes: int
    limit_bytes: int
    problem: str | None
    """None when the size passed the limit; else what made the tree unmeasurable."""


class DiskWatchdog:
    """Measures a kernel's writable directories every ``interval`` and calls ``on_over`` once past the limit.

    The directories are held open by descriptor, so a warm kernel's directory renamed into a run directory stays
    watched. The limit is ``max(quota, usage when the kernel was bound to the directory)``: a kernel restarted in
    a run directory already over the quota may delete but not grow it.
    """

    def __init__(
        self,
        roots: list[Path],
        quota_bytes: int,
        max_entries: int,
        interval_s: float,
        pids: Callable[[], list[int]],
        on_over: Callable[[Breach], None],
    ) -> None:
        self.quota = quota_bytes
        self.max_entries = max_entries
        self.interval = interval_s
        self._pids = pids
        self._on_over = on_over
        self._fds = [os.open(r, _DIR_FLAGS) for r in roots]
        self._labels = [str(r) for r in roots]
        self._devices = {os.fstat(fd).st_dev for fd in self._fds}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.limit = quota_bytes
        self.last: Usage | None = None
        self.scans = 0
        self.limit = max(quota_bytes, self.measure().bytes)

    def measure(self) -> Usage:
        """One scan of every watched directory plus the deleted files the kernel still holds open."""
        seen: set[tuple[int, int]] = set()
        total, entries = 0, 0
        for fd, label in zip(self._fds, self._labels, strict=True):
            usage = measure_tree(fd, self.max_entries, label, seen, entries)
            total, entries = total + usage.bytes, usage.entries
            if usage.problem is not None:
                return Usage(total, entries, usage.problem)
        total += held_deleted_bytes(self._pids(), self._devices, seen)
        return Usage(total, entries)

    def check(self) -> Breach | None:
        """Scan once; a ``Breach`` when usage is over the limit or unmeasurable."""
        with self._lock:
            usage = self.measure()
            self.last = usage
            self.scans += 1
            if usage.problem is not None or usage.bytes > self.limit:
                return Breach(usage.bytes, self.limit, usage.problem)
            return None

    @contextlib.contextmanager
    def rebinding(self) -> Iterator[None]:
        """Pause scans while the directory is swapped (files moved in), then take the new baseline."""
        with self._lock:
            yield
            self.limit = max(self.quota, self.measure().bytes)

    def start(self) -> None:
        """Start the scanning thread."""
        self._thread = threading.Thread(target=self._loop, name="ara-disk-watchdog", daemon=True)
        self._thread.start()

    def _free_bytes(self) -> dict[int, int]:
        free: dict[int, int] = {}
        for fd in self._fds:
            vfs = os.fstatvfs(fd)
            free[os.fstat(fd).st_dev] = vfs.f_bfree * vfs.f_frsize
        return free

    def _loop(self) -> None:
        """Full scans every ``interval``, and sooner when the filesystems' free space drops by more than half the
        headroom left (one cheap ``fstatvfs`` per ``POLL_S``, per ``NEAR_POLL_S`` close to the limit): a fast
        writer is caught within about one poll plus one scan, not a whole interval. Scans are spaced at least
        4 x their own duration (at most ~20% of a core on a huge tree)."""
        next_full, earliest, scan_s = 0.0, 0.0, 0.0
        try:
            free_then = self._free_bytes()
        except OSError:
            return
        pause = POLL_S
        while not self._stop.wait(pause):
            now = time.monotonic()
            if now < earliest:
                continue
            try:
                free_now = self._free_bytes()
                used = self.last.bytes if self.last is not None else 0
                grown = sum(max(0, free_then[d] - free_now.get(d, free_then[d])) for d in free_then)
                headroom = self.limit - used
                pause = NEAR_POLL_S if headroom - grown < NEAR_BYTES else POLL_S
                if now < next_full and grown <= headroom // 2:
                    continue
                t0 = time.perf_counter()
                breach = self.check()
            except OSError as err:  # the watched directory itself went away: nothing left to measure
                logger.debug("disk watchdog stopped: %s", err)
                return
            if breach is not None:
                self._on_over(breach)
                return
            scan_s = time.perf_counter() - t0
            free_then = free_now
            now = time.monotonic()
            next_full, earliest = now + max(self.interval, 4 * scan_s), now + 4 * scan_s

    def stop(self) -> None:
        """Stop scanning and close the directory descriptors."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)
        with self._lock:
            for fd in self._fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._fds = []


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB"


def describe(breach: Breach, quota_bytes: int, tmp_mb: int) -> str:
    """The message a person (or the model) reads when the watchdog stopped a kernel: what, why, what to do."""
    stopped = "the kernel was stopped and a new one started (variables are lost; files stay)"
    if breach.problem is not None:
        return (
            f"the cell's run directory could not be measured for its disk quota: {breach.problem}; {stopped}. "
            "Keep fewer, flatter files there (pack many small files into one archive or array file)."
        )
    if breach.limit_bytes > quota_bytes:
        what = (
            f"the cell wrote into a run directory that was already over its {_mb(quota_bytes)} quota "
            f"({_mb(breach.limit_bytes)} when this kernel started, {_mb(breach.used_bytes)} now)"
        )
    else:
        what = (
            f"the cell wrote more than {_mb(quota_bytes)} into its run directory ({_mb(breach.used_bytes)} counted, "
            "including deleted files still held open)"
        )
    return (
        f"{what}; {stopped}. Write less there: keep large intermediate data in memory or in /tmp (its own "
        f"{tmp_mb} MB limit), delete files the run does not need, or raise kernel.disk_quota_mb "
        "(ARA_KERNEL_DISK_QUOTA_MB)."
    )
