"""Tool choice on a labelled set of research questions: the real planner picks a tool that tests the question, or
ends the run out of scope, never with an unrelated experiment.

``tests/data/tool_questions.json`` labels each question with the tools that can test it (empty: out of scope). The
scripted model takes the first tool it is offered (so the shortlist's ranking is what is tested); the ``local_llm``
test lets the embedded tiny model choose. Both drive the whole loop up to the plan approval.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.runtime import Runtime

from assistant.events import InjectionBlocked, PlanAdjusted, ToolChosen
from assistant.graph import compile_graph, start_run
from assistant.graph.nodes.scope import choose_tool
from assistant.llm import connect_llm
from assistant.llm.local_server import LocalServer
from assistant.llm.testing import ScriptedLLM
from assistant.recipes import default_registry
from assistant.report import ExperimentRecord, ResultsDocument
from assistant.report.compose import methods_markdown
from assistant.runlog import events_of, read_events
from assistant.schemas import RunOutcome
from assistant.settings import load_settings
from assistant.toolchoice import SMOKE, ShortlistRule, ToolRanker
from tests.graph.conftest import brief, make_context, plans
from tools.vcs import Workspace

LABELLED = json.loads((Path(__file__).parents[1] / "data" / "tool_questions.json").read_text())["questions"]
CONFIGS: dict[str, dict[str, Any]] = {
    "synthetic_w2s": {"n_samples": 300, "seeds": [0, 1, 2]},
    "w2s": {"dataset": "rotten_tomatoes", "weak_features": "bow", "strong_features": "minilm", "seeds": [0, 1, 2]},
    "probes": {"dataset": "strategyqa", "layers": [4, 8]},
    "honesty_probes": {"task": "misconceptions", "layers": [4, 8]},
    "mc_eval": {"task": "truthful_qa", "limit": 5},
    "oversight": {"task": "truthful_qa", "limit": 3},
    "cot": {"task": "misconceptions", "limit": 3},
    "steering": {"layer": 12, "coefficients": [2.0], "seeds": [0, 1, 2]},
}
NOTE = {"needs": "a measurement no tool makes", "would_build": "a new tool", "answer": []}


def _offered(body: dict[str, Any]) -> list[str]:
    schema = body["response_format"]["schema"]
    return list(schema["properties"]["tool"]["enum"])


def first_offered(body: dict[str, Any]) -> dict[str, Any]:
    """A model that always takes the best-ranked tool it is offered (or plans, or scopes, as asked)."""
    system = body["messages"][0]["content"]
    if "for ResearchBrief" in system:
        return brief()
    if "for ToolChoice" in system:
        return {"tool": _offered(body)[0], "reason": "it is listed first"}
    if "for ExperimentPlans" in system:
        recipe = body["response_format"]["schema"]["$defs"]["ExperimentPlan"]["properties"]["recipe"]["enum"][0]
        return plans(recipe=recipe, config=CONFIGS[recipe])
    if "for ScopeNote" in system:
        return NOTE
    raise AssertionError(f"unexpected request: {system[:200]}")


async def _plan(workspace: Workspace, question: str, replies: list[Any]) -> tuple[RunOutcome, Any]:
    script = ScriptedLLM(replies=replies)
    run = workspace.new_run("choice")
    ctx = make_context(script.client(), workspace, run.path, policy="ask")
    outcome = await start_run(
        compile_graph(InMemorySaver()),
        ctx,
        run_id=run.run_id,
        question=question,
        run_dir=run.path,
        workspace=workspace.path,
    )
    return outcome, run


def test_the_labelled_set_is_large_enough_and_mixed() -> None:
    assert len(LABELLED) >= 12
    assert sum(1 for q in LABELLED if not q["tools"]) >= 4, "enough out-of-scope questions"
    assert {t for q in LABELLED for t in q["tools"]} == set(CONFIGS), "every tool has questions"


@pytest.mark.anyio
async def test_a_model_that_gives_no_valid_choice_gets_no_tool_picked_for_it(workspace: Workspace) -> None:
    """Seen with the tiny model: a repeating answer cut off mid-JSON on every retry. Nothing is run in its place."""
    question = "Does letting two models debate help a weak judge pick the correct answer?"
    broken = '{ "tool": "oversight", "reason" : "does not test | does not test | does not'
    outcome, run = await _plan(workspace, question, [brief(), broken, broken, broken, NOTE])
    [chosen] = events_of(read_events(run.path / "events.jsonl"), ToolChosen)
    assert chosen.offered
    assert chosen.chosen is None
    assert chosen.reason.endswith("; the model gave no valid choice after its retries, so no tool was run")
    assert (outcome.status, outcome.cells) == ("out_of_scope", 0)
    blocked = [e.rule for e in events_of(read_events(run.path / "events.jsonl"), InjectionBlocked)]
    assert "tool_choice_invalid" in blocked
    assert not (run.path / "results.json").exists(), "no experiment ran"


@pytest.mark.anyio
@pytest.mark.parametrize("labelled", LABELLED, ids=[q["question"][:40] for q in LABELLED])
async def test_the_planner_chooses_a_tool_that_tests_the_question_or_none(
    workspace: Workspace, labelled: dict[str, Any]
) -> None:
    outcome, run = await _plan(workspace, labelled["question"], [first_offered] * 6)
    events = read_events(run.path / "events.jsonl")
    [chosen] = events_of(events, ToolChosen)
    if labelled["tools"]:
        assert outcome.status == "awaiting_approval", (chosen.reason, outcome.failure)
        assert chosen.chosen in labelled["tools"], chosen
        assert [p.recipe for p in outcome.plans] == [chosen.chosen]
    else:
        assert outcome.status == "out_of_scope", chosen
        assert chosen.chosen is None
        assert outcome.plans == ()
        report = json.loads((run.path / "report.json").read_text())
        assert report["kind"] == "out_of_scope"
        assert [t["name"] for t in report["closest"]], "the closest tools are listed"
        assert not (run.path / "results.json").exists(), "no experiment ran"


@pytest.mark.anyio
async def test_a_truthfulqa_eval_question_runs_an_eval_tool_or_ends_out_of_scope_never_w2s(
    workspace: Workspace,
) -> None:
    question = "How accurate is SmolLM2 on TruthfulQA, and is it better than answering at random?"
    outcome, run = await _plan(workspace, question, [first_offered] * 4)
    [chosen] = events_of(read_events(run.path / "events.jsonl"), ToolChosen)
    assert not {"w2s", "synthetic_w2s"} & set(chosen.offered), chosen
    assert chosen.chosen == "mc_eval", chosen
    assert outcome.status == "awaiting_approval"
    assert [p.recipe for p in outcome.plans] == ["mc_eval"]


@pytest.mark.anyio
async def test_a_smoke_test_asked_for_by_name_takes_the_smoke_card_without_asking_the_model(
    workspace: Workspace,
) -> None:
    question = "Run a synthetic smoke test: does the student trained on weak labels beat its weak supervisor?"
    replies = [brief(), plans(recipe="synthetic_w2s", config=CONFIGS["synthetic_w2s"])]
    outcome, run = await _plan(workspace, question, replies)
    [chosen] = events_of(read_events(run.path / "events.jsonl"), ToolChosen)
    assert chosen.offered[0] == "synthetic_w2s"
    assert chosen.chosen == "synthetic_w2s"
    assert chosen.reason.endswith("; the question asks for a smoke test, which synthetic_w2s is")
    assert outcome.status == "awaiting_approval"
    assert [p.recipe for p in outcome.plans] == ["synthetic_w2s"]


@pytest.mark.anyio
async def test_hello_has_no_testable_content(workspace: Workspace) -> None:
    earlier = workspace.new_run("earlier")
    (earlier.path / "report.md").write_text("# an earlier report\n")
    outcome, run = await _plan(workspace, "hello", [brief(), NOTE])
    assert (outcome.status, outcome.cells) == ("out_of_scope", 0)
    assert outcome.failure is not None
    assert outcome.failure.startswith("out of scope:")
    assert json.loads((run.path / "report.json").read_text())["question"] == "hello"
    assert not (run.path / "results.json").exists()
    assert (earlier.path / "report.md").read_text() == "# an earlier report\n", "nothing stored is lost"


@pytest.fixture(scope="module")
def ranker() -> ToolRanker:
    return ToolRanker(default_registry().cards())


STEERING_QUESTION = (
    "Does adding a truthfulness direction from contrast pairs at a middle layer raise the subject model's accuracy on "
    "misconceptions more than a random direction of the same norm?"
)


def test_a_card_is_not_offered_for_a_question_naming_what_it_does_not_test(ranker: ToolRanker) -> None:
    """The default model chose mc_eval for this campaign question when it was offered beside steering."""
    by_words = ranker.rank(STEERING_QUESTION)
    assert by_words.offered == ["steering"]
    assert by_words.ruled_out["mc_eval"].startswith("activations, probes or layers ('layer')")
    assert by_words.ruled_out["probes"].startswith("an intervention on activations (steering) ('adding a")
    assert "; not offered: " in by_words.reason
    assert "mc_eval (the question asks for activations" in by_words.reason
    by_similarity = ToolRanker(default_registry().cards(), rule=ShortlistRule(words=False)).rank(STEERING_QUESTION)
    assert {"mc_eval", "probes", "steering"} <= set(by_similarity.offered), "without the words all three are offered"
    assert by_similarity.ruled_out == {}


@pytest.mark.parametrize(
    ("question", "absent", "present"),
    [
        ("Does reading a critique of each option raise the judge's TruthfulQA accuracy?", "mc_eval", "oversight"),
        ("Does reasoning step by step make the model more accurate on misconceptions?", "mc_eval", "cot"),
        (
            "At which layer is the truth of a misconception statement linearly decodable?",
            "cot",
            "probes|honesty_probes",
        ),
        ("Does a judge much smaller than its critic still gain from the critiques?", "oversight", None),
        ("Does the model's answer survive when its reasoning is paraphrased?", "cot", None),
        ("Does an AI critic's help make the model's verdicts on FEVER claims more accurate?", "honesty_probes", None),
        ("Does a three-round debate help the judge more than a single exchange of arguments?", "oversight", None),
        ("How does judge accuracy scale with the number of debate rounds?", "oversight", None),
        ("Does a second round of debate help the judge?", "oversight", None),
        ("Can a probe on hidden states tell true PolitiFact claims from false ones?", "probes", "honesty_probes"),
        ("At which layer does a lie detector separate positive from negative movie reviews?", "honesty_probes", None),
        ("If we replace the reasoning with dots of the same length, does accuracy hold?", "cot", None),
        ("Does a bigger critic help a small judge more than self-critique does?", "oversight", None),
        ("Pair a 135M judge with a 1.7B critic on truthful_qa: does the judge gain?", "oversight", None),
        ("Does steering along the honesty direction make the model's free-form answers more honest?", "steering", None),
        ("Can a probe on activations predict whether the model's generated text will be truthful?", "probes", None),
        (
            "Where in SmolLM2 does the truth of a claim live? Sweep layers and tell me where a linear read-out peaks.",
            "steering",
            "probes|honesty_probes",
        ),
    ],
)
def test_words_rule_out_single_cards(ranker: ToolRanker, question: str, absent: str, present: str | None) -> None:
    """``present``: the tools, any of them, that must be offered first (``|`` between them)."""
    shortlist = ranker.rank(question)
    assert absent not in shortlist.offered, shortlist
    assert absent in shortlist.ruled_out, shortlist
    if present is not None:
        assert shortlist.offered[0] in present.split("|"), shortlist


@pytest.mark.parametrize(
    ("question", "tool"),
    [
        ("Does injecting a mistake into the chain of thought change the model's final answer?", "cot"),
        ("Do interventions on the model's stated reasoning change its final answer?", "cot"),
        ("Does the model beat chance on BIG-bench logical reasoning questions?", "mc_eval"),
        ("Probing the model's knowledge with multiple choice: is its TruthfulQA accuracy above chance?", "mc_eval"),
        ("Does CCS find a truth direction, and additionally is that direction stable across layers?", "probes"),
        ("Does a student trained by a weak supervisor standing in for humans beat it on rotten_tomatoes?", "w2s"),
        ("Does a GPT-2-sized weak supervisor's labelling still help a stronger student on rotten_tomatoes?", "w2s"),
        ("Does a debate help a non-expert judge pick the right answer on TruthfulQA?", "oversight"),
        ("Does a debate help a weak judge find the truthful answer on misconceptions?", "oversight"),
        ("On TruthfulQA, does a one-round debate leave the judge worse off than judging alone?", "oversight"),
        ("With Qwen2.5-Coder-1.5B features as the strong student, is PGR positive on rotten_tomatoes?", "w2s"),
        ("Does fine-tuning the model on a weak supervisor's labels beat the supervisor on rotten_tomatoes?", "w2s"),
        ("Do critiques help a 1.5B judge pick the right answer on truthful_qa?", "oversight"),
        ("Does steering change the model's generated answers on TruthfulQA more than a random direction?", "steering"),
        (
            "Does adding the direction found by a linear read-out at layer 12 raise accuracy on misconceptions more "
            "than a random direction?",
            "steering",
        ),
        ("Can CCS reproduce Figure 3b of Burns et al. on the subject model's hidden states?", "probes"),
    ],
)
def test_words_that_merely_resemble_a_cue_rule_nothing_out(ranker: ToolRanker, question: str, tool: str) -> None:
    """A review found each of these lost its own tool to a cue: 'injecting a mistake' read as steering, a 'reasoning
    dataset' as chain of thought, 'additionally' as adding a direction, 'humans' and 'non-expert' as human raters."""
    assert tool in ranker.rank(question).offered


