"""One run session for every caller: ``ara run``, the TUI and a campaign entry start runs the same way.

Each caller runs the same question in its own copy of one workspace (same commit, same files), with a scripted model
that proposes a plan; the run pauses at the plan approval (the campaign's policy allows no recipe, so its entry waits
for a human). The ``RunStarted`` event each run logged must carry the same fields, the workspace commit included
(campaign runs once lost it), and each caller gets the same typed outcome.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from assistant.campaign.entry_runner import ResearchEntryRunner
from assistant.campaign.runner import EntryContext
from assistant.campaign.spec import ApprovalPolicy, CampaignEntry
from assistant.cli import main
from assistant.events import RunStarted
from assistant.graph.session import RunSession, SessionDeps
from assistant.llm.testing import ScriptedLLM
from assistant.runlog import events_of, read_events
from assistant.schemas import ExperimentPlan, RunOutcome
from assistant.settings import Settings, load_settings
from assistant.tui.adapters import GraphRunDriver
from tests.graph.conftest import InProcessPool, brief, plans, recipes_with_divide, tool_choice
from tools.vcs import Workspace

QUESTION = "Does dividing one by two give one half?"
ENTRY_RUN_ID = "01JTESTSESSXNRXN0000000000"


def _script() -> ScriptedLLM:
    return ScriptedLLM(replies=[brief(), tool_choice(), plans(recipe="divide", config={"denominator": 2})])


@pytest.fixture
def workspaces(tmp_path: Path) -> dict[str, Settings]:
    """Three copies of one workspace repository: the same commit under each caller."""
    origin = Workspace.open_or_create(tmp_path / "origin").path
    copies = {}
    for caller in ("cli", "tui", "campaign"):
        shutil.copytree(origin, tmp_path / caller)
        copies[caller] = load_settings(tmp_path / caller)
    return copies


def _started(settings: Settings, run_id: str) -> dict[str, Any]:
    [event] = events_of(read_events(settings.workspace / "runs" / run_id / "events.jsonl"), RunStarted)
    return event.model_dump(exclude={"run_id", "ts"})


def _cli(settings: Settings, capsys: pytest.CaptureFixture[str]) -> tuple[ScriptedLLM, RunOutcome]:
    script = _script()
    deps = SessionDeps(llm=script.client(), kernels=InProcessPool(), recipes=recipes_with_divide())
    with pytest.raises(SystemExit) as exit_:
        main(["--workspace", str(settings.workspace), "run", QUESTION, "--json"], deps=deps)
    assert exit_.value.code == 0, "a run paused for approval exits 0"
    return script, RunOutcome.model_validate(json.loads(capsys.readouterr().out))


def _tui(settings: Settings) -> tuple[ScriptedLLM, RunOutcome]:
    script = _script()
    driver = GraphRunDriver(settings, script.client(), kernels=InProcessPool(), recipes=recipes_with_divide())
    emitted: list[object] = []
    outcome = driver.start(QUESTION, emitted.append)
    assert any(isinstance(e, RunStarted) for e in emitted), "the TUI hears the run's events"
    return script, outcome


def _campaign(settings: Settings) -> tuple[ScriptedLLM, RunOutcome, str]:
    script = _script()
    runner = ResearchEntryRunner(
        settings, SessionDeps(llm=script.client(), kernels=InProcessPool(), recipes=recipes_with_divide())
    )
    entry = runner(
        EntryContext(
            campaign_id="c1",
            entry=CampaignEntry(id="q1", question=QUESTION),
            run_id=ENTRY_RUN_ID,
            resume=False,
            attempt=1,
            policy=ApprovalPolicy(allowed_recipes=[]),
            token_budget=None,
            stop=threading.Event(),
        )
    )
    assert entry.status == "waiting_human"
    assert "recipe 'divide' is not in the policy's allowed_recipes (none)" in entry.detail

    async def outcome() -> RunOutcome:
        async with RunSession(settings, deps=SessionDeps(llm=script.client(), kernels=InProcessPool())) as session:
            return await session.resume(ENTRY_RUN_ID)

    return script, asyncio.run(outcome()), entry.detail


def test_cli_tui_and_campaign_start_runs_with_the_same_fields(
    workspaces: dict[str, Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    cli_script, cli = _cli(workspaces["cli"], capsys)
    tui_script, tui = _tui(workspaces["tui"])
    campaign_script, campaign, _ = _campaign(workspaces["campaign"])

    started = {
        "cli": _started(workspaces["cli"], cli.run_id),
        "tui": _started(workspaces["tui"], tui.run_id),
        "campaign": _started(workspaces["campaign"], campaign.run_id),
    }
    commit = Workspace.open(workspaces["cli"].workspace).mainline_commit()
    assert started["cli"]["workspace_commit"] == commit
    assert started["cli"]["question"] == QUESTION
    assert started["tui"] == started["cli"]
    assert started["campaign"] == started["cli"]

    expected = [ExperimentPlan.model_validate(plans(recipe="divide", config={"denominator": 2})["plans"][0])]
    for outcome in (cli, tui, campaign):
        assert (outcome.status, outcome.next_node, list(outcome.plans)) == (
            "awaiting_approval",
            "approve_plan",
            expected,
        )
    for script in (cli_script, tui_script, campaign_script):
        script.assert_done()
        [intake, _choice, _planning] = script.requests
        assert QUESTION in intake["messages"][-1]["content"]


def test_a_bad_question_creates_no_run_for_any_caller(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "ws")
    session = RunSession(settings)
    with pytest.raises(Exception, match="the research question is empty"):
        session.new_run("   ")
    with pytest.raises(Exception, match="characters long"):
        GraphRunDriver(settings, _script().client()).start("q" * 5000, lambda _: None)
    assert not (tmp_path / "ws" / "runs").exists() or list((tmp_path / "ws" / "runs").iterdir()) == []
