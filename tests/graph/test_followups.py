"""Several experiments per plan and follow-ups until a hypothesis is settled, through the whole loop.

A seeded variant of the ``divide`` test recipe writes one ratio per seed (one half plus a fixed per-seed offset), so
three seeds leave "the ratio is above four tenths" inconclusive and six settle it. The scripted model only answers;
code chooses the follow-up (more seeds), runs it as a child experiment with its own results, and the report says
which result answered the hypothesis.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel, ConfigDict

from assistant.budget import Budget
from assistant.cards import Knob, MetricSpec, ToolCard
from assistant.errors import AssistantError
from assistant.events import FollowUpProposed, PlanApproved, PlanRejected
from assistant.graph import compile_graph, resume_run, start_run
from assistant.graph.nodes.followup import settle_chance
from assistant.graph.state import SCHEMA_VERSION
from assistant.graph.tree import ExperimentNode
from assistant.graph.treeresults import merge_results
from assistant.llm.testing import ScriptedLLM
from assistant.recipes import Recipe
from assistant.report.model import HypothesisResult
from assistant.report.stats import evaluate_hypothesis
from assistant.runlog import events_of, read_events
from assistant.schemas import Approval, Hypothesis
from tests.graph.conftest import brief, critique, make_context, plans, start_in_memory, tool_choice
from tools.results import SCHEMA as RESULTS_SCHEMA
from tools.results import RedFlag, ResultsDocument, Verification, write_document
from tools.vcs import Workspace

OFFSETS = [0.3, -0.2, 0.05, 0.02, -0.01, 0.03, 0.0, 0.01, -0.02, 0.01]
"""Per-seed offsets from one half: the interval over seeds 0-2 includes 0.4, over seeds 0-5 it lies above."""
QUESTION = "Is one divided by two above four tenths on average over seeds?"
HYPOTHESIS = {"statement": "The ratio is above four tenths.", "metric": "ratio", "predicted": "increase", "null": 0.4}


class SeededDivideConfig(BaseModel):
    """The cell writes ``1/denominator + OFFSETS[seed]`` for each seed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    denominator: int = 2
    seeds: list[int] = [0, 1, 2]


def _render(config: BaseModel, out_dir: Path) -> str:
    assert isinstance(config, SeededDivideConfig)
    return (
        "import json, pathlib\n"
        f"out = pathlib.Path({str(out_dir)!r}); out.mkdir(parents=True, exist_ok=True)\n"
        f"offsets = {OFFSETS!r}\n"
        f"values = [1 / {config.denominator} + offsets[s] for s in {config.seeds!r}]\n"
        "doc = {'schema': 'ara.results/1', 'tool': 'tests.seeded_divide', 'title': 'seeded divide', 'config': {},\n"
        "       'metrics': {'ratio': {'mean': sum(values) / len(values), 'values': values, 'over': 'seeds',\n"
        "                             'n': len(values)}},\n"
        "       'tables': {}, 'figures': {}, 'provenance': {}}\n"
        "(out / 'results.json').write_text(json.dumps(doc))\n"
        f"(out / 'config.json').write_text({config.model_dump_json()!r})\n"
    )


SEEDED = Recipe(
    name="seeded_divide",
    summary="Divide one by a number once per seed, with a fixed per-seed offset (test recipe).",
    load_config=lambda: SeededDivideConfig,
    render=_render,
    card=ToolCard(
        name="seeded_divide",
        family="Divide one by a number over several seeds: the research loop's follow-up test tool.",
        answers=[QUESTION, "Is the seeded ratio of one over two above four tenths?", "What is one over n per seed?"],
        conditions=["numerator", "denominator"],
        knobs=[Knob(name="denominator", meaning="what one is divided by")],
        metrics=[MetricSpec(name="ratio", meaning="one divided by the denominator, per seed", over="seeds")],
        method="The cell divides one by the denominator for each seed, adds the seed's offset and writes the ratios.",
        seeds_field="seeds",
    ),
)