@pytest.mark.parametrize(
    ("question", "needs"),
    [
        ("How well do human raters agree with each other when labelling helpfulness?", "people as judges"),
        ("Do reward models prefer longer answers regardless of their quality?", "reward models"),
        ("Does a linear truth probe on Llama-2-7B transfer to Mistral-7B?", "a model family"),
        ("Does a refusal direction make the model resist jailbreak prompts?", "adversarial attacks"),
        ("After RMU-style unlearning, how many fine-tuning steps does it take to relearn the knowledge?", "unlearning"),
        (
            "Does fine-tuning a chat model on writing insecure code make it broadly misaligned elsewhere?",
            "fine-tuning a language model",
        ),
        (
            "If we fully fine-tune a 7B model end to end on a small model's labels, how much of the gap does it close?",
            "a model family or size",
        ),
    ],
)
def test_a_question_naming_what_no_tool_has_gets_nothing_offered(ranker: ToolRanker, question: str, needs: str) -> None:
    shortlist = ranker.rank(question)
    assert shortlist.offered == []
    assert shortlist.reason.startswith(f"the question asks for {needs}"), shortlist.reason


@pytest.mark.anyio
async def test_a_question_beyond_every_tool_ends_out_of_scope_without_a_choice_call(workspace: Workspace) -> None:
    """Only the brief and the scope note are scripted: a tool-choice request would exhaust the script and fail."""
    question = "How often do crowdworkers disagree on whether a chatbot answer is harmful?"
    outcome, run = await _plan(workspace, question, [brief(), NOTE])
    assert (outcome.status, outcome.cells) == ("out_of_scope", 0)
    [chosen] = events_of(read_events(run.path / "events.jsonl"), ToolChosen)
    assert chosen.offered == []
    assert chosen.chosen is None
    assert chosen.reason.startswith("the question asks for people as judges, raters or annotators ('crowdworkers')")
    assert not (run.path / "results.json").exists()


