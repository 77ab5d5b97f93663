"""The campaign runner with fake entry runners: outcomes, retries, budgets, policy waits, stops, crashes."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.campaign.queue import CampaignQueue, EntryOutcome
from assistant.campaign.runner import CampaignRunner, EntryContext, EntryInterrupted, classify
from assistant.campaign.spec import load_campaign
from assistant.campaign.summary import build_summary, render_markdown
from assistant.errors import EndpointStatusError, EndpointUnreachableError

FAKE_RUNNER = Path(__file__).with_name("fake_runner.py")


def make_campaign(
    tmp_path: Path, campaign_file: Callable[..., Path], n: int, extra: str = "", concurrency: int = 2
) -> tuple[CampaignQueue, str]:
    queue = CampaignQueue(tmp_path / "ws")
    path = campaign_file(n, extra=extra, concurrency=concurrency)
    return queue, queue.create(load_campaign(path), path)


def test_every_entry_runs_once_and_summary_lists_proposals(tmp_path: Path, campaign_file: Callable[..., Path]) -> None:
    queue, cid = make_campaign(tmp_path, campaign_file, 4)
    seen: list[tuple[str, str, bool]] = []
    lock = threading.Lock()

    def run_entry(ctx: EntryContext) -> EntryOutcome:
        with lock:
            seen.append((ctx.entry.id, ctx.run_id, ctx.resume))
        return EntryOutcome(status="done", proposal_id=f"prop-{ctx.entry.id}", key_metrics={"pgr": 0.25}, tokens=100)

    result = CampaignRunner(queue, cid, run_entry, poll_s=0.01).run()
    assert result.counts == {"done": 4}
    assert result.stopped is False
    assert sorted(e for e, _, _ in seen) == ["e0", "e1", "e2", "e3"]
    assert all(resume is False for _, _, resume in seen)
    record = queue.get(cid)
    assert record.status == "finished"
    assert record.tokens == 400
    assert {e.entry.id: e.run_id for e in record.entries} == {e: r for e, r, _ in seen}
    summary = build_summary(queue, cid)
    assert summary.awaiting_review == ["prop-e0", "prop-e1", "prop-e2", "prop-e3"]
    text = render_markdown(summary)
    assert "| e2 | question | done | 1 | prop-e2 | pgr=0.25 |  |" in text
    assert "`ara review show prop-e0`" in text


def test_transient_faults_retry_with_backoff_then_succeed(tmp_path: Path, campaign_file: Callable[..., Path]) -> None:
    queue, cid = make_campaign(tmp_path, campaign_file, 1, extra="[retry]\nmax_attempts = 4\nbackoff_s = 0.05")
    faults = [EndpointUnreachableError("down"), EndpointStatusError("busy", status_code=429)]
    attempts: list[int] = []

    def run_entry(ctx: EntryContext) -> EntryOutcome:
        attempts.append(ctx.attempt)
        if faults:
            raise faults.pop(0)
        return EntryOutcome(status="done")

    assert CampaignRunner(queue, cid, run_entry, poll_s=0.01).run().counts == {"done": 1}
    assert attempts == [1, 2, 3]
    kinds = [e["kind"] for e in queue.events(cid) if e["entry"] == "e0"]
    assert kinds == ["claimed", "retry_scheduled", "claimed", "retry_scheduled", "claimed", "done"]
    delays = [e["delay_s"] for e in queue.events(cid) if e["kind"] == "retry_scheduled"]
    assert delays == [0.05, 0.1]


def test_transient_faults_give_up_after_max_attempts(tmp_path: Path, campaign_file: Callable[..., Path]) -> None:
    queue, cid = make_campaign(tmp_path, campaign_file, 1, extra="[retry]\nmax_attempts = 2\nbackoff_s = 0.01")

    def run_entry(ctx: EntryContext) -> EntryOutcome:
        raise EndpointStatusError("HTTP 503", status_code=503)

    assert CampaignRunner(queue, cid, run_entry, poll_s=0.01).run().counts == {"failed": 1}
    [entry] = queue.get(cid).entries
    assert entry.error == "gave up after 2 attempts; last fault EndpointStatusError: HTTP 503"


def test_a_bug_in_one_entry_fails_only_that_entry(tmp_path: Path, campaign_file: Callable[..., Path]) -> None:
    queue, cid = make_campaign(tmp_path, campaign_file, 2)

    def run_entry(ctx: EntryContext) -> EntryOutcome:
        if ctx.entry.id == "e0":
            raise KeyError("boom")
        return EntryOutcome(status="done")

    assert CampaignRunner(queue, cid, run_entry, poll_s=0.01).run().counts == {"failed": 1, "done": 1}
    assert queue.get(cid).entries[0].error == "bug: KeyError: 'boom' (traceback in the runner's log)"


def test_policy_wait_does_not_block_the_campaign(tmp_path: Path, campaign_file: Callable[..., Path]) -> None:
    queue, cid = make_campaign(tmp_path, campaign_file, 2, extra='[policy]\nallowed_recipes = ["w2s"]')

    def run_entry(ctx: EntryContext) -> EntryOutcome:
        recipe = "shell" if ctx.entry.id == "e0" else "w2s"
        allowed, why = ctx.policy.allows(recipe)
        return EntryOutcome(status="done") if allowed else EntryOutcome(status="waiting_human", detail=why)

    assert CampaignRunner(queue, cid, run_entry, poll_s=0.01).run().counts == {"waiting_human": 1, "done": 1}
    summary = build_summary(queue, cid)
    [waiting] = summary.failures
    assert waiting.reason == "recipe 'shell' is not in the policy's allowed_recipes (w2s)"


def test_token_budget_stops_claiming_and_skips_the_rest(tmp_path: Path, campaign_file: Callable[..., Path]) -> None:
    queue, cid = make_campaign(tmp_path, campaign_file, 4, extra="[budgets]\ntokens = 150", concurrency=1)
    text = queue.get(cid).spec.model_copy()
    assert text.budgets.tokens == 150

    def run_entry(ctx: EntryContext) -> EntryOutcome:
        return EntryOutcome(status="done", tokens=100)

    result = CampaignRunner(queue, cid, run_entry, poll_s=0.01).run()
    assert result.stopped is True
    assert result.reason == "campaign token budget exhausted (200 of 150)"
    assert result.counts == {"done": 2, "skipped": 2}
    assert queue.get(cid).status == "stopped"


def test_disk_full_stops_the_campaign_resumably(tmp_path: Path, campaign_file: Callable[..., Path]) -> None:
    queue, cid = make_campaign(tmp_path, campaign_file, 2, concurrency=1)

    def run_entry(ctx: EntryContext) -> EntryOutcome:
        raise OSError(28, "No space left on device")

    result = CampaignRunner(queue, cid, run_entry, poll_s=0.01).run()
    assert result.stopped is True
    assert result.reason.startswith("OSError: [Errno 28] No space left on device")
    assert result.counts == {"skipped": 2}
    resumed = CampaignRunner(queue, cid, lambda ctx: EntryOutcome(status="done"), poll_s=0.01).run()
    assert resumed.counts == {"done": 2}


def test_stop_request_releases_running_entries_for_resume(tmp_path: Path, campaign_file: Callable[..., Path]) -> None:
    queue, cid = make_campaign(tmp_path, campaign_file, 2, concurrency=2)
    runner: CampaignRunner
    both_started = threading.Barrier(2, timeout=10)

    def run_entry(ctx: EntryContext) -> EntryOutcome:
        both_started.wait()
        runner.request_stop("received SIGTERM")
        ctx.stop.wait(2)
        raise EntryInterrupted("stopping between steps")

    runner = CampaignRunner(queue, cid, run_entry, poll_s=0.01)
    result = runner.run()
    assert result.stopped is True
    assert result.counts == {"skipped": 2}
    resumed: list[bool] = []

    def finish(ctx: EntryContext) -> EntryOutcome:
        resumed.append(ctx.resume)
        return EntryOutcome(status="done")

    assert CampaignRunner(queue, cid, finish, poll_s=0.01).run().counts == {"done": 2}
    assert resumed == [True, True]
    assert [e.attempts for e in queue.get(cid).entries] == [1, 1]


def test_classify() -> None:
    assert classify(EndpointStatusError("x", status_code=502)) == "transient"
    assert classify(EndpointStatusError("x", status_code=400)) == "entry"
    assert classify(OSError(28, "full")) == "campaign"
    assert classify(ValueError("x")) == "entry"


def _counts(store: Path) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    with sqlite3.connect(store) as db:
        runs = db.execute(
            "SELECT entry, COUNT(DISTINCT run_id) FROM executions GROUP BY entry ORDER BY entry"
        ).fetchall()
        dupes = db.execute(
            "SELECT run_id || step, COUNT(*) FROM executions GROUP BY run_id, step HAVING COUNT(*) > 1"
        ).fetchall()
    return runs, dupes


@pytest.mark.slow
def test_kill_9_five_times_then_resume_finishes_every_entry_once(
    tmp_path: Path, campaign_file: Callable[..., Path]
) -> None:
    queue, cid = make_campaign(tmp_path, campaign_file, 6)
    store = tmp_path / "effects.sqlite"
    cmd = [sys.executable, str(FAKE_RUNNER), str(tmp_path / "ws"), cid, str(store)]
    rng = random.Random(7)
    events_before = 0
    for _ in range(5):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while len(queue.events(cid)) <= events_before and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        events = queue.events(cid)
        assert len(events) >= events_before
        events_before = len(events)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    record = queue.get(cid)
    assert [(e.entry.id, e.status, e.error) for e in record.entries if e.status != "done"] == []
    assert [e.status for e in record.entries] == ["done"] * 6
    finals = [e["entry"] for e in queue.events(cid) if e["kind"] == "done"]
    assert sorted(finals) == [f"e{i}" for i in range(6)]
    runs, dupes = _counts(store)
    assert runs == [(f"e{i}", 1) for i in range(6)]
    assert dupes == []
    assert record.tokens == 60
    assert any(e["kind"] == "reclaimed" for e in queue.events(cid))


def test_liveness_is_progress_an_entry_that_stops_moving_is_failed_and_stops_beating(
    tmp_path: Path, campaign_file: Callable[..., Path]
) -> None:
    """A run blocked for good (a FIFO once hung one) kept a fresh heartbeat from a timer thread; now it does not."""
    queue, cid = make_campaign(tmp_path, campaign_file, 2, extra="stall_s = 1.0")
    release = threading.Event()
    beats: dict[str, list[float | None]] = {"e0": [], "e1": []}

    def run_entry(ctx: EntryContext) -> EntryOutcome:
        if ctx.entry.id == "e0":  # blocks without any progress, like a node stuck on a FIFO
            release.wait(60)
            return EntryOutcome(status="done", detail="too late")
        for step in range(30):  # keeps making progress for longer than stall_s
            ctx.progress.mark(f"CellExecuted {step}")
            time.sleep(0.1)
            beats["e1"].append(queue.get(cid).entries[1].heartbeat_at)
            beats["e0"].append(queue.get(cid).entries[0].heartbeat_at)
        return EntryOutcome(status="done", detail="ok")

    try:
        result = CampaignRunner(queue, cid, run_entry, poll_s=0.05).run()
    finally:
        release.set()
    assert result.counts == {"failed": 1, "done": 1}
    stalled, moving = queue.get(cid).entries
    assert stalled.status == "failed"
    assert stalled.error is not None
    assert stalled.error.startswith("no progress for ")
    assert "(last: started; the limit is 1 s): the run stopped answering and was abandoned" in stalled.error
    assert moving.status == "done"
    assert len(set(beats["e1"])) > 5, "the moving entry's heartbeat kept being refreshed"
    assert len({b for b in beats["e0"] if b is not None}) <= 6, "the stuck entry's heartbeat stopped (about 1 s)"
