"""kill -9 in the middle of a run, then resume in a new process: no cell or commit is repeated."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from assistant.events import CellExecuted, ProposalCreated, RunFailed, RunResumed
from assistant.graph.runner import RunOutcome
from assistant.paths import PROJECT_ROOT
from assistant.runlog import events_of, read_events
from tools.vcs import Workspace


def drive(ws: Workspace, run_id: str, mode: str, kill: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.graph.crash_driver", str(ws.path), run_id, mode, kill],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("kill", ["cell", "propose"])
def test_kill_9_mid_run_resumes_without_repeating_cells_or_commits(workspace: Workspace, kill: str) -> None:
    run = workspace.new_run("crash")
    first = drive(workspace, run.run_id, "start", kill)
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]

    second = drive(workspace, run.run_id, "resume", "none")
    assert second.returncode == 0, second.stderr[-2000:]
    outcome = RunOutcome.model_validate_json(second.stdout.strip().splitlines()[-1])
    assert outcome.status == "done"

    events = read_events(run.events_path)
    finished = [e for e in events_of(events, CellExecuted) if not e.reused]
    assert Counter(e.key for e in finished) == {f"{run.run_id}:cell:00": 1, f"{run.run_id}:cell:01": 1}
    executions = (run.path / "executions.log").read_text().split()
    # cell 0 ran once; cell 1 was cut by the kill (it never finished) and ran again only in that case
    assert executions == (["0", "1", "1"] if kill == "cell" else ["0", "1"])
    [resumed] = events_of(events, RunResumed)
    assert resumed.next_node == ("run_cells" if kill == "cell" else "propose_change")
    [proposal] = workspace.list_proposals()
    assert len(events_of(events, ProposalCreated)) == 1
    commits = subprocess.run(
        ["git", "-C", str(workspace.path), "rev-list", f"main..{proposal.branch}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(commits) == 1


@pytest.mark.slow
def test_ctrl_c_during_a_cell_stops_cleanly_and_resumes(workspace: Workspace) -> None:
    run = workspace.new_run("sigint")
    log = run.path / "executions.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.graph.crash_driver", str(workspace.path), run.run_id, "start", "slow"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (log.is_file() and log.read_text().split() == ["0", "1"]):
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the second cell never started"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err[-2000:]
    [failed] = events_of(read_events(run.events_path), RunFailed)
    assert failed.error == "Interrupted"
    assert f"ara resume {run.run_id}" in failed.message

    second = drive(workspace, run.run_id, "resume", "none")
    assert second.returncode == 0, second.stderr[-2000:]
    assert RunOutcome.model_validate_json(second.stdout.strip().splitlines()[-1]).status == "done"
    finished = [e for e in events_of(read_events(run.events_path), CellExecuted) if not e.reused]
    assert [e.index for e in finished] == [0, 1]