@pytest.mark.anyio
async def test_the_model_saying_none_ends_the_run_out_of_scope(workspace: Workspace) -> None:
    question = "Can CCS find a truth direction as well as a supervised probe, and at which layers?"
    outcome, run = await _plan(
        workspace, question, [brief(), {"tool": "none", "reason": "it asks about deployment"}, NOTE]
    )
    assert outcome.status == "out_of_scope"
    [chosen] = events_of(read_events(run.path / "events.jsonl"), ToolChosen)
    assert chosen.chosen is None
    assert "the model chose none: it asks about deployment" in chosen.reason


@pytest.mark.anyio
async def test_a_hypothesis_on_a_metric_the_tool_does_not_produce_is_refused_before_approval(
    workspace: Workspace,
) -> None:
    hypotheses = [
        {"statement": "PGR is positive.", "metric": "pgr", "predicted": "increase"},
        {"statement": "The student beats the weak model.", "metric": "w2s_vs_weak", "predicted": "increase"},
    ]
    question = "Does a strong student trained on a weak supervisor's labels beat it on movie reviews?"
    config = {"dataset": "rotten_tomatoes", "weak_features": "bow", "strong_features": "minilm", "seeds": [7]}
    replies = [brief(), {"tool": "w2s", "reason": "w2s"}, plans(recipe="w2s", config=config, hypotheses=hypotheses)]
    outcome, run = await _plan(workspace, question, replies)
    [plan] = outcome.plans
    assert [(h.id, h.metric, h.baseline) for h in plan.hypotheses] == [
        ("H1", "pgr", None),
        ("H2", "w2s_acc", "weak_acc"),
    ], "a comparison name resolves to its two metrics"
    assert plan.config["seeds"] == [7, 0, 1], "a plan that makes claims runs at least three seeds"
    [notes] = outcome.plan_notes
    assert notes == ("seeds raised from [7] to [7, 0, 1]: a plan that makes claims runs at least 3 seeds",)
    [adjusted] = events_of(read_events(run.path / "events.jsonl"), PlanAdjusted)
    assert adjusted.change == notes[0]

    refused = [{"statement": "CCS beats chance.", "metric": "ccs_acc.layer_{layer}", "predicted": "increase"}]
    replies = [brief(), {"tool": "w2s", "reason": "w2s"}, plans(recipe="w2s", config=config, hypotheses=refused)]
    outcome, run = await _plan(workspace, question, replies)
    [plan] = outcome.plans
    assert [(h.id, h.metric, h.baseline) for h in plan.hypotheses] == [("H1", "w2s_acc", "weak_acc")], (
        "with none of its own left, the plan gets the card's main hypothesis, registered before the run"
    )
    assert plan.config["seeds"] == [7, 0, 1]
    [notes] = outcome.plan_notes
    assert len(notes) == 3
    assert notes[0].startswith("hypothesis dropped: H1: w2s does not produce ccs_acc.layer_{layer}")
    assert notes[1] == (
        "the plan states no hypothesis that w2s can test; registered the tool's main one before the run: H1 'The "
        "student trained on weak labels beats its weak supervisor.' (w2s_vs_weak predicted above 0)"
    )


