"""``ara run`` / ``ara resume`` / ``ara runs list`` with a scripted model and in-process kernels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.graph.session import SessionDeps
from assistant.llm.testing import ScriptedLLM
from tests.graph.conftest import InProcessPool, analysis, brief, critique, plans

QUESTION = "Run a synthetic smoke test: does a strong student beat its weak supervisor?"


def ara(capsys: pytest.CaptureFixture[str], *args: str, deps: SessionDeps | None = None) -> tuple[int, str, str]:
    try:
        main(list(args), deps=deps)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def scripted() -> tuple[ScriptedLLM, InProcessPool, SessionDeps]:
    script = ScriptedLLM(
        replies=[
            brief(),
            # no tool-choice call: a smoke test asked for by name takes the smoke-test card
            plans(recipe="synthetic_w2s", config={"n_samples": 300, "strong_model": "logreg", "seeds": [0]}),
            analysis(metric="pgr"),
            critique(),
        ]
    )
    pool = InProcessPool()
    return script, pool, SessionDeps(llm=script.client(), kernels=pool)


def test_run_prints_progress_and_ends_with_the_proposal_and_report(
    capsys: pytest.CaptureFixture[str], scripted: tuple[ScriptedLLM, InProcessPool, SessionDeps], tmp_path: Path
) -> None:
    script, pool, deps = scripted
    code, out, _ = ara(capsys, "run", QUESTION, "--auto-approve-plans", "--budget", "cells=3,debug=1", deps=deps)
    assert code == 0, out
    script.assert_done()
    assert not pool.shut_down, "an injected pool belongs to the caller"
    lines = out.splitlines()
    assert "▸ intake" in lines
    assert "▸ propose_change" in lines
    assert any(line.startswith("  cell 0 ok in ") for line in lines)
    assert any(line.startswith("  intake done in ") and line.endswith(" tokens") for line in lines)
    run_id = lines[0].split()[1]
    assert f"report: runs/{run_id}/report.md" in lines
    assert "proposal: 1 (review it with: ara review show 1)" in lines
    report = (tmp_path / "workspace" / "runs" / run_id / "report.md").read_text()
    assert "*(rests on pgr)*" in report

    code, out, _ = ara(capsys, "runs", "list", "--json", deps=deps)
    [summary] = json.loads(out)
    assert (summary["run_id"], summary["status"], summary["proposal_id"]) == (run_id, "done", "1")

    code, out, _ = ara(capsys, "resume", run_id, "--json", deps=deps)
    assert code == 0
    assert json.loads(out)["status"] == "done"


def test_pause_for_approval_then_resume_with_approve(
    capsys: pytest.CaptureFixture[str], scripted: tuple[ScriptedLLM, InProcessPool, SessionDeps]
) -> None:
    deps = scripted[2]
    code, out, _ = ara(capsys, "run", QUESTION, "--json", deps=deps)
    assert code == 0
    paused = json.loads(out)
    assert paused["status"] == "awaiting_approval"
    assert paused["plans"][0]["recipe"] == "synthetic_w2s"
    code, out, _ = ara(capsys, "resume", paused["run_id"], "--approve", "1", "--reviewer", "alice", "--json", deps=deps)
    assert code == 0, out
    assert json.loads(out)["status"] == "done"


@pytest.mark.parametrize(
    ("question", "message"), [("", "the research question is empty"), ("q" * 50_000, "is 50000 characters long")]
)
def test_bad_questions_exit_2_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], question: str, message: str
) -> None:
    code, _, err = ara(capsys, "run", question)
    assert code == 2
    assert message in err


def test_bad_budget_and_unknown_run_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = ara(capsys, "run", QUESTION, "--budget", "gpus=8")
    assert code == 2
    assert "cannot read 'gpus=8'" in err
    code, _, err = ara(capsys, "resume", "01NOSUCHRUN")
    assert code == 2
    assert "ara runs list" in err


def test_resume_approves_a_plan_edited_in_a_file(
    capsys: pytest.CaptureFixture[str], scripted: tuple[ScriptedLLM, InProcessPool, SessionDeps], tmp_path: Path
) -> None:
    deps = scripted[2]
    code, out, _ = ara(capsys, "run", QUESTION, "--json", deps=deps)
    paused = json.loads(out)
    edited = {
        **paused["plans"][0],
        "title": "Edited by Ada",
        "config": {**paused["plans"][0]["config"], "n_samples": 400},
    }
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(edited))
    code, out, err = ara(
        capsys, "resume", paused["run_id"], "--modify", str(plan_file), "--reviewer", "ada", "--json", deps=deps
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "done"
    run_dir = tmp_path / "workspace" / "runs" / paused["run_id"]
    assert json.loads((run_dir / "config.json").read_text())["n_samples"] == 400, "the edited plan is what ran"


def test_a_bad_plan_file_exits_2_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], scripted: tuple[ScriptedLLM, InProcessPool, SessionDeps], tmp_path: Path
) -> None:
    deps = scripted[2]
    _, out, _ = ara(capsys, "run", QUESTION, "--json", deps=deps)
    paused = json.loads(out)
    bad = tmp_path / "plan.json"
    bad.write_text('{"title": "no recipe"}')
    code, _, err = ara(capsys, "resume", paused["run_id"], "--modify", str(bad), "--json", deps=deps)
    assert code == 2
    assert "is not a valid experiment plan" in err
    assert "recipe: Field required" in err
    code, _, err = ara(capsys, "resume", paused["run_id"], "--modify", str(tmp_path / "missing.json"), deps=deps)
    assert code == 2
    assert "cannot read the plan file" in err
    code, out, _ = ara(capsys, "resume", paused["run_id"], "--json", deps=deps)
    assert json.loads(out)["status"] == "awaiting_approval", "the run still waits for a decision"


def _set_identity(workspace: Path, name: str, email: str) -> None:
    import subprocess

    subprocess.run(["git", "-C", str(workspace), "config", "user.name", name], check=True)
    subprocess.run(["git", "-C", str(workspace), "config", "user.email", email], check=True)


def test_a_plan_approval_records_the_git_identity_as_merges_do(
    capsys: pytest.CaptureFixture[str],
    scripted: tuple[ScriptedLLM, InProcessPool, SessionDeps],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from assistant.events import PlanApproved
    from assistant.runlog import read_events
    from tests.vcs._support import isolate_git

    isolate_git(monkeypatch, tmp_path)
    deps = scripted[2]
    _, out, _ = ara(capsys, "run", QUESTION, "--json", deps=deps)
    paused = json.loads(out)
    workspace = tmp_path / "workspace"
    code, out, err = ara(capsys, "resume", paused["run_id"], "--approve", "1", "--json", deps=deps)
    assert code == 2
    assert "no reviewer identity: git has no user.name/user.email" in err
    assert json.loads(out)["status"] == "error", "--json still prints one status object"
    _set_identity(workspace, "Ada Lovelace", "ada@example.org")
    code, out, err = ara(capsys, "resume", paused["run_id"], "--approve", "1", "--json", deps=deps)
    assert code == 0, err
    events = read_events(workspace / "runs" / paused["run_id"] / "events.jsonl")
    [approved] = [e for e in events if isinstance(e, PlanApproved)]
    assert approved.reviewer == "Ada Lovelace <ada@example.org>"


def test_a_plan_cannot_be_approved_in_the_agents_name(
    capsys: pytest.CaptureFixture[str], scripted: tuple[ScriptedLLM, InProcessPool, SessionDeps]
) -> None:
    deps = scripted[2]
    _, out, _ = ara(capsys, "run", QUESTION, "--json", deps=deps)
    paused = json.loads(out)
    code, _, err = ara(
        capsys, "resume", paused["run_id"], "--approve", "1", "--reviewer", "ara-agent <ara@localhost>", deps=deps
    )
    assert code == 2
    assert "a plan is decided by a person. Nothing was changed." in err
    code, out, _ = ara(capsys, "resume", paused["run_id"], "--json", deps=deps)
    assert json.loads(out)["status"] == "awaiting_approval"


def test_workspace_is_accepted_after_the_subcommand(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    other = tmp_path / "other"
    code, out, _ = ara(capsys, "runs", "list", "--workspace", str(other))
    assert (code, out.strip()) == (0, f'no runs in {other}; start one with: ara run "question"')
    code, out, _ = ara(capsys, "--workspace", str(other), "runs", "list", "--workspace", str(other))
    assert code == 0
    code, _, err = ara(capsys, "--workspace", str(other), "runs", "list", "--workspace", str(tmp_path / "third"))
    assert code == 2
    assert "--workspace was given twice with different values" in err


def test_config_show_json_is_typed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = ara(capsys, "config", "show", "--json")
    assert code == 0
    values = {row["key"]: row["value"] for row in json.loads(out)}
    assert (values["llm.max_retries"], values["llm.timeout_s"]) == (2, 120.0)
    assert values["llm.token_budget"] is None, "unset is null"
    assert values["llm.api_key"] is None, "an unset secret is null, not '(unset)'"
    assert "(unset)" not in out
    assert all(not isinstance(v, str) or not v.isdigit() for v in values.values()), "no number printed as a string"


def test_ctrl_c_is_acknowledged_at_once_then_stops_with_a_status_object(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The step in progress (a thread, like a model call) only finishes once the acknowledgement is printed."""
    import asyncio
    import io
    import os
    import signal
    import threading
    import time

    from assistant.cli.run import STOPPING, run_until_done
    from assistant.schemas import RunOutcome

    err, out = io.StringIO(), io.StringIO()
    monkeypatch.setenv("ARA_ROLE", "")  # restored afterwards: the run marks this process as the agent's
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr("sys.stdout", out)
    seen = threading.Event()

    def slow_step() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 30
        while STOPPING not in err.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        if STOPPING in err.getvalue():
            seen.set()

    async def run() -> RunOutcome:
        await asyncio.to_thread(slow_step)
        return RunOutcome(run_id="R1", status="done")

    with pytest.raises(SystemExit) as exit_:
        run_until_done("R1", run(), tmp_path, True)
    assert exit_.value.code == 130
    assert seen.is_set(), "the acknowledgement came while the step was still running"
    assert err.getvalue().splitlines()[1:] == [
        STOPPING,
        "",
        "stopped; the run is checkpointed. Resume with: ara resume R1",
    ]
    status = json.loads(out.getvalue())
    assert (status["run_id"], status["status"], status["failure"]) == ("R1", "stopped", "interrupted (Ctrl-C)")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_review_revise_re_runs_the_agent_with_the_comments_and_links_the_revision(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def deps_for(script: ScriptedLLM) -> SessionDeps:
        return SessionDeps(llm=script.client(), kernels=InProcessPool())

    def replies() -> list[str]:
        return [
            brief(),  # a smoke test: no tool-choice call
            plans(recipe="synthetic_w2s", config={"n_samples": 300, "strong_model": "logreg", "seeds": [0]}),
            analysis(metric="pgr"),
            critique(),
        ]

    first = ScriptedLLM(replies=replies())
    code, out, _ = ara(capsys, "run", QUESTION, "--auto-approve-plans", "--json", deps=deps_for(first))
    assert code == 0
    assert json.loads(out)["proposal_id"] == "1"
    reviewer = "Rita Reviewer <rita@example.org>"
    monkeypatch.setenv("ARA_ROLE", "")  # the run marked this process as the agent's; the reviewer is a person
    code, out, err = ara(
        capsys, "review", "reject", "1", "--comment", "add a random-label control", "--reviewer", reviewer
    )
    assert code == 0, err

    second = ScriptedLLM(replies=replies())
    code, out, err = ara(capsys, "review", "revise", "1", "--auto-approve-plans", deps=deps_for(second))
    assert code == 0, err
    second.assert_done()
    assert "add a random-label control" in second.user_messages()[0], "the re-run reads the reviewer's comment"
    lines = out.splitlines()
    assert lines[0].startswith("revising proposal 1: run ")
    assert lines[0].endswith(" answers 1 comment(s)")
    assert lines[-1] == "proposal 2 revises proposal 1 (compare: ara review diff 2 --against 1)"

    code, out, _ = ara(capsys, "review", "list", "--json")
    rows = {row["id"]: row for row in json.loads(out)}
    assert (rows[2]["parent_id"], rows[2]["status"], rows[1]["status"]) == (1, "open", "rejected")
    assert rows[2]["run_id"] != rows[1]["run_id"], "the agent re-ran in a run of its own"

    code, out, err = ara(capsys, "review", "diff", "2", "--against", "1")
    assert code == 0, err
    new_run, old_run = rows[2]["run_id"], rows[1]["run_id"]
    assert out.splitlines()[0] == (
        f"proposal 2 ({rows[2]['head_commit']}:runs/{new_run}) against proposal 1 "
        f"({rows[1]['head_commit']}:runs/{old_run})"
    )
    assert "files changed" in out

    code, _, err = ara(capsys, "review", "revise", "1")
    assert code == 2
    assert "nothing would change: proposal 1 has no review comment to act on; revision(s) 2 already answer" in err
    code, _, err = ara(capsys, "review", "revise", "2")
    assert code == 2
    assert "nothing would change: proposal 2 has no review comment to act on" in err


def test_campaign_json_prints_a_status_object_when_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    code, out, err = ara(capsys, "campaign", "run", str(missing), "--json")
    assert code == 2
    status = json.loads(out)
    assert (status["campaign_id"], status["status"]) == (None, "error")
    assert str(missing) in status["failure"]
    assert str(missing) in err
    code, out, err = ara(capsys, "campaign", "resume", "--json")
    assert code == 2
    assert json.loads(out) == {
        "campaign_id": None,
        "status": "error",
        "failure": "ara: no campaign in this workspace yet; start one with 'ara campaign run FILE'.",
    }
