"""Cron schedules for campaigns: stored in the queue's database, fired by ``ara scheduler`` or system cron.

Cron expressions are parsed and stepped by APScheduler's ``CronTrigger``; the firing loop is ours so it runs
under a fake clock in tests and applies a clear missed-run policy after downtime: ``run_once`` (coalesce every
missed fire into one run now), ``run_all`` (one run per missed fire) or ``skip`` (only fires within the grace
period run). Does not run campaigns itself: it calls a ``launch`` function (in production, a detached
``ara campaign run FILE``).
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict
from ulid import ULID

from assistant.campaign.db import Conn
from assistant.campaign.queue import CampaignQueue
from assistant.campaign.spec import load_campaign
from assistant.errors import AssistantError

log = logging.getLogger(__name__)

Misfire = Literal["run_once", "run_all", "skip"]
MAX_CATCH_UP = 100


class ScheduleError(AssistantError):
    """A schedule is invalid or unknown."""


class Schedule(BaseModel):
    """A campaign file fired on a cron expression."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    file: str
    cron: str
    misfire: Misfire
    created_at: float
    last_fire: float | None
    enabled: bool

    def trigger(self) -> CronTrigger:
        """The APScheduler trigger (local time zone)."""
        return parse_cron(self.cron)


def parse_cron(expression: str) -> CronTrigger:
    """A ``CronTrigger`` for a five-field crontab expression. Raises ``ScheduleError`` naming the problem."""
    try:
        return CronTrigger.from_crontab(expression, timezone=datetime.now().astimezone().tzinfo)
    except ValueError as err:
        raise ScheduleError(
            f"invalid cron expression {expression!r}: {err}. Use five fields: minute hour day month weekday, "
            'e.g. "0 1 * * *" for 01:00 every day.',
            title="Invalid schedule",
        ) from err


def fires_between(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """Fire times in ``(start, end]``, at most ``MAX_CATCH_UP``."""
    trigger = schedule.trigger()
    fires: list[datetime] = []
    previous: datetime | None = None
    cursor = start + timedelta(microseconds=1)
    while len(fires) < MAX_CATCH_UP:
        nxt = trigger.get_next_fire_time(previous, cursor)
        if nxt is None or nxt > end:
            break
        fires.append(nxt)
        previous, cursor = nxt, nxt + timedelta(seconds=1)
    return fires


def due(schedule: Schedule, now: datetime, grace_s: float) -> list[datetime]:
    """Which fires to run now, after the missed-run policy."""
    since = datetime.fromtimestamp(schedule.last_fire or schedule.created_at, tz=UTC)
    fires = fires_between(schedule, since, now)
    on_time = [f for f in fires if (now - f).total_seconds() <= grace_s]
    missed = [f for f in fires if f not in on_time]
    if schedule.misfire == "run_all":
        return fires
    if schedule.misfire == "skip":
        for fire in missed:
            log.warning("schedule %s: missed run at %s skipped (misfire=skip)", schedule.id, fire.isoformat())
        return on_time[-1:]
    return fires[-1:] if fires else []


class ScheduleStore:
    """Schedules in the campaign database (``<workspace>/.ara/campaigns.sqlite``, or PostgreSQL when configured)."""

    def __init__(self, queue: CampaignQueue) -> None:
        self.queue = queue

    def _db(self) -> AbstractContextManager[Conn]:
        return self.queue.db.tx()

    def add(self, file: Path, cron: str, misfire: Misfire = "run_once") -> Schedule:
        """Validate the file and the expression, then store the schedule."""
        parse_cron(cron)
        file = file.resolve()
        load_campaign(file)
        schedule = Schedule(
            id=str(ULID()), file=str(file), cron=cron, misfire=misfire, created_at=self.queue.clock(),
            last_fire=None, enabled=True,
        )  # fmt: skip
        with self._db() as db:
            db.execute(
                "INSERT INTO schedules (id, file, cron, misfire, created_at, last_fire, enabled) "
                "VALUES (?, ?, ?, ?, ?, NULL, 1)",
                (schedule.id, schedule.file, cron, misfire, schedule.created_at),
            )
        return schedule

    def list(self) -> list[Schedule]:
        """Every schedule, oldest first."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM schedules ORDER BY created_at").fetchall()
        return [
            Schedule(
                id=r["id"],
                file=r["file"],
                cron=r["cron"],
                misfire=r["misfire"],
                created_at=r["created_at"],
                last_fire=r["last_fire"],
                enabled=bool(r["enabled"]),
            )
            for r in rows
        ]

    def remove(self, schedule_id: str) -> None:
        """Delete a schedule. Raises ``ScheduleError`` for an unknown id."""
        with self._db() as db:
            if db.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)).rowcount == 0:
                raise ScheduleError(f"no schedule '{schedule_id}'; see 'ara schedule list'.", title="Unknown schedule")

    def mark_fired(self, schedule_id: str, at: float) -> None:
        """Record that the schedule was handled up to ``at``."""
        with self._db() as db:
            db.execute("UPDATE schedules SET last_fire = ? WHERE id = ?", (at, schedule_id))


class Scheduler:
    """Fires due schedules. ``tick`` is one step (tests drive it with a fake clock); ``run_forever`` loops."""

    def __init__(
        self,
        store: ScheduleStore,
        launch: Callable[[Schedule, datetime], None],
        *,
        clock: Callable[[], float] = time.time,
        grace_s: float = 3600.0,
    ) -> None:
        self.store = store
        self.launch = launch
        self.clock = clock
        self.grace_s = grace_s

    def tick(self) -> list[tuple[str, datetime]]:
        """Launch what is due now; returns ``(schedule id, fire time)`` for each launch."""
        now_ts = self.clock()
        now = datetime.fromtimestamp(now_ts, tz=UTC)
        launched: list[tuple[str, datetime]] = []
        for schedule in self.store.list():
            if not schedule.enabled:
                continue
            for fire in due(schedule, now, self.grace_s):
                log.info("schedule %s fires (%s) for %s", schedule.id, fire.isoformat(), schedule.file)
                self.launch(schedule, fire)
                launched.append((schedule.id, fire))
            self.store.mark_fired(schedule.id, now_ts)
        return launched

    def run_forever(self, sleep: Callable[[float], None] = time.sleep, every_s: float = 30.0) -> None:
        """Tick every ``every_s`` seconds until interrupted."""
        while True:
            self.tick()
            sleep(every_s)


def launch_detached(workspace: Path) -> Callable[[Schedule, datetime], None]:
    """A ``launch`` that starts ``ara campaign run FILE`` as a detached process logging to ``.ara/``."""

    def launch(schedule: Schedule, fire: datetime) -> None:
        log_path = workspace / ".ara" / "scheduler.log"
        with log_path.open("ab") as out:
            subprocess.Popen(
                [sys.executable, "-m", "assistant.cli", "--workspace", str(workspace), "campaign", "run", schedule.file],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    return launch


def cron_lines(workspace: Path, schedules: list[Schedule]) -> list[str]:
    """crontab lines equivalent to the stored schedules, for users who prefer system cron."""
    ara = f"{shlex.quote(sys.executable)} -m assistant.cli --workspace {shlex.quote(str(workspace))}"
    log_file = shlex.quote(str(workspace / ".ara" / "campaign-cron.log"))
    return [
        f"{s.cron} {ara} campaign run {shlex.quote(s.file)} >> {log_file} 2>&1  # ara schedule {s.id}"
        for s in schedules
        if s.enabled
    ]