def _context(script: ScriptedLLM, workspace: Workspace, run_path: Path, **kwargs: Any) -> Any:
    ctx = make_context(script.client(), workspace, run_path, **kwargs)
    ctx.recipes.register(SEEDED)
    return ctx


async def _run_loop(
    workspace: Workspace, name: str, replies: list[Any], *, render: Any = None, **kwargs: Any
) -> tuple[Any, Any, ScriptedLLM]:
    """``QUESTION`` through the whole loop on the seeded-divide tool (its cell written by ``render`` when given),
    every scripted reply used: the outcome, the run and the script (its requests)."""
    script = ScriptedLLM(replies=replies)
    run = workspace.new_run(name)
    ctx = make_context(script.client(), workspace, run.path, **kwargs)
    ctx.recipes.register(SEEDED if render is None else dataclasses.replace(SEEDED, render=render))
    outcome = await start_in_memory(ctx, run, workspace, QUESTION)
    script.assert_done()
    return outcome, run, script


def _one_inconclusive_round() -> list[Any]:
    return [brief(), tool_choice("seeded_divide"), _plan(), _analysis("inconclusive"), critique()]


def _plan(**extra: Any) -> dict[str, Any]:
    return plans(
        recipe="seeded_divide", config={"denominator": 2, "seeds": [0, 1, 2]}, hypotheses=[HYPOTHESIS], **extra
    )


def _analysis(stance: str) -> dict[str, Any]:
    return {
        "claims": [{"statement": "The ratio is above four tenths.", "about": ["H1"], "stance": stance}],
        "limitations": ["a toy recipe"],
    }


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.anyio
async def test_an_inconclusive_hypothesis_settles_after_one_follow_up_with_more_seeds(workspace: Workspace) -> None:
    replies = [*_one_inconclusive_round(), _analysis("supports"), critique()]
    outcome, run, script = await _run_loop(workspace, "followup", replies)
    assert outcome.status == "done", outcome
    assert outcome.cells == 2
    # the follow-up: chosen by code, best-first, for the open hypothesis
    events = read_events(run.path / "events.jsonl")
    (proposed,) = events_of(events, FollowUpProposed)
    assert (proposed.node, proposed.parent, proposed.kind, proposed.settles) == ("f1", "e1", "more_seeds", ["H1"])
    assert proposed.score > 0
    assert [e.plan_title for e in events_of(events, PlanApproved)] == ["Divide test", "Follow-up f1 of e1: more_seeds"]
    # each experiment has its own frozen config and results; the run's results.json merges them
    assert _json(run.path / "experiments/e1/results.json")["metrics"]["ratio"]["n"] == 3
    child = _json(run.path / "experiments/f1/results.json")
    assert child["metrics"]["ratio"]["n"] == 6
    assert _json(run.path / "experiments/f1/config.json") == {"denominator": 2, "seeds": [0, 1, 2, 3, 4, 5]}
    merged = _json(run.path / "results.json")
    assert sorted(merged["metrics"]) == ["f1/ratio", "ratio"]
    assert merged["provenance"]["experiments"] == ["e1", "f1"]
    # the second analysis was told which experiment answers the hypothesis
    second_analysis = script.requests[5]["messages"][-1]["content"]
    assert "H1 is answered by experiment f1" in second_analysis
    assert "experiment e1 (main, done): H1 inconclusive" in second_analysis
    # report.json: the tree, the follow-up count, which result answered what; the verdict is the settled one
    report = _json(run.path / "report.json")
    tree = report["tree"]
    assert tree["followups"] == 1
    assert tree["answered_by"] == {"H1": "f1"}
    nodes = {n["id"]: n for n in tree["nodes"]}
    assert (nodes["f1"]["parent"], nodes["f1"]["kind"], nodes["f1"]["depth"]) == ("e1", "more_seeds", 1)
    assert nodes["e1"]["verdicts"][0]["verdict"] == "inconclusive"
    assert nodes["f1"]["verdicts"][0]["verdict"] == "supported"
    assert nodes["f1"]["results"] == "experiments/f1/results.json"
    assert tree["stopped"] == "Every pre-registered hypothesis is settled."
    (h1,) = report["hypotheses"]
    assert (h1["verdict"], h1["metric"], h1["n"]) == ("supported", "f1/ratio", 6)
    assert h1["ci_low"] > 0.4
    assert [c["accepted"] for c in report["claims"]] == [True]
    assert report["check"]["ok"] is True, report["check"]
    markdown = (run.path / "report.md").read_text()
    assert "## Experiments and follow-ups" in markdown
    assert "2 experiment(s), 1 follow-up(s). Every pre-registered hypothesis is settled." in markdown
    assert "- **e1** main (main, done)" in markdown
    assert (
        "  - **f1** more_seeds (more_seeds, done), follows up e1: H1 open after e1; seeds from 3 to 6 seeds" in markdown
    )
    assert "H1 on `f1/ratio`: **supported**" in markdown
    assert "(answers it in this report)" in markdown
    page = (run.path / "report.html").read_text()
    assert '<section id="experiments"><h2>Experiments and follow-ups</h2>' in page
    assert "f1 more_seeds (more_seeds, done), follows up e1" in page


