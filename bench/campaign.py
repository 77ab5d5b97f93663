"""Campaign throughput and queue overhead.

1. Throughput: 20 small sandboxed experiment runs (each a whole research-loop run: scripted model through the
   real openai SDK, one cell in a real bubblewrap kernel that writes results.json, a report and a proposal
   commit) as one campaign at concurrency 1 and again at concurrency 2; runs per minute and their ratio.
2. Queue overhead: 200 entries whose runner returns at once; wall time per entry is the queue's own cost
   (claim, heartbeat, finish, summary), target < 50 ms.

Command: ``nice -n 10 .venv/bin/python -m bench.campaign``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from assistant.campaign.entry_runner import ResearchEntryRunner
from assistant.campaign.queue import CampaignQueue, EntryOutcome
from assistant.campaign.runner import CampaignRunner, EntryContext
from assistant.campaign.spec import load_campaign
from assistant.campaign.summary import build_summary
from assistant.cards import Knob, MetricSpec, ToolCard
from assistant.graph.session import SessionDeps
from assistant.llm.testing import ScriptedLLM
from assistant.recipes import Recipe, RecipeRegistry, default_registry
from assistant.settings import load_settings
from bench._loop_replies import loop_replies
from bench._results import write_section


class TinyConfig(BaseModel):
    """Config of the bench recipe."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: float = 0.5


def _render(config: BaseModel, out_dir: Path) -> str:
    assert isinstance(config, TinyConfig)
    return (
        "import json, pathlib\n"
        f"o = pathlib.Path({str(out_dir)!r}); o.mkdir(parents=True, exist_ok=True)\n"
        "o.joinpath('results.json').write_text(json.dumps({'schema': 'ara.results/1', 'tool': 'bench', "
        f"'title': 'tiny', 'config': {{}}, 'metrics': {{'m': {{'value': {config.value}}}}}}}))\n"
    )


TINY_CARD = ToolCard(
    name="tiny",
    family="Write one metric: the campaign benchmark's tool.",
    answers=["Tiny experiment?", "Does the tiny experiment write its metric?", "Tiny experiment number one?"],
    conditions=["value"],
    knobs=[Knob(name="value", meaning="the metric's value")],
    metrics=[MetricSpec(name="m", meaning="the configured value")],
    method="The cell writes the configured value as the metric m.",
    seeds_field=None,
)
"""The bench recipe's card: the campaign's questions are its examples, so the shortlist offers it."""

TINY = Recipe(
    name="tiny",
    summary="Write one metric (benchmark recipe).",
    load_config=lambda: TinyConfig,
    render=_render,
    card=TINY_CARD,
)
_PLAN = {"title": "t", "hypothesis": "h", "method": "m", "recipe": "tiny", "config": {"value": 0.5}}
_REPLIES = loop_replies("tiny", _PLAN, "m")
_BY_SCHEMA = {"ResearchBrief": 0, "ToolChoice": 1, "ExperimentPlans": 2, "Critique": 4}


def _reply(body: dict[str, Any]) -> dict[str, Any]:
    """The loop's scripted reply for the schema the request asks for (runs of one campaign interleave)."""
    system = body["messages"][0]["content"]
    return next((_REPLIES[i] for name, i in _BY_SCHEMA.items() if f"for {name}" in system), _REPLIES[3])


def _script(runs: int) -> ScriptedLLM:
    replies: list[Any] = [_reply] * 8 * runs  # at most 8 model calls a run (retries included)
    return ScriptedLLM(replies=replies)


def _recipes() -> RecipeRegistry:
    recipes = default_registry()
    recipes.register(TINY)
    return recipes


def _campaign(root: Path, n: int, concurrency: int) -> Path:
    entries = "".join(f'\n[[entries]]\nid = "e{i}"\nquestion = "Tiny experiment {i}?"\n' for i in range(n))
    path = root / f"c{concurrency}.toml"
    path.write_text(
        f'name = "bench"\nconcurrency = {concurrency}\nheartbeat_s = 2\n[policy]\nallowed_recipes = ["tiny"]\n{entries}'
    )
    return path


def throughput(n: int, concurrency: int) -> tuple[float, dict[str, int]]:
    root = Path(tempfile.mkdtemp(prefix=f"ara-bench-campaign-{concurrency}-"))
    settings = load_settings(root / "ws")
    queue = CampaignQueue(settings.workspace)
    path = _campaign(root, n, concurrency)
    cid = queue.create(load_campaign(path), path)
    started = time.perf_counter()
    result = CampaignRunner(
        queue,
        cid,
        ResearchEntryRunner(settings, SessionDeps(llm=_script(n).client(), recipes=_recipes())),
        poll_s=0.05,
    ).run()
    return time.perf_counter() - started, result.counts


def queue_overhead(n: int) -> float:
    root = Path(tempfile.mkdtemp(prefix="ara-bench-queue-"))
    queue = CampaignQueue(root / "ws")
    path = _campaign(root, n, 2)
    cid = queue.create(load_campaign(path), path)

    def instant(ctx: EntryContext) -> EntryOutcome:
        return EntryOutcome(status="done", tokens=1)

    started = time.perf_counter()
    CampaignRunner(queue, cid, instant, poll_s=0.01).run()
    build_summary(queue, cid)
    return (time.perf_counter() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20, help="sandboxed runs per concurrency level")
    parser.add_argument("--queue-n", type=int, default=200)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    os.environ["ARA_ROLE"] = "agent"
    os.environ["ARA_SUBJECT_ENABLED"] = "false"  # the bench recipe calls no model: no embedded subject server per run
    t1, c1 = throughput(args.n, 1)
    t2, c2 = throughput(args.n, 2)
    per_entry = queue_overhead(args.queue_n)
    load = os.getloadavg()[0]
    text = (
        "## Campaigns (`bench/campaign.py`)\n\n"
        f"Command: `nice -n 10 .venv/bin/python -m bench.campaign -n {args.n}` (load average {load:.1f} on 2 cores "
        "when it finished).\n\n"
        f"Each run is a whole research-loop run (scripted model through the real openai SDK, one cell in a real "
        f"bubblewrap kernel, report, proposal commit), approved by the campaign policy.\n\n"
        "| concurrency | runs | outcomes | wall (s) | runs/min |\n|---|---|---|---|---|\n"
        f"| 1 | {args.n} | {c1} | {t1:.1f} | {60 * args.n / t1:.1f} |\n"
        f"| 2 | {args.n} | {c2} | {t2:.1f} | {60 * args.n / t2:.1f} |\n\n"
        f"**Throughput ratio concurrency 2 / 1: {t1 / t2:.2f}** (2 cores: kernel start and git dominate a run).\n\n"
        f"**Queue overhead: {per_entry * 1000:.1f} ms per entry** ({args.queue_n} entries with an instant runner: "
        "claim, heartbeat, finish and the summary; target < 50 ms).\n"
    )
    print(text)
    if not args.no_write:
        write_section("campaign", text)


if __name__ == "__main__":
    main()
