"""The append-only run log: one JSON event per line in ``events.jsonl``, flushed and fsynced per event.

Covers writing (``RunLog.append``, safe across threads and across a crash: a torn last line is skipped on read)
and reading (``read_events``). Does not cover what the events mean (``assistant.events``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from assistant.events import AnyEvent, Event, parse_event

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

    def append(self, event: Event) -> None:
        """Write one event as a line and notify listeners (the CLI's progress lines, the TUI)."""
        line = event.model_dump_json() + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
        for listener in list(self.listeners):
            listener(event)

    def read(self) -> list[AnyEvent]:
        """All events written so far."""
        return read_events(self.path)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield number, line


def read_events(path: Path) -> list[AnyEvent]:
    """Parse ``path``; a torn final line (a crash mid-write) is skipped with a warning, others raise.

    Raises:
        ValueError: a line other than the last is not a valid event (names the file and line).
    """
    if not path.is_file():
        return []
    lines = list(_lines(path))
    events: list[AnyEvent] = []
    for position, (number, line) in enumerate(lines):
        try:
            events.append(parse_event(line))
        except ValidationError as err:
            if position == len(lines) - 1 and not line.endswith("\n"):
                log.warning("%s:%d: skipping a torn last line (crash mid-write)", path, number)
                continue
            raise ValueError(f"{path}:{number}: not a valid run event: {err}") from err
    return events


def events_of(events: list[AnyEvent], kind: type[E]) -> list[E]:
    """The events of one class, in order."""
    return [e for e in events if isinstance(e, kind)]
