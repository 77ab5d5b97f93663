"""The campaign database on SQLite and a real PostgreSQL server: claims, leases, workers, schema versions, bad URLs."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from ulid import ULID

from assistant.campaign.db import SCHEMA_VERSION, SqliteDatabase, migration
from assistant.campaign.postgres import PostgresDatabase
from assistant.campaign.queue import CampaignQueue, EntryOutcome
from assistant.campaign.schedule import ScheduleStore
from assistant.campaign.spec import load_campaign
from assistant.campaign.workers import WorkerNameTakenError, WorkerRegistry
from assistant.database import DatabaseError
from tests.campaign.pgserver import PASSWORD, PgServer, free_port

OTHER_HOST = "another-machine:4242:1.000"
"""An owner on another host: alive as far as this host can tell, so only its lease decides."""


def open_queue(tmp_path: Path, url: str | None, clock: Callable[[], float] | None = None) -> CampaignQueue:
    database = PostgresDatabase(url) if url else None
    if clock is None:
        return CampaignQueue(tmp_path / "ws", database=database)
    return CampaignQueue(tmp_path / "ws", database=database, clock=clock)


def test_concurrent_claims_take_each_entry_exactly_once(
    tmp_path: Path, campaign_file: Callable[..., Path], backend: str | None
) -> None:
    queue = open_queue(tmp_path, backend)
    path = campaign_file(24)
    cid = queue.create(load_campaign(path), path)
    taken: list[tuple[str, str]] = []
    lock = threading.Lock()

    def claimer(owner: str) -> None:
        while (claimed := queue.claim(cid, owner, stale_after_s=600)) is not None:
            record, resume = claimed
            assert resume is False
            with lock:
                taken.append((record.entry.id, owner))

    threads = [threading.Thread(target=claimer, args=(f"{OTHER_HOST}-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e for e, _ in taken) == sorted(f"e{i}" for i in range(24))
    assert Counter(e for e, _ in taken).most_common(1)[0][1] == 1
    events = [e for e in queue.events(cid) if e["kind"] == "claimed"]
    assert len(events) == 24


def test_a_lapsed_lease_is_reclaimed_and_a_live_one_is_not(
    tmp_path: Path, campaign_file: Callable[..., Path], backend: str | None
) -> None:
    now = [1000.0]
    queue = open_queue(tmp_path, backend, clock=lambda: now[0])
    path = campaign_file(1)
    cid = queue.create(load_campaign(path), path)
    claimed = queue.claim(cid, OTHER_HOST, stale_after_s=30)
    assert claimed is not None
    assert claimed[1] is False
    now[0] += 20
    assert queue.claim(cid, "me:1:1.0", stale_after_s=30) is None, "the lease (last beat + 30 s) still holds"
    assert queue.heartbeat(cid, OTHER_HOST) == 1
    now[0] += 29
    assert queue.claim(cid, "me:1:1.0", stale_after_s=30) is None
    now[0] += 2
    reclaimed = queue.claim(cid, "me:1:1.0", stale_after_s=30)
    assert reclaimed is not None
    record, resume = reclaimed
    assert resume is True
    assert record.owner == "me:1:1.0"
    assert record.resumes == 1
    assert record.run_id == claimed[0].run_id, "the run (and its checkpoint) continues"
    # The first owner comes back late: its outcome is ignored, the new owner's counts.
    queue.finish(cid, "e0", OTHER_HOST, EntryOutcome(status="done", proposal_id="late", tokens=5))
    assert queue.get(cid).entries[0].status == "running"
    queue.finish(cid, "e0", "me:1:1.0", EntryOutcome(status="done", proposal_id="p1", tokens=7))
    record2 = queue.get(cid)
    assert record2.entries[0].outcome is not None
    assert record2.entries[0].outcome.proposal_id == "p1"
    assert record2.tokens == 7
    kinds = [e["kind"] for e in queue.events(cid)]
    assert kinds.count("done") == 1
    assert "finish_ignored" in kinds
    assert queue.finish_if_done(cid) is True
    assert queue.finish_if_done(cid) is False
    assert queue.get(cid).status == "finished"


def test_claim_any_takes_from_every_running_campaign(
    tmp_path: Path, campaign_file: Callable[..., Path], backend: str | None
) -> None:
    queue = open_queue(tmp_path, backend)
    first = campaign_file(2, name="first")
    second = campaign_file(1, name="second")
    a = queue.create(load_campaign(first), first)
    b = queue.create(load_campaign(second), second)
    queue.set_status(a, "stopped", "paused by hand")
    got = queue.claim_any(OTHER_HOST)
    assert got is not None
    assert got[0].campaign_id == b
    assert queue.claim_any(OTHER_HOST) is None
    queue.set_status(a, "running")
    got = queue.claim_any(OTHER_HOST)
    assert got is not None
    assert (got[0].campaign_id, got[0].entry.id) == (a, "e0")


def test_worker_names_are_held_by_one_live_process(tmp_path: Path, backend: str | None) -> None:
    now = [1000.0]
    queue = open_queue(tmp_path, backend, clock=lambda: now[0])
    registry = WorkerRegistry(queue)
    registry.register("gpu-1", OTHER_HOST)
    with pytest.raises(WorkerNameTakenError, match="worker 'gpu-1' already runs on"):
        registry.register("gpu-1", "another-machine:9:2.000")
    now[0] += 60  # three missed beats: the name is free again
    registry.register("gpu-1", "another-machine:9:2.000")
    [view] = registry.list()
    assert (view.name, view.pid, view.state) == ("gpu-1", 9, "running")
    registry.stopped("gpu-1", "another-machine:9:2.000")
    assert registry.list()[0].state == "stopped"


def test_schedules_live_in_the_same_database(
    tmp_path: Path, campaign_file: Callable[..., Path], backend: str | None
) -> None:
    store = ScheduleStore(open_queue(tmp_path, backend))
    item = store.add(campaign_file(1), "0 1 * * *")
    assert [s.id for s in store.list()] == [item.id]
    store.mark_fired(item.id, 5.0)
    assert store.list()[0].last_fire == 5.0


def test_an_older_sqlite_file_is_upgraded_in_place_keeping_its_campaigns(
    tmp_path: Path, campaign_file: Callable[..., Path]
) -> None:
    path = tmp_path / "ws" / ".ara" / "campaigns.sqlite"
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    for statement in migration(1, "sqlite"):  # what ara wrote before the version table existed
        db.execute(statement)
    db.execute(
        "INSERT INTO campaigns (id, name, file, spec_json, status, created_at) VALUES "
        "('old', 'night', 'f', ?, 'finished', 1)",
        (load_campaign(campaign_file(1)).model_dump_json(),),
    )
    db.commit()
    db.close()
    queue = CampaignQueue(tmp_path / "ws")
    assert queue.get("old").name == "night"
    assert isinstance(queue.db, SqliteDatabase)
    assert queue.db.schema_version() == SCHEMA_VERSION
    assert WorkerRegistry(queue).list() == []


def test_postgres_with_an_older_schema_is_refused_until_upgraded(
    tmp_path: Path, campaign_file: Callable[..., Path], pg_url: str
) -> None:
    spec_json = load_campaign(campaign_file(1)).model_dump_json()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for statement in migration(1, "postgresql"):
            conn.execute(statement)  # type: ignore[arg-type]
        conn.execute("CREATE TABLE ara_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO ara_schema VALUES (1)")
        conn.execute(
            "INSERT INTO campaigns (id, name, file, spec_json, status, created_at) VALUES "
            "('old', 'night', 'f', %s, 'running', 1)",
            (spec_json,),
        )
    with pytest.raises(DatabaseError) as info:
        PostgresDatabase(pg_url)
    message = str(info.value)
    assert "ARA_DATABASE_URL" in message
    assert f"has schema version 1, older than this ara's ({SCHEMA_VERSION})" in message
    assert "ara campaign upgrade-db" in message
    assert PASSWORD not in message
    assert ":***@" in message
    db = PostgresDatabase(pg_url, check_schema=False)
    assert db.upgrade() == (1, SCHEMA_VERSION)
    db.close()
    queue = CampaignQueue(tmp_path / "ws", database=PostgresDatabase(pg_url))
    assert queue.get("old").name == "night"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE ara_schema SET version = 99")
    with pytest.raises(DatabaseError, match="schema version 99, newer than this ara understands"):
        PostgresDatabase(pg_url)


def test_wrong_password_names_the_setting_and_masks_the_password(pg_server: PgServer) -> None:
    url = pg_server.url(password="not-the-password")
    with pytest.raises(DatabaseError) as info:
        PostgresDatabase(url)
    message = str(info.value)
    assert info.value.title == "Database refused the password"
    assert message.startswith("could not connect to the campaign database ARA_DATABASE_URL (database.url in ara.toml)")
    assert f"postgresql://ara:***@127.0.0.1:{pg_server.port}/postgres" in message
    assert "password authentication failed" in message
    assert "not-the-password" not in message
    assert PASSWORD not in message


def test_unreachable_server_names_the_setting(pg_server: PgServer) -> None:
    url = pg_server.url(port=free_port())
    with pytest.raises(DatabaseError) as info:
        PostgresDatabase(url)
    assert info.value.title == "Database unreachable"
    assert "ARA_DATABASE_URL" in str(info.value)
    assert "pg_isready" in str(info.value)
    assert PASSWORD not in str(info.value)


@pytest.mark.anyio
async def test_checkpointer_on_postgres_stores_runs_and_names_the_setting_on_a_wrong_password(
    pg_server: PgServer, pg_url: str
) -> None:
    from assistant.graph.pg_checkpoints import open_postgres_checkpointer

    async with open_postgres_checkpointer(pg_url) as saver:
        assert await saver.aget_tuple({"configurable": {"thread_id": "nothing-yet"}}) is None
    async with open_postgres_checkpointer(pg_url) as saver:  # a second opening finds the tables set up
        assert [c async for c in saver.alist(None)] == []
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM checkpoint_migrations").fetchone()[0] > 0  # type: ignore[index]
    with pytest.raises(DatabaseError) as info:
        async with open_postgres_checkpointer(pg_server.url(password="wrong")):
            pass
    assert str(info.value).startswith("could not connect to the checkpoint database ARA_DATABASE_URL")
    assert "wrong" not in str(info.value).split("To fix")[0].replace("password authentication failed", "")


@pytest.mark.anyio
async def test_workers_setting_up_checkpoints_at_once_on_a_fresh_database_never_deadlock(pg_server: PgServer) -> None:
    """LangGraph's migrations run ``CREATE INDEX CONCURRENTLY``, which waits for every open transaction: a worker
    blocked in ``pg_advisory_lock`` was one, and PostgreSQL killed one side as a deadlock (seen as a failed
    campaign entry when two workers started together). The lock is polled now."""
    import asyncio

    from assistant.graph.pg_checkpoints import open_postgres_checkpointer

    async def open_once(url: str) -> int:
        async with open_postgres_checkpointer(url) as saver:
            return len([c async for c in saver.alist(None)])

    for _ in range(3):  # a fresh database each time, so every round races on the first migration
        url = pg_server.create_database(f"race{ULID()}".lower())
        assert await asyncio.gather(*(open_once(url) for _ in range(3))) == [0, 0, 0]
        with psycopg.connect(url) as conn:
            indexes = {
                r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%thread_id_idx'")
            }
        assert indexes == {
            "checkpoints_thread_id_idx",
            "checkpoint_blobs_thread_id_idx",
            "checkpoint_writes_thread_id_idx",
        }


def test_the_database_url_setting_is_read_from_the_environment_and_never_printed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str
) -> None:
    from assistant.campaign.db import open_database
    from assistant.settings import load_settings

    monkeypatch.setenv("ARA_DATABASE_URL", pg_url)
    monkeypatch.setenv("ARA_CAMPAIGN_REVIEW_REMOTE", "/srv/git/research.git")
    settings = load_settings(tmp_path / "ws")
    assert settings.campaign.review_remote == "/srv/git/research.git"
    assert PASSWORD not in repr(settings)
    db = open_database(settings)
    assert isinstance(db, PostgresDatabase)
    assert db.schema_version() == SCHEMA_VERSION
    assert PASSWORD not in db.where
    db.close()


def test_ara_campaign_run_drives_a_campaign_on_either_database(
    tmp_path: Path, campaign_file: Callable[..., Path], backend: str | None
) -> None:
    from assistant.campaign.runner import CampaignRunner, EntryContext
    from assistant.campaign.summary import build_summary

    queue = open_queue(tmp_path, backend)
    path = campaign_file(5, concurrency=2)
    cid = queue.create(load_campaign(path), path)

    def run_entry(ctx: EntryContext) -> EntryOutcome:
        return EntryOutcome(status="done", proposal_id=f"p-{ctx.entry.id}", key_metrics={"pgr": 0.5}, tokens=10)

    result = CampaignRunner(queue, cid, run_entry, poll_s=0.01).run()
    assert result.counts == {"done": 5}
    record = queue.get(cid)
    assert (record.status, record.tokens) == ("finished", 50)
    assert build_summary(queue, cid).awaiting_review == [f"p-e{i}" for i in range(5)]


def test_cli_queues_and_reports_on_postgres_without_printing_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, campaign_file: Callable[..., Path], pg_url: str
) -> None:
    from click.testing import CliRunner

    from assistant.cli import cli, main

    monkeypatch.setenv("ARA_DATABASE_URL", pg_url)
    ws = tmp_path / "ws"
    runner = CliRunner()
    added = runner.invoke(cli, ["--workspace", str(ws), "campaign", "add", str(campaign_file(2))])
    assert added.exit_code == 0, added.output
    cid = added.output.strip().splitlines()[-1]
    shown = runner.invoke(cli, ["--workspace", str(ws), "campaign", "status", cid])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[0].endswith(f"[{pg_url.replace(PASSWORD, '***')}]")
    assert PASSWORD not in added.output + shown.output
    assert not (ws / ".ara" / "campaigns.sqlite").exists(), "nothing went to the local SQLite queue"
    upgraded = runner.invoke(cli, ["--workspace", str(ws), "campaign", "upgrade-db"])
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.output.strip().endswith(f"schema {SCHEMA_VERSION} -> {SCHEMA_VERSION}")
    monkeypatch.setenv("ARA_DATABASE_URL", pg_url.replace(PASSWORD, "nope"))
    with runner.isolation() as (_out, err, _), pytest.raises(SystemExit) as exited:
        main(["--workspace", str(ws), "campaign", "status"])
    assert exited.value.code == 2, "a user error, not a bug"
    text = err.getvalue().decode()
    assert "Database refused the password" in text
    assert "ARA_DATABASE_URL" in text
    assert "nope" not in text


def test_doctor_checks_the_campaign_database_when_one_is_set(tmp_path: Path, pg_server: PgServer, pg_url: str) -> None:
    from assistant.doctor import check_database
    from assistant.settings import load_settings

    good = load_settings(tmp_path / "ws").with_overrides(**{"database.url": pg_url})
    check = check_database(good)
    assert (check.status, check.detail) == ("ok", f"{pg_url.replace(PASSWORD, '***')} schema {SCHEMA_VERSION}")
    bad = good.with_overrides(**{"database.url": pg_server.url(port=free_port())})
    check = check_database(bad)
    assert (check.status, check.detail) == ("fail", "Database unreachable")
    assert check.fix is not None
    assert "ARA_DATABASE_URL" in check.fix