@pytest.mark.anyio
async def test_the_researcher_approves_or_declines_each_follow_up(workspace: Workspace) -> None:
    for decision in ("approve", "reject"):
        replies: list[Any] = [brief(), tool_choice("seeded_divide"), _plan(), _analysis("inconclusive"), critique()]
        if decision == "approve":
            replies += [_analysis("supports"), critique()]
        script = ScriptedLLM(replies=replies)
        run = workspace.new_run(f"ask-{decision}")
        ctx = _context(script, workspace, run.path, policy="ask")
        graph = compile_graph(InMemorySaver())
        outcome = await start_run(
            graph, ctx, run_id=run.run_id, question=QUESTION, run_dir=run.path, workspace=workspace.path
        )
        assert outcome.status == "awaiting_approval"
        outcome = await resume_run(
            graph, ctx, run.run_id, approval=Approval(decision="approve", reviewer="ada", plan_index=0)
        )
        assert outcome.status == "awaiting_approval", "the follow-up waits for the researcher"
        (followup,) = outcome.plans
        assert followup.title == "Follow-up f1 of e1: more_seeds"
        assert followup.config == {"denominator": 2, "seeds": [0, 1, 2, 3, 4, 5]}
        answer = Approval(decision=decision, reviewer="ada", comment="enough for today" if decision == "reject" else "")
        outcome = await resume_run(graph, ctx, run.run_id, approval=answer)
        script.assert_done()
        assert outcome.status == "done", outcome
        report = _json(run.path / "report.json")
        (h1,) = report["hypotheses"]
        if decision == "approve":
            assert (h1["verdict"], report["tree"]["followups"], outcome.cells) == ("supported", 1, 2)
        else:
            assert (h1["verdict"], report["tree"]["followups"], outcome.cells) == ("inconclusive", 0, 1)
            assert report["tree"]["stopped"] == "Follow-up f1 was declined by ada: enough for today."
            assert [n["status"] for n in report["tree"]["nodes"]] == ["done", "rejected"]
            assert not (run.path / "experiments/f1/results.json").exists()
            assert events_of(read_events(run.path / "events.jsonl"), PlanRejected)[0].reviewer == "ada"


@pytest.mark.anyio
async def test_no_follow_up_past_the_follow_up_budget(workspace: Workspace) -> None:
    outcome, run, _ = await _run_loop(workspace, "no-budget", _one_inconclusive_round(), budget=Budget(followups=0))
    assert (outcome.status, outcome.cells) == ("done", 1)
    report = _json(run.path / "report.json")
    assert report["hypotheses"][0]["verdict"] == "inconclusive"
    assert report["tree"]["stopped"] == "H1 still open; no follow-up: the follow-up budget (0) is spent."
    assert report["tree"]["followups"] == 0
    assert not (run.path / "experiments").exists()
    assert not events_of(read_events(run.path / "events.jsonl"), FollowUpProposed)


