"""The append-only run log: one JSON event per line in ``events.jsonl``, flushed and fsynced per event.

Covers writing (``RunLog.append``, safe across threads and across a crash) and reading (``read_run_log``,
``read_events``): a line that is not an event (torn by a crash or a full disk, garbled, not UTF-8, overlong) is
skipped and reported with its file and line, so one bad line never hides the rest of a run or of the workspace.
Does not cover what the events mean (``assistant.events``).
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, TypeVar

from pydantic import ValidationError

from assistant.events import AnyEvent, Event, parse_event
from tools.runfiles import RunFiles

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Listener = Callable[[Event], None]


class RunLog:
    """Appends events to ``path`` (created with its parents on first use).

    Args:
        path: The ``events.jsonl`` file.
        fsync: Force each line to disk (default). Off only for benchmarks that measure the cost.
    """

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._lock = threading.Lock()
        self.listeners: list[Listener] = []
        self.last_append = time.monotonic()
        """When the last event was written (``time.monotonic``; creation time before the first): the progress
        watchdog (``assistant.graph.runner``) ends a node that writes nothing for too long."""
        self.last_event: Event | None = None
        """The last event written."""
        self.last_node: str | None = None
        """The node named by the last event that names one (where a stalled run was)."""

    def append(self, event: Event) -> None:
        """Write one event as a line and notify listeners (the CLI's progress lines, the TUI).

        Through ``tools.runfiles``: a link, FIFO or other non-regular file planted as ``events.jsonl`` is refused
        with a ``RunFileError`` (never followed, never blocked on).
        """
        line = (event.model_dump_json() + "\n").encode("utf-8")
        with self._lock, RunFiles(self.path.parent, create=True) as files:
            files.append(self.path.name, line, fsync=self.fsync)
            self.last_append, self.last_event = time.monotonic(), event
            node = getattr(event, "node", None)
            self.last_node = node if isinstance(node, str) else self.last_node
        for listener in list(self.listeners):
            listener(event)

    def idle_s(self) -> float:
        """Seconds since the last event was written (or since this log was opened)."""
        return time.monotonic() - self.last_append

    def read(self) -> list[AnyEvent]:
        """All events written so far."""
        return read_events(self.path)


MAX_LINE_BYTES = 8 * 1024 * 1024
"""A run-log line longer than this is skipped (no event the host writes comes near it)."""


class SkippedLine(NamedTuple):
    """A line of a run log that is not an event: which file, which line, and why."""

    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class RunLogRead(NamedTuple):
    """The events of a run log and every line that had to be skipped."""

    events: list[AnyEvent]
    skipped: list[SkippedLine]


def read_run_log(path: Path) -> RunLogRead:
    """Parse ``path`` line by line; a line that is not a valid event is skipped and reported, never fatal.

    A torn last line (a crash or a full disk mid-write), a garbled line, bytes that are not UTF-8 and an
    overlong line are each reported with the file and line number. A symlink, FIFO or other non-regular file
    named ``events.jsonl`` is not opened (reported as line 0), so a planted FIFO cannot hang a reader.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return RunLogRead([], [])
    except OSError as err:
        return RunLogRead([], [SkippedLine(path, 0, f"cannot open the run log ({err.strerror}); nothing read")])
    events: list[AnyEvent] = []
    skipped: list[SkippedLine] = []
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return RunLogRead([], [SkippedLine(path, 0, "not a regular file (a link, FIFO or device); not read")])
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                skipped.append(SkippedLine(path, number, f"line of {len(raw)} bytes, over {MAX_LINE_BYTES}; skipped"))
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                skipped.append(SkippedLine(path, number, f"not UTF-8 (byte {err.start}); skipped"))
                continue
            try:
                events.append(parse_event(text))
            except (ValidationError, ValueError) as err:
                torn = not text.endswith("\n")
                first = str(err).splitlines()[1:2] or [str(err)[:200]]
                why = "a torn last line (a crash or full disk mid-write)" if torn else "not a valid run event"
                skipped.append(SkippedLine(path, number, f"{why}: {first[0].strip()[:200]}; skipped"))
    return RunLogRead(events, skipped)


def read_events(path: Path) -> list[AnyEvent]:
    """The events of ``path``; every skipped line is logged as a warning naming the file and line."""
    read = read_run_log(path)
    for line in read.skipped:
        log.warning("%s", line)
    return read.events


def events_of(events: list[AnyEvent], kind: type[E]) -> list[E]:
    """The events of one class, in order."""
    return [e for e in events if isinstance(e, kind)]