@pytest.mark.local_llm
@pytest.mark.slow
@pytest.mark.timeout(900)  # 18 real model calls: about 280 s on an idle 2-core machine, near the 300 s default
@pytest.mark.anyio
async def test_the_tiny_embedded_model_chooses_on_the_labelled_set(workspace: Workspace, tmp_path: Path) -> None:
    """The real planner with the embedded tiny model choosing: questions out of scope never run a tool, and most
    in-scope ones get a tool that tests them (the measured rate is in docs/benchmarks.md)."""
    settings = load_settings(workspace.path)
    client = connect_llm(settings)
    right = 0
    try:
        for labelled in LABELLED:
            run = workspace.new_run("tiny")
            ctx = make_context(client, workspace, run.path, policy="ask")
            state = {"run_id": run.run_id, "question": labelled["question"], "run_dir": str(run.path)}
            update = await choose_tool(state, runtime=Runtime(context=ctx))  # type: ignore[arg-type]
            if not labelled["tools"]:
                assert update["tool"] is None, (labelled["question"], update["tool_reason"])
            right += (update["tool"] in labelled["tools"]) if labelled["tools"] else 1
    finally:  # the server connect_llm started for this workspace would otherwise outlive the test session
        LocalServer(settings.workspace, settings.local_llm).stop()
    assert right / len(LABELLED) >= 0.7, f"tiny model chose right on {right} of {len(LABELLED)}"