def _fails_past_three_seeds(config: BaseModel, out_dir: Path) -> str:
    assert isinstance(config, SeededDivideConfig)
    guard = "raise RuntimeError('out of time')\n" if len(config.seeds) > 3 else ""
    return guard + _render(config, out_dir)


@pytest.mark.anyio
async def test_a_failed_follow_up_is_not_debugged_and_the_report_covers_what_ran(workspace: Workspace) -> None:
    """An oversight follow-up of twice the items timed out; the loop debugged it (a model call, then a cell with
    five seconds left) and the run ended on its budget with no report of the two experiments that had run."""
    # every scripted reply used, and no more: no debug call
    outcome, run, _ = await _run_loop(
        workspace, "failed-followup", _one_inconclusive_round(), render=_fails_past_three_seeds
    )
    assert (outcome.status, outcome.cells) == ("done", 2)
    report = _json(run.path / "report.json")
    nodes = {n["id"]: n["status"] for n in report["tree"]["nodes"]}
    assert nodes == {"e1": "done", "f1": "failed"}
    assert report["tree"]["stopped"] == (
        "Follow-up f1 failed (RuntimeError: out of time); the report is written from the experiments that ran."
    )
    (h1,) = report["hypotheses"]
    assert (h1["verdict"], h1["metric"]) == ("inconclusive", "ratio")
    assert (run.path / "report.md").is_file()


class _Clock:
    """A clock on which every node takes 100 s (a node reads it when it starts and when it ends)."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 100.0
        return self.now


def _sleeps_a_second(config: BaseModel, out_dir: Path) -> str:
    return "import time\ntime.sleep(1.0)\n" + _render(config, out_dir)


@pytest.mark.anyio
async def test_no_follow_up_expected_to_outlast_the_wall_time_left(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A follow-up of twice the seeds takes about twice its parent's cell: an oversight run started one of twice
    the items with 26 minutes left after cells of 13 and 17 minutes, and hit the 25-minute cell limit. The report of
    what ran is written although the wall budget is spent."""
    from assistant.graph.nodes import _common

    monkeypatch.setattr(_common, "time", _Clock())
    # nine nodes of 100 s before plan_followup: 900 s; 1.5 s are left, and the cell sleeps one second
    outcome, run, _ = await _run_loop(
        workspace, "no-wall", _one_inconclusive_round(), render=_sleeps_a_second, budget=Budget(wall_s=901.5)
    )
    assert (outcome.status, outcome.cells) == ("done", 1)
    stopped = _json(run.path / "report.json")["tree"]["stopped"]
    assert re.fullmatch(
        r"H1 still open; no follow-up: the best \(seeds from 3 to 6 seeds\) is expected to take about \d s \(e1's "
        r"cell took 1 s, times 2\), and 2 s of wall time are left\.",
        stopped,
    ), stopped
    assert not events_of(read_events(run.path / "events.jsonl"), FollowUpProposed)


