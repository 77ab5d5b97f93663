"""Campaigns over the real research loop: policy approvals, waiting for a human, and surviving kill -9."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from assistant.campaign.queue import CampaignQueue
from assistant.campaign.spec import load_campaign
from assistant.events import CellExecuted
from assistant.paths import PROJECT_ROOT
from assistant.runlog import read_events
from tools.vcs import Workspace


def write_campaign(tmp_path: Path, allowed: str, n: int) -> Path:
    path = tmp_path / "night.toml"
    entries = "".join(
        f'\n[[entries]]\nid = "q{i}"\nquestion = "Does dividing by two halve one? ({i})"\n' for i in range(n)
    )
    path.write_text(
        # concurrency 1: the in-process kernel fake chdirs per cell, and the working directory is process-wide
        # (real kernels each have their own; bench/campaign.py measures concurrency 2 on them).
        f'name = "night"\nconcurrency = 1\nheartbeat_s = 0.5\n[policy]\nallowed_recipes = [{allowed}]\n{entries}',
        encoding="utf-8",
    )
    return path


def driver(workspace: Path, campaign_id: str) -> list[str]:
    return [sys.executable, "-m", "tests.campaign.graph_driver", str(workspace), campaign_id]


def driver_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}


def run_driver(workspace: Path, campaign_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        driver(workspace, campaign_id),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workspace.parent,
        env=driver_env(),
        check=False,
    )


def test_policy_approves_allowed_plans_and_proposals_wait_for_review(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    queue = CampaignQueue(ws)
    path = write_campaign(tmp_path, '"divide"', 2)
    cid = queue.create(load_campaign(path), path)
    done = run_driver(ws, cid)
    assert done.returncode == 0, done.stderr[-3000:]
    record = queue.get(cid)
    assert [e.status for e in record.entries] == ["done", "done"]
    workspace = Workspace.open(ws)
    proposals = workspace.list_proposals()
    assert sorted(p.run_id for p in proposals) == sorted(e.run_id for e in record.entries)
    assert all(p.status == "open" for p in proposals)
    for entry in record.entries:
        assert entry.outcome is not None
        assert entry.outcome.key_metrics == {"ratio": 0.5}
        events = (ws / "runs" / entry.run_id / "events.jsonl").read_text()
        assert f"policy:campaign:{cid}" in events
    # the policy approves only 'divide': free code, allowed by the settings, is not offered to the planner (the
    # default model proposed three free-code plans for a critique question and the entry waited for a person)
    prompts = json.loads((ws / "prompts.json").read_text())
    planning = [p for p in prompts if "config fields:" in p]
    assert len(planning) == 2
    assert not [p for p in planning if "- free:" in p]


def test_plan_outside_the_policy_waits_for_a_human_and_the_campaign_goes_on(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    queue = CampaignQueue(ws)
    path = write_campaign(tmp_path, '"w2s"', 2)
    cid = queue.create(load_campaign(path), path)
    done = run_driver(ws, cid)
    assert done.returncode == 0, done.stderr[-3000:]
    record = queue.get(cid)
    assert [e.status for e in record.entries] == ["waiting_human", "waiting_human"]
    [first, _] = record.entries
    assert first.outcome is not None
    assert first.outcome.detail.startswith("recipe 'divide' is not in the policy's allowed_recipes (w2s)")
    assert f"ara resume {first.run_id} --approve N" in first.outcome.detail
    assert Workspace.open(ws).list_proposals() == []


@pytest.mark.slow
def test_six_entries_survive_five_kill_9_with_no_duplicate_cells_commits_or_proposals(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    queue = CampaignQueue(ws)
    path = write_campaign(tmp_path, '"divide"', 6)
    cid = queue.create(load_campaign(path), path)
    rng = random.Random(11)
    seen = 0
    for _ in range(5):
        proc = subprocess.Popen(
            driver(ws, cid), cwd=tmp_path, env=driver_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while len(queue.events(cid)) <= seen and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.2, 2.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        events = queue.events(cid)
        assert len(events) >= seen
        seen = len(events)
    done = run_driver(ws, cid)
    assert done.returncode == 0, done.stderr[-3000:]
    record = queue.get(cid)
    assert [e.status for e in record.entries] == ["done"] * 6
    finals = sorted(e["entry"] for e in queue.events(cid) if e["kind"] == "done")
    assert finals == [f"q{i}" for i in range(6)]
    reclaimed = [e for e in queue.events(cid) if e["kind"] == "reclaimed"]
    assert reclaimed, "at least one kill should have cut a run in flight"
    workspace = Workspace.open(ws)
    proposals = workspace.list_proposals()
    assert sorted(p.run_id for p in proposals) == sorted(e.run_id for e in record.entries)
    for entry in record.entries:
        run_dir = ws / "runs" / entry.run_id
        finished = [e for e in read_events(run_dir / "events.jsonl") if isinstance(e, CellExecuted) and not e.reused]
        assert Counter(e.key for e in finished) == {f"{entry.run_id}:cell:00": 1}, entry.entry.id
        started = (run_dir / "work" / "executions.log").read_text().split()  # the kernel's directory
        assert 1 <= len(started) <= 6, f"{entry.entry.id}: a cell only re-runs when a kill cut it ({started})"
        [proposal] = [p for p in proposals if p.run_id == entry.run_id]
        log = subprocess.run(
            ["git", "-C", str(ws), "log", "--format=%H", f"{proposal.base_commit}..{proposal.branch}"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert len(log.stdout.split()) == 1, f"{entry.entry.id}: commits {log.stdout.split()}"
