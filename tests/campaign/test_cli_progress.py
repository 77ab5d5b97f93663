"""``ara campaign run`` over the real research loop: a progress line per entry as it goes, and the right spend.

The model is scripted (``ScriptedLLM`` over the real ``openai`` client), kernels run in-process; the queue, the
graph, its checkpoints, the run logs and the workspace repository are real. The spend the summary reports must be
what the runs' logs record, also for an entry that ran out of its token budget mid-run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.campaign.queue import CampaignQueue
from assistant.cli import main
from assistant.events import LLMCalled
from assistant.graph.session import SessionDeps
from assistant.llm.testing import ScriptedLLM
from assistant.runlog import events_of, read_events
from tests.campaign.graph_driver import reply
from tests.graph.conftest import InProcessPool, recipes_with_divide

CAMPAIGN = """name = "night"
concurrency = 1
heartbeat_s = 0.5
[policy]
allowed_recipes = ["divide"]

[[entries]]
id = "halve"
question = "Does dividing by two halve one?"

[[entries]]
id = "tight"
question = "Does dividing by two halve one, on a tight budget?"
budget_tokens = 1500
"""


def logged_tokens(run_dir: Path) -> tuple[int, int]:
    """Prompt and completion tokens of every model call in a run's log."""
    calls = events_of(read_events(run_dir / "events.jsonl"), LLMCalled)
    return sum(c.prompt_tokens for c in calls), sum(c.completion_tokens for c in calls)


def test_campaign_run_prints_a_line_per_entry_and_the_spend_its_runs_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "ara.toml").write_text("[llm]\nprice_in_per_mtok = 3.0\nprice_out_per_mtok = 15.0\n")
    path = tmp_path / "night.toml"
    path.write_text(CAMPAIGN, encoding="utf-8")
    script = ScriptedLLM(replies=[reply] * 40)
    deps = SessionDeps(llm=script.client(), kernels=InProcessPool(), recipes=recipes_with_divide())

    main(["campaign", "run", str(path)], deps=deps)

    out, err = capsys.readouterr()
    queue = CampaignQueue(workspace)
    campaign_id = queue.latest()
    assert campaign_id is not None
    record = queue.get(campaign_id)
    halve, tight = record.entries
    halve_in, halve_out = logged_tokens(workspace / "runs" / halve.run_id)
    tight_in, tight_out = logged_tokens(workspace / "runs" / tight.run_id)
    halve_tokens, tight_tokens = halve_in + halve_out, tight_in + tight_out
    assert tight_tokens > 1500, "the tight entry must have spent past its budget before it was stopped"
    assert halve.outcome is not None
    assert tight.outcome is not None
    assert (halve.outcome.tokens, tight.outcome.tokens) == (halve_tokens, tight_tokens)
    assert record.tokens == halve_tokens + tight_tokens

    timed = re.sub(r" in \d+\.\ds:", " in Ts:", err)
    assert timed.splitlines() == [
        f"campaign {campaign_id}: 2 entries, concurrency 1",
        f"▸ halve started: run {halve.run_id}",
        f"[1/2] ✓ halve done in Ts: {halve_tokens:,} tokens; proposal 1 awaiting review; ratio=0.5",
        f"▸ tight started: run {tight.run_id}",
        f"[2/2] ✗ tight failed in Ts: {tight_tokens:,} tokens; run budget exhausted: token budget exhausted: "
        f"{tight_tokens} of 1500 tokens used. Resume with a larger one: ara resume {tight.run_id} --budget tokens=N.",
    ]
    dollars = ((halve_in + tight_in) * 3.0 + (halve_out + tight_out) * 15.0) / 1e6
    spend = f"Spend: {halve_tokens + tight_tokens:,} tokens, ${dollars:.2f}, 0.00 kernel-hours, 0.00 h wall time."
    assert spend in out
    summary = (workspace / ".ara" / "campaigns" / campaign_id / "summary.md").read_text(encoding="utf-8")
    assert spend in summary.splitlines()
    assert f"summary written to {workspace / '.ara' / 'campaigns' / campaign_id / 'summary.md'}" in out
