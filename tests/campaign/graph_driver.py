"""A campaign runner process over the real research loop, for the kill -9 acceptance test.

Usage: python -m tests.campaign.graph_driver WORKSPACE CAMPAIGN_ID
Every entry is a real LangGraph run (SQLite checkpoints, the workspace repository, proposals on branches) with a
scripted model through the real openai SDK and an in-process kernel fake; each cell execution is appended to
``<kernel dir>/executions.log`` (``runs/<id>/work/``) before it runs, and each cell sleeps briefly so kills land mid-run.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from assistant.campaign.entry_runner import ResearchEntryRunner
from assistant.campaign.queue import CampaignQueue
from assistant.campaign.runner import CampaignRunner
from assistant.graph.session import SessionDeps
from assistant.llm.testing import ScriptedLLM
from assistant.settings import load_settings
from tests.graph.conftest import (
    FakeCellResult,
    InProcessPool,
    InProcessSession,
    analysis,
    brief,
    critique,
    plans,
    recipes_with_divide,
    tool_choice,
)


def reply(body: dict[str, Any]) -> dict[str, Any]:
    system = body["messages"][0]["content"]
    if "for ResearchBrief" in system:
        return brief()
    if "for ToolChoice" in system:
        return tool_choice()
    if "for ExperimentPlans" in system:
        return plans(config={"denominator": 2})
    if "for Critique" in system:
        return critique()
    return analysis()


class RecordingPool(InProcessPool):
    """Appends each cell's index to ``<kernel dir>/executions.log`` (``runs/<id>/work/``) before it runs, then sleeps so kills land mid-run."""

    async def acquire(self, run_dir: Path) -> InProcessSession:
        log = run_dir / "executions.log"

        def record(code: str, n: int) -> FakeCellResult | None:
            with log.open("a") as fh:
                fh.write(f"{n}\n")
            time.sleep(0.3)
            return None

        return InProcessSession(run_dir, [], record)


def main(workspace: str, campaign_id: str) -> None:
    # free code allowed by the settings: a policy that never approves it must keep it out of the plans asked for
    settings = load_settings(workspace).with_overrides(**{"run.code_mode": "free"})
    script = ScriptedLLM(replies=[reply] * 400)
    deps = SessionDeps(llm=script.client(), kernels=RecordingPool(), recipes=recipes_with_divide())
    runner = CampaignRunner(
        CampaignQueue(settings.workspace), campaign_id, ResearchEntryRunner(settings, deps), poll_s=0.05
    )
    with runner.signals_stop_it():
        summary = runner.run()
    prompts = [m["content"] for r in script.requests for m in r["messages"] if m["role"] == "user"]
    (Path(workspace) / "prompts.json").write_text(json.dumps(prompts), encoding="utf-8")
    sys.stdout.write(summary.model_dump_json() + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
