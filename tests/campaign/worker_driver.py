"""A campaign worker process over the real research loop, for the multi-worker kill -9 acceptance test.

Usage: python -m tests.campaign.worker_driver WORKSPACE NAME
Settings come from the environment as in production (``ARA_DATABASE_URL`` for PostgreSQL, else the workspace's
SQLite queue; ``ARA_CAMPAIGN_REVIEW_REMOTE`` for the push). Every entry is a real LangGraph run with the scripted
model through the real openai SDK and the in-process kernel fake of ``graph_driver`` (cells are logged and sleep
briefly so kills land mid-run). The worker exits when no running campaign has an entry left.
"""

from __future__ import annotations

import sys

from assistant.campaign.entry_runner import ResearchEntryRunner
from assistant.campaign.queue import CampaignQueue
from assistant.campaign.review_remote import PushingEntryRunner
from assistant.campaign.workers import CampaignWorker
from assistant.graph.session import SessionDeps
from assistant.llm.testing import ScriptedLLM
from assistant.settings import load_settings
from tests.campaign.graph_driver import RecordingPool, reply
from tests.graph.conftest import recipes_with_divide


def main(workspace: str, name: str) -> None:
    settings = load_settings(workspace)
    deps = SessionDeps(
        llm=ScriptedLLM(replies=[reply] * 400).client(), kernels=RecordingPool(), recipes=recipes_with_divide()
    )
    run_entry = PushingEntryRunner(
        ResearchEntryRunner(settings, deps), name, settings.workspace, settings.campaign.review_remote
    )
    worker = CampaignWorker(CampaignQueue.from_settings(settings), name, run_entry, exit_when_idle=True, poll_s=0.05)
    sys.stdout.write(worker.run().model_dump_json() + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
