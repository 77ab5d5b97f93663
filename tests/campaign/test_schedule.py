"""Cron schedules under a fake clock: on-time fires, missed runs per policy, bad expressions, cron export."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.campaign.queue import CampaignQueue
from assistant.campaign.schedule import Schedule, ScheduleError, Scheduler, ScheduleStore, cron_lines


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when.timestamp()


def at(hour: int, minute: int = 0, day: int = 24) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC).astimezone()


@pytest.fixture
def setup(
    tmp_path: Path, campaign_file: Callable[..., Path]
) -> tuple[FakeClock, ScheduleStore, list[tuple[str, datetime]], Path]:
    clock = FakeClock(at(20))
    store = ScheduleStore(CampaignQueue(tmp_path / "ws", clock=clock))
    return clock, store, [], campaign_file(1)


def scheduler(store: ScheduleStore, clock: FakeClock, launched: list[tuple[str, datetime]]) -> Scheduler:
    def launch(schedule: Schedule, fire: datetime) -> None:
        launched.append((schedule.id, fire))

    return Scheduler(store, launch, clock=clock, grace_s=600)


def test_fires_on_time_and_only_once(setup: tuple[FakeClock, ScheduleStore, list[tuple[str, datetime]], Path]) -> None:
    clock, store, launched, path = setup
    hour = at(1, day=25).hour
    schedule = store.add(path, f"0 {hour} * * *")
    sched = scheduler(store, clock, launched)
    clock.set(at(0, 59, day=25))
    assert sched.tick() == []
    clock.set(at(1, 0, day=25).replace(second=30))
    [(sid, fire)] = sched.tick()
    assert sid == schedule.id
    assert fire == at(1, 0, day=25)
    clock.set(at(1, 1, day=25))
    assert sched.tick() == []


def test_missed_runs_coalesce_into_one_with_run_once(
    setup: tuple[FakeClock, ScheduleStore, list[tuple[str, datetime]], Path],
) -> None:
    clock, store, launched, path = setup
    hour = at(1, day=25).hour
    store.add(path, f"0 {hour} * * *", misfire="run_once")
    clock.set(at(12, day=27))
    fires = scheduler(store, clock, launched).tick()
    assert [f for _, f in fires] == [at(1, day=27)]


def test_missed_runs_all_fire_with_run_all(
    setup: tuple[FakeClock, ScheduleStore, list[tuple[str, datetime]], Path],
) -> None:
    clock, store, launched, path = setup
    hour = at(1, day=25).hour
    store.add(path, f"0 {hour} * * *", misfire="run_all")
    clock.set(at(12, day=27))
    fires = scheduler(store, clock, launched).tick()
    assert [f for _, f in fires] == [at(1, day=25), at(1, day=26), at(1, day=27)]


def test_missed_runs_are_skipped_with_skip(
    setup: tuple[FakeClock, ScheduleStore, list[tuple[str, datetime]], Path],
) -> None:
    clock, store, launched, path = setup
    hour = at(1, day=25).hour
    store.add(path, f"0 {hour} * * *", misfire="skip")
    clock.set(at(12, day=27))
    assert scheduler(store, clock, launched).tick() == []
    clock.set(at(1, 5, day=28))
    assert [f for _, f in scheduler(store, clock, launched).tick()] == [at(1, day=28)]


def test_bad_cron_and_bad_file_are_refused(
    setup: tuple[FakeClock, ScheduleStore, list[tuple[str, datetime]], Path], tmp_path: Path
) -> None:
    _, store, _, path = setup
    with pytest.raises(ScheduleError, match=r"invalid cron expression '61 \* \* \*'.*five fields"):
        store.add(path, "61 * * *")
    with pytest.raises(ScheduleError, match="invalid cron expression '61 1 \\* \\* \\*'"):
        store.add(path, "61 1 * * *")
    with pytest.raises(Exception, match="does not exist"):
        store.add(tmp_path / "none.toml", "0 1 * * *")
    assert store.list() == []


def test_print_cron_lines(setup: tuple[FakeClock, ScheduleStore, list[tuple[str, datetime]], Path]) -> None:
    _, store, _, path = setup
    schedule = store.add(path, "0 1 * * *")
    [line] = cron_lines(Path("/ws"), store.list())
    assert line.startswith("0 1 * * * ")
    assert f"campaign run {path.resolve()}" in line
    assert line.endswith(f"# ara schedule {schedule.id}")
    store.remove(schedule.id)
    assert store.list() == []
    with pytest.raises(ScheduleError, match="no schedule"):
        store.remove(schedule.id)