@pytest.mark.anyio
async def test_a_plan_runs_all_its_experiments_and_compares_them_paired_by_seed(workspace: Workspace) -> None:
    control = {
        "name": "Quarter",
        "role": "control",
        "description": "dividing by four should halve the ratio",
        "config": {"denominator": 4, "numerator": 3},
    }
    seeds = [0, 1, 2, 3, 4, 5]
    planned = plans(
        recipe="seeded_divide",
        config={"denominator": 2, "seeds": seeds},
        hypotheses=[HYPOTHESIS],
        experiments=[control],
    )
    replies = [brief(), tool_choice("seeded_divide"), planned, _analysis("supports"), critique()]
    outcome, run, _ = await _run_loop(workspace, "multi", replies)
    assert (outcome.status, outcome.cells) == ("done", 2)
    assert _json(run.path / "experiments/e2/config.json") == {"denominator": 4, "seeds": seeds}
    assert "numerator" not in (run.path / "cells/01.py").read_text(), "a field the recipe lacks was refused"
    merged = _json(run.path / "results.json")
    assert sorted(merged["metrics"]) == ["e2/ratio", "ratio"]
    report = _json(run.path / "report.json")
    tree = report["tree"]
    assert [(n["id"], n["name"], n["role"]) for n in tree["nodes"]] == [
        ("e1", "main", "main"),
        ("e2", "quarter", "control"),
    ]
    (comparison,) = tree["comparisons"]
    assert (comparison["experiment"], comparison["baseline"], comparison["metric"]) == ("e2", "e1", "ratio")
    assert comparison["paired"] is True
    assert comparison["estimate"] == pytest.approx(-0.25)
    assert comparison["ci_low"] == pytest.approx(-0.25)
    assert comparison["ci_high"] == pytest.approx(-0.25)
    assert "paired percentile bootstrap over 6 seeds" in comparison["method"]
    assert tree["followups"] == 0
    assert report["hypotheses"][0]["verdict"] == "supported"
    assert "| `ratio`: e2 - e1 |" in (run.path / "report.md").read_text()


def test_the_state_version_covers_the_experiment_tree() -> None:
    assert SCHEMA_VERSION == 3


def test_the_follow_up_budget_is_set_like_the_others() -> None:
    assert Budget().followups == 3
    assert Budget().with_overrides("followups=1,cells=4").followups == 1
    with pytest.raises(AssistantError, match="debug and followups >= 0"):
        Budget().with_overrides("followups=-1")


def _verdict(metrics: dict[str, dict[str, Any]], baseline: str | None = "judge_accuracy.alone") -> HypothesisResult:
    hypothesis = Hypothesis(
        id="H1",
        statement="Critiques help.",
        metric="judge_accuracy.critique",
        baseline=baseline,
        predicted="increase",
    )
    results = ResultsDocument.model_validate({"schema": RESULTS_SCHEMA, "metrics": metrics})
    return evaluate_hypothesis(hypothesis, results, over="items")


def test_a_hypothesis_nothing_was_measured_for_gets_no_follow_up() -> None:
    """More items cannot settle a comparison whose side never ran (an oversight run without critiques was
    followed up twice with 'limit from 10 to 20', then '20 to 40', each again without the metric), nor one whose
    values cannot be paired though both points exist; a few values more data can complete still get one."""
    alone = {"mean": 0.4, "values": [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0], "over": "items"}
    absent = _verdict({"judge_accuracy.alone": alone})
    assert (absent.verdict, absent.more_data_can_settle) == ("insufficient", False)
    assert settle_chance(absent, 2.0, unit_matches=True) == 0.0
    unpaired = _verdict({"judge_accuracy.alone": alone, "judge_accuracy.critique": {"value": 0.6}})
    assert unpaired.estimate == pytest.approx(0.2), "a point estimate of the difference, but no values to pair"
    assert (unpaired.verdict, unpaired.more_data_can_settle) == ("insufficient", False)
    assert settle_chance(unpaired, 2.0, unit_matches=True) == 0.0
    few_values = [1.0, 0.0, 1.0, 1.0, 0.0]
    few = _verdict(
        {
            "judge_accuracy.alone": {"mean": 0.4, "values": [1.0, 0.0, 0.0, 1.0, 0.0], "over": "items"},
            "judge_accuracy.critique": {"mean": 0.6, "values": few_values, "over": "items"},
        }
    )
    assert (few.verdict, few.n, few.more_data_can_settle) == ("insufficient", 5, True)
    assert settle_chance(few, 2.0, unit_matches=True) == 0.5, "five items doubled reach the ten a verdict needs"
    nan = _verdict({"judge_accuracy.critique": {"value": float("nan")}}, baseline=None)
    assert settle_chance(nan, 4.0, unit_matches=True) == 0.0, "a non-finite metric is not fixed by more items"
    nan_values = [float("nan")] * 10
    failing = _verdict({"judge_accuracy.critique": {"values": nan_values, "over": "items"}}, baseline=None)
    assert (failing.verdict, failing.more_data_can_settle) == ("insufficient", False), "every one of 10 items undefined"
    assert failing.method == "all 10 values are undefined"
    assert settle_chance(failing, 2.0, unit_matches=True) == 0.0
    too_few = _verdict({"judge_accuracy.critique": {"values": nan_values[:4], "over": "items"}}, baseline=None)
    assert too_few.more_data_can_settle, "four undefined items of the ten a verdict needs may be chance"


