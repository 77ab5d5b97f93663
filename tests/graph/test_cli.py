"""``ara run`` / ``ara resume`` / ``ara runs list`` with a scripted model and in-process kernels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.graph.session import SessionDeps
from assistant.llm.testing import ScriptedLLM
from tests.graph.conftest import InProcessPool, analysis, brief, critique, plans, tool_choice

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
            tool_choice("synthetic_w2s"),
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
