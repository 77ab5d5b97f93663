"""Campaign workers on SQLite and PostgreSQL: two worker processes, kill -9, the review remote, status, summary."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from assistant.campaign.postgres import PostgresDatabase
from assistant.campaign.queue import CampaignQueue, EntryOutcome
from assistant.campaign.review_remote import PushingEntryRunner, push_proposals
from assistant.campaign.runner import EntryContext
from assistant.campaign.spec import load_campaign
from assistant.campaign.summary import build_summary, render_markdown
from assistant.campaign.workers import CampaignWorker, WorkerRegistry
from assistant.cli import cli
from assistant.paths import PROJECT_ROOT
from tools.vcs import Workspace


def open_queue(ws: Path, url: str | None) -> CampaignQueue:
    return CampaignQueue(ws, database=PostgresDatabase(url) if url else None)


def bare_remote(path: Path, *, reject: bool = False) -> Path:
    subprocess.run(["git", "init", "--quiet", "--bare", str(path)], check=True)
    if reject:
        hook = path / "hooks" / "pre-receive"
        hook.write_text("#!/bin/sh\necho 'review remote is read-only today' >&2\nexit 1\n", encoding="utf-8")
        hook.chmod(0o755)
    return path


def remote_heads(remote: Path) -> dict[str, str]:
    out = subprocess.run(["git", "ls-remote", "--heads", str(remote)], capture_output=True, text=True, check=True)
    return {ref.removeprefix("refs/heads/"): sha for sha, ref in (line.split("\t") for line in out.stdout.splitlines())}


def write_campaign(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "night.toml"
    entries = "".join(
        f'\n[[entries]]\nid = "q{i}"\nquestion = "Does dividing by two halve one? ({i})"\n' for i in range(n)
    )
    path.write_text(
        f'name = "night"\nconcurrency = 1\nheartbeat_s = 0.5\n[policy]\nallowed_recipes = ["divide"]\n{entries}',
        encoding="utf-8",
    )
    return path


def make_proposal(ws: Path) -> tuple[str, str]:
    workspace = Workspace.open_or_create(ws)
    run = workspace.new_run("halving")
    (run.path / "report.md").write_text("# Halving\n\nratio 0.5\n", encoding="utf-8")
    proposal = workspace.propose(run.run_id, "halving", "Halving halves", ["report.md"], "report.md", {"ratio": 0.5})
    return run.run_id, proposal.branch


def test_a_rejected_push_keeps_the_result_and_says_how_to_push_it(tmp_path: Path, backend: str | None) -> None:
    ws = tmp_path / "ws"
    run_id, branch = make_proposal(ws)
    remote = bare_remote(tmp_path / "review.git", reject=True)
    queue = open_queue(ws, backend)
    path = write_campaign(tmp_path, 1)
    cid = queue.create(load_campaign(path), path)

    def inner(ctx: EntryContext) -> EntryOutcome:
        assert ctx.entry.id == "q0"
        return EntryOutcome(status="done", proposal_id="1", detail="proposal awaiting review", tokens=3)

    def pushing(ctx: EntryContext) -> EntryOutcome:
        # The entry's run is the one that made the proposal (a campaign fixes run ids when it is queued).
        return PushingEntryRunner(inner, "w1", ws, str(remote))(EntryContext(**{**ctx.__dict__, "run_id": run_id}))

    result = CampaignWorker(queue, "w1", pushing, exit_when_idle=True, poll_s=0.02).run()
    assert result.entries_done == 1
    assert result.finished_campaigns == [cid]
    [entry] = queue.get(cid).entries
    assert entry.status == "done"
    assert entry.outcome is not None
    assert entry.outcome.proposal_id == "1"
    assert entry.outcome.worker == "w1"
    assert entry.outcome.pushed_to is None
    error = entry.outcome.push_error or ""
    assert error.startswith(
        f"pushing proposal branch {branch} to the review remote campaign.review_remote "
        f"(ARA_CAMPAIGN_REVIEW_REMOTE) = {remote} failed:"
    )
    assert "review remote is read-only today" in error
    assert f"push it with: git -C {ws.resolve()} push {remote} {branch}" in error
    assert remote_heads(remote) == {}
    assert Workspace.open(ws).list_proposals()[0].branch == branch, "the proposal stays in the workspace"
    text = render_markdown(build_summary(queue, cid))
    assert f"- q0 (done): pushing proposal branch {branch}" in text
    assert "## Workers\n\n- w1: 1 entries" in text


def test_status_shows_workers_their_leases_and_entries(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    queue = CampaignQueue(ws)
    path = write_campaign(tmp_path, 2)
    cid = queue.create(load_campaign(path), path)
    owner = "another-machine:77:1.000"
    WorkerRegistry(queue).register("gpu-7", owner)
    claimed = queue.claim_any(owner)
    assert claimed is not None
    out = CliRunner().invoke(cli, ["--workspace", str(ws), "campaign", "status", cid])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert re.fullmatch(r"  q0 +running +attempts 1, heartbeat [01] s ago, worker gpu-7", lines[1]), lines[1]
    assert re.fullmatch(r"  q1 +queued +attempts 0", lines[2]), lines[2]
    assert lines[3] == "workers:"
    assert re.fullmatch(r"  gpu-7 +running +another-machine pid 77, beat [01] s ago, 0 entries done", lines[4]), lines[
        4
    ]
    assert re.fullmatch(rf"    running {cid}/q0 \(run {claimed[0].run_id}\), lease \+[12] s", lines[5]), lines[5]


def worker_cmd(ws: Path, name: str) -> list[str]:
    return [sys.executable, "-m", "tests.campaign.worker_driver", str(ws), name]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_workers_one_killed_three_times_finish_every_entry_once(tmp_path: Path, backend: str | None) -> None:
    ws = tmp_path / "ws"
    Workspace.open_or_create(ws)
    remote = bare_remote(tmp_path / "review.git")
    queue = open_queue(ws, backend)
    path = write_campaign(tmp_path, 8)
    cid = queue.create(load_campaign(path), path)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "ARA_CAMPAIGN_REVIEW_REMOTE": str(remote)}
    if backend:
        env["ARA_DATABASE_URL"] = backend

    def start(name: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            worker_cmd(ws, name), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    steady = start("steady")
    rng = random.Random(20)
    for _ in range(3):
        flaky = start("flaky")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and flaky.poll() is None:
            owners = [e.get("owner") or "" for e in queue.events(cid) if e["kind"] in ("claimed", "reclaimed")]
            if any(owner.split(":")[1:2] == [str(flaky.pid)] for owner in owners):
                break  # it holds an entry: kill it mid-run
            time.sleep(0.05)
        time.sleep(rng.uniform(0.3, 1.5))
        os.kill(flaky.pid, signal.SIGKILL)
        flaky.wait()
    last = start("flaky")
    _out_steady, err_steady = steady.communicate(timeout=600)
    _out_last, err_last = last.communicate(timeout=600)
    assert steady.returncode == 0, err_steady.decode()[-3000:]
    assert last.returncode == 0, err_last.decode()[-3000:]

    record = queue.get(cid)
    assert record.status == "finished"
    assert [e.status for e in record.entries] == ["done"] * 8, [
        (e.entry.id, e.status, e.outcome.detail if e.outcome else None) for e in record.entries if e.status != "done"
    ]
    events = queue.events(cid)
    done = Counter(e["entry"] for e in events if e["kind"] == "done")
    assert done == {f"q{i}": 1 for i in range(8)}, "every entry done exactly once"
    assert [e for e in events if e["kind"] == "reclaimed"], "at least one kill should have cut a run in flight"
    proposals = Workspace.open(ws).list_proposals()
    assert sorted(p.run_id for p in proposals) == sorted(e.run_id for e in record.entries), "0 lost, 0 duplicated"
    heads = remote_heads(remote)
    assert heads == {p.branch: p.head_commit for p in proposals}, "every proposal branch is on the review remote"
    for proposal in proposals:
        log = subprocess.run(
            ["git", "-C", str(ws), "log", "--format=%H", f"{proposal.base_commit}..{proposal.branch}"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert len(log.stdout.split()) == 1, f"{proposal.run_id}: one commit per proposal"
    for entry in record.entries:
        assert entry.outcome is not None
        assert entry.outcome.pushed_to == str(remote)
        assert entry.outcome.worker in ("steady", "flaky")
    if backend:  # the runs' checkpoints went to PostgreSQL, where a worker on any machine resumes them
        with psycopg.connect(backend) as conn:
            threads = {r[0] for r in conn.execute("SELECT DISTINCT thread_id FROM checkpoints").fetchall()}
        assert threads == {e.run_id for e in record.entries}
        assert not (ws / ".ara" / "checkpoints.sqlite").exists()
    workers = {w.name: w for w in WorkerRegistry(queue).list()}
    assert set(workers) == {"steady", "flaky"}
    assert all(w.state == "stopped" for w in workers.values())
    assert sum(w.entries_done for w in workers.values()) <= 8
    text = render_markdown(build_summary(queue, cid))
    assert "## Workers" in text
    assert "- steady:" in text


def test_reviewers_clone_the_review_remote_and_see_the_pushed_proposals(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    Workspace.open_or_create(ws)
    remote = tmp_path / "review.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(ws), str(remote)], check=True)  # as docs/campaigns.md
    run_id, branch = make_proposal(ws)
    assert push_proposals(ws, str(remote), run_id) == ([branch], None)
    assert push_proposals(ws, str(remote), run_id) == ([branch], None), "a resumed entry pushes again harmlessly"
    review = tmp_path / "review"
    subprocess.run(["git", "clone", "--quiet", str(remote), str(review)], check=True)
    subprocess.run(
        ["git", "-C", str(review), "fetch", "--quiet", "origin", "refs/heads/ara/*:refs/heads/ara/*"], check=True
    )
    runner = CliRunner()
    rebuilt = runner.invoke(cli, ["--workspace", str(review), "review", "reindex"])
    assert rebuilt.exit_code == 0, rebuilt.output
    listed = runner.invoke(cli, ["--workspace", str(review), "review", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [proposal] = json.loads(listed.output)
    assert (proposal["run_id"], proposal["branch"], proposal["status"]) == (run_id, branch, "open")


def test_a_worker_stops_a_campaign_at_its_token_budget_and_resume_queues_the_rest(
    tmp_path: Path, backend: str | None
) -> None:
    ws = tmp_path / "ws"
    queue = open_queue(ws, backend)
    path = tmp_path / "budget.toml"
    entries = "".join(f'\n[[entries]]\nid = "b{i}"\nquestion = "Q {i}?"\n' for i in range(4))
    path.write_text(f'name = "budget"\nheartbeat_s = 0.2\n[budgets]\ntokens = 15\n{entries}', encoding="utf-8")
    cid = queue.create(load_campaign(path), path)

    def run_entry(ctx: EntryContext) -> EntryOutcome:
        return EntryOutcome(status="done", tokens=10)

    result = CampaignWorker(queue, "w1", run_entry, exit_when_idle=True, poll_s=0.02).run()
    assert result.entries_done == 2
    record = queue.get(cid)
    assert [e.status for e in record.entries] == ["done", "done", "skipped", "skipped"]
    assert (record.status, record.stop_reason) == ("stopped", "campaign token budget exhausted (20 of 15)")
    assert record.entries[2].error == "not started: campaign token budget exhausted (20 of 15)"
