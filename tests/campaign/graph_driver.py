"""A campaign runner process over the real research loop, for the kill -9 acceptance test.

Usage: python -m tests.campaign.graph_driver WORKSPACE CAMPAIGN_ID
Every entry is a real LangGraph run (SQLite checkpoints, the workspace repository, proposals on branches) with a
scripted model through the real openai SDK and an in-process kernel fake; each cell execution is appended to
``<run dir>/executions.log`` before it runs, and each cell sleeps briefly so kills land mid-run.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from assistant.budget import Budget
from assistant.campaign.entry_runner import ResearchEntryRunner
from assistant.campaign.queue import CampaignQueue
from assistant.campaign.runner import CampaignRunner
from assistant.graph.context import RunContext
from assistant.llm.testing import ScriptedLLM
from assistant.settings import Settings, load_settings
from tests.graph.conftest import FakeCellResult, InProcessPool, analysis, brief, make_context, plans
from tools.vcs import Workspace


def reply(body: dict[str, Any]) -> dict[str, Any]:
    system = body["messages"][0]["content"]
    if "for ResearchBrief" in system:
        return brief()
    if "for ExperimentPlans" in system:
        return plans(config={"denominator": 2})
    if "for DivideConfig" in system:
        return {"denominator": 2}
    return analysis()


@asynccontextmanager
async def scripted_context(settings: Settings, run_path: Path, budget: Budget) -> AsyncIterator[RunContext]:
    log = run_path / "executions.log"

    def record(code: str, n: int) -> FakeCellResult | None:
        with log.open("a") as fh:
            fh.write(f"{n}\n")
        time.sleep(0.3)
        return None

    script = ScriptedLLM(replies=[reply] * 30)
    workspace = Workspace.open_or_create(settings.workspace)
    yield make_context(
        script.client(), workspace, run_path, pool=InProcessPool(override=record), budget=budget, policy="ask"
    )


def main(workspace: str, campaign_id: str) -> None:
    settings = load_settings(workspace)
    runner = CampaignRunner(
        CampaignQueue(settings.workspace),
        campaign_id,
        ResearchEntryRunner(settings, open_context=scripted_context),
        poll_s=0.05,
    )
    runner.install_signal_handlers()
    sys.stdout.write(runner.run().model_dump_json() + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