@pytest.mark.anyio
async def test_split_sizes_larger_than_the_dataset_are_fitted_before_approval_with_a_note_for_the_methods(
    workspace: Workspace, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARA_BIGBENCH_TASKS", str(shared_dir / "datasets" / "bigbench_tasks"))
    question = "Does a strong student trained on a weak supervisor's labels beat it on TruthfulQA statements?"
    config = {"dataset": "truthful_qa", "weak_features": "bow", "strong_features": "minilm", "seeds": [0, 1, 2]}
    hypotheses = [{"statement": "The student beats its supervisor.", "metric": "w2s_vs_weak", "predicted": "increase"}]
    replies = [brief(), {"tool": "w2s", "reason": "w2s"}, plans(recipe="w2s", config=config, hypotheses=hypotheses)]
    outcome, run = await _plan(workspace, question, replies)
    [plan] = outcome.plans
    sizes = (plan.config["n_weak_train"], plan.config["n_strong_train"], plan.config["n_test"])
    assert sizes == (199, 199, 199), "the 1,000-per-split defaults lowered in proportion to TruthfulQA's 598 rows"
    note = (
        "n_weak_train / n_strong_train / n_test lowered on the host from 1000 / 1000 / 1000 to 199 / 199 / 199: "
        "dataset 'truthful_qa' has 598 examples, fewer than the 3000 asked for."
    )
    assert outcome.plan_notes == ((note,),)
    [adjusted] = events_of(read_events(run.path / "events.jsonl"), PlanAdjusted)
    assert adjusted.change == note
    methods = methods_markdown(
        ExperimentRecord(tool="w2s", notes=[note]), plan.config, ResultsDocument(config=plan.config)
    )
    assert f"**Adjustments.**\n\n- {note}\n" in f"{methods}\n"
    two = methods_markdown(
        ExperimentRecord(tool="w2s", notes=[note, "experiment 'b' dropped"]), plan.config, ResultsDocument()
    )
    assert f"**Adjustments.**\n\n- {note}\n- experiment 'b' dropped\n" in f"{two}\n", "one line each"

    fits = dict(config, n_weak_train=100, n_strong_train=100, n_test=100)
    replies = [brief(), {"tool": "w2s", "reason": "w2s"}, plans(recipe="w2s", config=fits, hypotheses=hypotheses)]
    outcome, _ = await _plan(workspace, question, replies)
    assert outcome.plans[0].config["n_test"] == 100
    assert outcome.plan_notes == ((),), "a config that fits is left alone"


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("Check that the experiment runs end to end.", True),
        ("Test the w2s pipeline end to end", True),
        ("Run an end-to-end check of the weak-to-strong pipeline.", True),
        ("Does the pipeline work end-to-end?", True),
        ("If we fine-tune the student end to end on weak labels, is PGR higher?", False),
    ],
)
def test_end_to_end_asks_for_a_smoke_test_only_as_a_check(question: str, asks: bool) -> None:
    """'fine-tune a 7B model end to end' took the smoke-test card without a model call."""
    assert bool(SMOKE.search(question)) is asks


