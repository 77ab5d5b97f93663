"""kill -9 in the middle of a run, then resume in a new process: no cell or commit is repeated."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter

import pytest

from assistant.events import CellExecuted, ProposalCreated, RunResumed
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