@pytest.mark.anyio
async def test_a_follow_up_starts_from_the_config_its_parent_ran_after_a_debug_fix(workspace: Workspace) -> None:
    """A debug step changed an open field only in the cell it wrote: a follow-up of that experiment reran the
    config that had failed."""
    planned = plans(
        recipe="seeded_divide",
        config={"denominator": 0, "seeds": [0, 1, 2]},
        hypotheses=[HYPOTHESIS],
        open_fields=["denominator"],
    )
    debug_fix = {"denominator": 2, "seeds": [0, 1, 2]}
    replies = [brief(), tool_choice("seeded_divide"), planned, debug_fix, _analysis("inconclusive"), critique()]
    outcome, run, _ = await _run_loop(workspace, "debugged-followup", [*replies, _analysis("supports"), critique()])
    assert (outcome.status, outcome.cells) == ("done", 3)
    assert _json(run.path / "experiments/f1/config.json") == {"denominator": 2, "seeds": [0, 1, 2, 3, 4, 5]}
    nodes = {n["id"]: n for n in _json(run.path / "report.json")["tree"]["nodes"]}
    assert nodes["f1"]["status"] == "done"


def test_the_merged_results_keep_every_experiments_red_flags(tmp_path: Path) -> None:
    """Seen on the critique question: the follow-up's judge answered A to 20 of 20 items, and the report flagged only
    the main experiment's 10 of 10 because the merged results.json kept the main experiment's verification alone."""

    def doc(detail: str, *, host: bool = True) -> ResultsDocument:
        flags = [RedFlag(code="one_letter_answers", detail=detail)]
        verification = Verification.host(flags) if host else Verification.self_reported(flags)
        metric = {"mean": 0.5, "values": [0.5, 0.5], "over": "items", "n": 2}
        return ResultsDocument.model_validate(
            {"tool": "t", "title": "t", "config": {}, "metrics": {"acc": metric}, "verification": verification}
        )

    e1 = ExperimentNode(id="e1", name="main", role="main", status="done")
    f1 = ExperimentNode(id="f1", parent="e1", name="more items", role="follow_up", status="done", host_dir="f1")
    write_document(tmp_path, doc("A on 10 of 10"))
    write_document(tmp_path / "f1", doc("A on 20 of 20"))
    assert merge_results(tmp_path, [e1, f1])
    merged = ResultsDocument.model_validate_json((tmp_path / "results.json").read_text())
    assert merged.verification is not None
    assert merged.verification.scored_by == "host"
    assert [f.detail for f in merged.verification.red_flags] == ["e1: A on 10 of 10", "f1: A on 20 of 20"]
    assert set(merged.metrics) == {"acc", "f1/acc"}

    write_document(tmp_path / "f1", doc("A on 20 of 20", host=False))
    assert merge_results(tmp_path, [e1, f1])  # merging again starts from e1's pristine copy
    merged = ResultsDocument.model_validate_json((tmp_path / "results.json").read_text())
    assert merged.verification is not None
    assert merged.verification.scored_by == "experiment", "one self-reported experiment makes the whole file so"
    assert len(merged.verification.red_flags) == 2