@pytest.mark.parametrize(
    ("question", "tool"),
    [
        (
            "w2s on strategyqa: bow weak supervisor, smollm2 features for the student. whats the PGR over 3 seeds?",
            "w2s",
        ),
        ("ccs on strategyqa pls", "probes"),
        ("steer smollm, coef 4", "steering"),
        ("HHH mc, logprobs", "mc_eval"),
        ("hhh alignment acc vs chance?", "mc_eval"),
    ],
)
def test_a_terse_question_naming_a_tool_is_offered_it(ranker: ToolRanker, question: str, tool: str) -> None:
    """Below the similarity threshold, a card the question names by its own words is still offered."""
    shortlist = ranker.rank(question)
    assert tool in shortlist.offered, shortlist
    assert "named by the question: " in shortlist.reason
    without = ToolRanker(ranker.cards, rule=ShortlistRule(words=False)).rank(question)
    assert tool not in without.offered, "similarity alone does not offer it: the test needs a terse question"


def test_a_literature_question_is_nearer_an_untestable_example_than_any_tool(ranker: ToolRanker) -> None:
    shortlist = ranker.rank("What does the literature say about deceptive alignment and mesa-optimisers?")
    assert shortlist.offered == []
    assert shortlist.reason.startswith("closer to an untestable question"), shortlist.reason


@pytest.mark.parametrize(
    ("question", "absent"),
    [
        ("What is CCS?", "probes"),
        ("Find me papers about the HHH eval.", "mc_eval"),
        ("w2s on truthful_qa MC, smollm2 strong features", "mc_eval"),
        ("Does pushing activations along the probe's truth direction make the model answer more truthfully?", "probes"),
    ],
)
def test_a_name_alone_does_not_offer_a_card_past_its_limits(ranker: ToolRanker, question: str, absent: str) -> None:
    """``named_by`` lifts only the minimum similarity: not for a definition or the literature, not for a card that
    words rule out (mc_eval for weak-to-strong training), not past the margin of the best card."""
    assert absent not in ranker.rank(question).offered
