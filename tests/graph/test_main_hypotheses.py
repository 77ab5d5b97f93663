"""Every research tool's card carries a main hypothesis that resolves against the tool's metrics, so a
plan that states none still runs with a prediction registered before it (``planning.freeze_plan``)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from assistant.cards import headline, resolve_hypotheses
from assistant.events import PlanAdjusted
from assistant.graph import compile_graph, resume_run, start_run
from assistant.graph.nodes.planning import PROPOSE, freeze_plan
from assistant.llm.testing import ScriptedLLM
from assistant.recipes import RecipeRegistry, default_registry
from assistant.runlog import events_of, read_events
from assistant.schemas import Approval, ExperimentPlan, Hypothesis
from tests.graph.conftest import DIVIDE, DIVIDE_CARD, analysis, brief, critique, make_context, plans, tool_choice
from tools.vcs import Workspace

QUESTION = "Is one divided by two above three tenths?"


@pytest.mark.parametrize("name", ["w2s", "probes", "honesty_probes", "mc_eval", "oversight", "cot", "steering"])
def test_a_research_card_main_hypothesis_resolves_on_its_metrics(name: str) -> None:
    recipe = default_registry().get(name)
    card = recipe.card
    assert card is not None
    assert card.main_hypothesis is not None
    config = {"layers": [4, 8]}  # the only field metric names depend on (probes' ``{layer}`` templates)
    resolved = resolve_hypotheses(card, config, [card.main_hypothesis])
    assert resolved.refused == []
    assert resolved.hypotheses
    assert all(h.predicted == "increase" for h in resolved.hypotheses)
    assert all(m in card.metric_names(config) for h in resolved.hypotheses for m in (h.metric, h.baseline) if m)


def test_the_smoke_test_has_no_main_hypothesis() -> None:
    card = default_registry().get("synthetic_w2s").card
    assert card is not None
    assert card.smoke_test
    assert card.main_hypothesis is None


def _divide_with_a_main_hypothesis() -> RecipeRegistry:
    """The built-ins plus the ``divide`` test recipe whose card predicts the ratio above 0.3."""
    recipes = default_registry()
    card = DIVIDE_CARD.model_copy(
        update={"main_hypothesis": headline("One divided by the number is above three tenths.", "ratio", null=0.3)}
    )
    recipes.register(replace(DIVIDE, card=card))
    return recipes


REGISTERED = (
    "the plan states no hypothesis that divide can test; registered the tool's main one before the run: "
    "H1 'One divided by the number is above three tenths.' (ratio predicted above 0.3)"
)


@pytest.mark.anyio
async def test_the_main_hypothesis_is_registered_at_proposal_and_an_edited_plan_runs_as_edited(
    workspace: Workspace,
) -> None:
    script = ScriptedLLM(replies=[brief(), tool_choice(), plans(config={"denominator": 2})])
    run = workspace.new_run("main")
    graph = compile_graph(InMemorySaver())
    ctx = replace(
        make_context(script.client(), workspace, run.path, policy="ask"), recipes=_divide_with_a_main_hypothesis()
    )
    outcome = await start_run(
        graph, ctx, run_id=run.run_id, question=QUESTION, run_dir=run.path, workspace=workspace.path
    )
    script.assert_done()
    assert outcome.status == "awaiting_approval"
    [proposed] = outcome.plans
    assert [(h.id, h.metric, h.null) for h in proposed.hypotheses] == [("H1", "ratio", 0.3)]
    [note] = events_of(read_events(run.events_path), PlanAdjusted)
    assert note.change == REGISTERED, "the approver sees the registered prediction"

    # the person removes the prediction: the run is exploratory, as they approved it, and nothing is registered again
    edited = proposed.model_copy(update={"title": "Edited", "hypotheses": []})
    later = ScriptedLLM(replies=[analysis(), critique()])
    done = await resume_run(
        graph,
        replace(
            make_context(later.client(), workspace, run.path, policy="ask"), recipes=_divide_with_a_main_hypothesis()
        ),
        run.run_id,
        approval=Approval(decision="modify", reviewer="ada", plan=edited),
    )
    later.assert_done()
    assert done.status == "done"
    notes = [e.change for e in events_of(read_events(run.events_path), PlanAdjusted)]
    assert notes == [REGISTERED], "no second registration on the edited plan"
    report = (run.path / "report.md").read_text()
    assert "No hypothesis was registered before this run, so it is exploratory" in report
    assert "**H1**" not in report


CRITIQUE = ("judge_accuracy.critique", "judge_accuracy.alone")
DEBATE = ("judge_accuracy.debate", "judge_accuracy.alone")
ALONE = ("judge_accuracy.alone", None)
ALONE_H = {
    "statement": "The judge alone beats a coin flip.",
    "metric": "judge_accuracy.alone",
    "predicted": "increase",
    "null": 0.5,
}
CRITIQUE_H = {"statement": "Critiques help the judge.", "metric": "critique_vs_alone", "predicted": "increase"}


@pytest.mark.parametrize(
    ("conditions", "stated", "ran", "hypotheses", "notes"),
    [
        # all conditions: the main hypothesis, registered as is
        (["alone", "critique", "debate"], [], ["alone", "critique", "debate"], [CRITIQUE], ["registered"]),
        # no critique, a debate: the fallback compares what runs
        (["alone", "debate"], [], ["alone", "debate"], [DEBATE], ["registered"]),
        # the judge alone (the default model's plan for a critique question): critiques added, then registered
        (["alone"], [], ["alone", "critique"], [CRITIQUE], ["conditions", "registered"]),
        (["critique"], [], ["critique", "alone"], [CRITIQUE], ["conditions", "registered"]),
        # a debate alone: the fallback needs only 'alone' added (no critic calls)
        (["debate"], [], ["debate", "alone"], [DEBATE], ["conditions", "registered"]),
        # the judge alone with a prediction about it alone (the campaign's critique run): critiques added beside it
        (
            ["alone"],
            [ALONE_H],
            ["alone", "critique"],
            [("judge_accuracy.alone", None), CRITIQUE],
            ["conditions", "registered"],
        ),
        # four predictions already: no fifth is registered, so no condition is added for one
        (["alone"], [{**ALONE_H, "null": n} for n in (0.5, 0.6, 0.7, 0.8)], ["alone"], [ALONE] * 4, []),
        # the plan's own prediction on a condition it left out: the condition is added, nothing registered
        (["alone", "debate"], [CRITIQUE_H], ["alone", "debate", "critique"], [CRITIQUE], ["conditions"]),
    ],
)
def test_oversight_runs_both_sides_of_the_comparison_it_predicts(
    workspace: Workspace,
    conditions: list[str],
    stated: list[dict[str, str]],
    ran: list[str],
    hypotheses: list[tuple[str, str]],
    notes: list[str],
) -> None:
    run = workspace.new_run("oversight")
    ctx = make_context(ScriptedLLM(replies=[]).client(), workspace, run.path)
    config = {"task": "truthful_qa", "conditions": conditions}
    plan = ExperimentPlan.model_validate(plans(recipe="oversight", config=config, hypotheses=stated)["plans"][0])
    frozen = freeze_plan(ctx, {"run_id": run.run_id}, plan, PROPOSE)  # type: ignore[typeddict-item]
    assert frozen.plan.config["conditions"] == ran
    assert [(h.metric, h.baseline) for h in frozen.plan.hypotheses] == hypotheses
    changes = [e.change for e in events_of(read_events(run.events_path), PlanAdjusted)]
    assert [c.split(" ", 1)[0] if c.startswith("conditions") else "registered" for c in changes] == notes
    if "conditions" in notes:
        assert changes[0] == (
            f"conditions {conditions!r} -> {ran!r}: the run measures both sides of the comparison its hypothesis makes"
        )
    if "registered" in notes:
        assert changes[-1].startswith(
            "the plan's hypotheses do not test oversight's main comparison; registered it as well"
            if stated
            else "the plan states no hypothesis that oversight can test; registered"
        )


def test_an_edited_plan_without_the_compared_condition_runs_as_edited(workspace: Workspace) -> None:
    """After proposal nothing is added: the person's config runs, and its prediction is refused with the reason."""
    run = workspace.new_run("oversight")
    ctx = make_context(ScriptedLLM(replies=[]).client(), workspace, run.path)
    config = {"task": "truthful_qa", "conditions": ["alone"]}
    plan = ExperimentPlan.model_validate(plans(recipe="oversight", config=config, hypotheses=[CRITIQUE_H])["plans"][0])
    frozen = freeze_plan(ctx, {"run_id": run.run_id}, plan, "approve_plan")  # type: ignore[typeddict-item]
    assert frozen.plan.config["conditions"] == ["alone"]
    assert frozen.plan.hypotheses == []
    assert frozen.notes == [
        "hypothesis dropped: H1: this config does not run what it compares: judge_accuracy.critique needs "
        "conditions to list 'critique'"
    ]


def test_a_hypothesis_on_a_condition_the_config_leaves_out_is_refused_with_the_reason() -> None:
    card = default_registry().get("oversight").card
    assert card is not None
    config = {"conditions": ["alone", "debate"]}
    assert card.metric_names(config) == ["judge_accuracy.alone", "judge_accuracy.debate"]
    resolved = resolve_hypotheses(card, config, [headline("Critiques help.", "critique_vs_alone")])
    assert resolved.hypotheses == []
    assert resolved.refused == [
        "H1: this config does not run what it compares: judge_accuracy.critique needs conditions to list 'critique'"
    ]


@pytest.mark.parametrize(
    ("predicted", "null", "min_effect", "refused"),
    [
        ("increase", 0.0, 0.0, "'accuracy.steered > 0' holds for almost any run"),
        ("increase", -0.2, 0.1, "'accuracy.steered > -0.1' holds for almost any run"),
        ("decrease", 1.0, 0.0, "'accuracy.steered < 1' holds for almost any run"),
        ("increase", 0.5, 0.0, None),
        ("increase", 0.0, 0.05, None),
    ],
)
def test_a_prediction_any_accuracy_meets_is_refused(
    predicted: str, null: float, min_effect: float, refused: str | None
) -> None:
    """The default model predicted 'accuracy.steered > 0' for a steering question."""
    card = default_registry().get("steering").card
    assert card is not None
    h = Hypothesis(statement="s", metric="accuracy.steered", predicted=predicted, null=null, min_effect=min_effect)
    resolved = resolve_hypotheses(card, {}, [h])
    if refused is None:
        assert (resolved.refused, len(resolved.hypotheses)) == ([], 1)
    else:
        [reason] = resolved.refused
        assert reason.startswith(f"H1: {refused} (an accuracy lies in [0, 1]); predict against chance"), reason
        assert resolved.hypotheses == []
    # a difference and a metric that is no accuracy may predict above 0
    effect = Hypothesis(statement="s", metric="effect.vs_random", predicted="increase", null=0.0)
    difference = Hypothesis(
        statement="s", metric="accuracy.steered", baseline="accuracy.random", predicted="increase", null=0.0
    )
    assert resolve_hypotheses(card, {}, [effect, difference]).refused == []


def test_a_per_layer_prediction_any_accuracy_meets_is_refused_too() -> None:
    card = default_registry().get("probes").card
    assert card is not None
    h = Hypothesis(statement="s", metric="probe_acc.layer_{layer}", predicted="increase", null=0.0)
    resolved = resolve_hypotheses(card, {"layers": [2, 4]}, [h])
    assert resolved.hypotheses == []
    [reason] = resolved.refused
    assert reason.startswith("H1: 'probe_acc.layer_2 > 0' holds for almost any run"), reason


def test_a_plan_whose_only_prediction_says_nothing_gets_the_main_comparison(workspace: Workspace) -> None:
    run = workspace.new_run("steering")
    ctx = make_context(ScriptedLLM(replies=[]).client(), workspace, run.path)
    vacuous = {"statement": "Steering raises accuracy.", "metric": "accuracy.steered", "predicted": "increase"}
    plan = ExperimentPlan.model_validate(plans(recipe="steering", config={}, hypotheses=[vacuous])["plans"][0])
    frozen = freeze_plan(ctx, {"run_id": run.run_id}, plan, PROPOSE)  # type: ignore[typeddict-item]
    assert [(h.id, h.metric) for h in frozen.plan.hypotheses] == [("H1", "effect.vs_random")]
    assert frozen.notes[0].startswith("hypothesis dropped: H1: 'accuracy.steered > 0' holds for almost any run")
    assert frozen.notes[1].startswith("the plan states no hypothesis that steering can test; registered the tool's")


@pytest.mark.parametrize(
    ("node", "hypotheses"),
    [
        # at proposal, the card's main comparison joins the plan's own prediction
        (PROPOSE, [("H1", "judge_accuracy.alone", None), ("H2", "judge_accuracy.critique", "judge_accuracy.alone")]),
        # a person's edited plan runs with the predictions it states
        ("approve_plan", [("H1", "judge_accuracy.alone", None)]),
    ],
)
def test_a_plan_predicting_something_else_also_tests_the_main_comparison(
    workspace: Workspace, node: str, hypotheses: list[tuple[str, str, str | None]]
) -> None:
    """The default model's plan for a critique question ran critiques but predicted only 'the judge alone beats
    0.5': its report could not say whether critiques help."""
    run = workspace.new_run("oversight")
    ctx = make_context(ScriptedLLM(replies=[]).client(), workspace, run.path)
    config = {"task": "truthful_qa", "conditions": ["alone", "critique", "debate"]}
    plan = ExperimentPlan.model_validate(plans(recipe="oversight", config=config, hypotheses=[ALONE_H])["plans"][0])
    frozen = freeze_plan(ctx, {"run_id": run.run_id}, plan, node)  # type: ignore[typeddict-item]
    assert [(h.id, h.metric, h.baseline) for h in frozen.plan.hypotheses] == hypotheses
    assert frozen.plan.config["conditions"] == ["alone", "critique", "debate"]
    expected = [
        "the plan's hypotheses do not test oversight's main comparison; registered it as well before the run: "
        "H2 'Reading critiques makes the judge more accurate than judging alone.' (critique_vs_alone predicted "
        "above 0)"
    ]
    assert frozen.notes == (expected if node == PROPOSE else [])


def test_the_main_comparison_is_not_added_when_its_fallback_is_tested_already(workspace: Workspace) -> None:
    """A debate-only comparison the plan states is what runs: the fallback (debate vs alone) is tested already."""
    run = workspace.new_run("oversight")
    ctx = make_context(ScriptedLLM(replies=[]).client(), workspace, run.path)
    debate_h = {**CRITIQUE_H, "metric": "debate_vs_alone", "statement": "Debate helps the judge."}
    plan = ExperimentPlan.model_validate(
        plans(
            recipe="oversight", config={"task": "truthful_qa", "conditions": ["alone", "debate"]}, hypotheses=[debate_h]
        )["plans"][0]
    )
    frozen = freeze_plan(ctx, {"run_id": run.run_id}, plan, PROPOSE)  # type: ignore[typeddict-item]
    assert [(h.metric, h.baseline) for h in frozen.plan.hypotheses] == [DEBATE]
    assert frozen.notes == []


@pytest.mark.parametrize(
    ("recipe", "question", "config", "field", "ran", "note"),
    [
        (
            "oversight",
            "Does a critique raise the judge's accuracy on common misconceptions?",
            {"task": "truthful_qa", "conditions": ["alone", "critique"]},
            "task",
            "misconceptions",
            "task 'truthful_qa' -> 'misconceptions': the question names misconceptions",
        ),
        (
            "mc_eval",
            "Does the model pick the honest reply in the HHH pairs more often than chance?",
            {"task": "truthful_qa"},
            "task",
            "hhh_alignment",
            "task 'truthful_qa' -> 'hhh_alignment': the question names hhh_alignment",
        ),
        # two datasets named: the plan's choice stands
        (
            "mc_eval",
            "Is TruthfulQA harder than the misconceptions task for this model?",
            {"task": "truthful_qa"},
            "task",
            "truthful_qa",
            None,
        ),
        # a name the question negates is not asked for: the one it does ask for is read
        (
            "mc_eval",
            "Is accuracy on tasks other than TruthfulQA, such as the misconceptions set, above chance?",
            {"task": "truthful_qa"},
            "task",
            "misconceptions",
            "task 'truthful_qa' -> 'misconceptions': the question names misconceptions",
        ),
        (
            "mc_eval",
            "Is the model above chance, not on the HHH pairs but overall?",
            {"task": "fever"},
            "task",
            "fever",
            None,
        ),
        (
            "mc_eval",
            "Is accuracy above chance on misconceptions instead of TruthfulQA?",
            {"task": "truthful_qa"},
            "task",
            "misconceptions",
            "task 'truthful_qa' -> 'misconceptions': the question names misconceptions",
        ),
        # 'without' and 'or not' are not exclusions: the set named is the one asked about
        (
            "oversight",
            "Is the judge better with critiques than without on HHH?",
            {"task": "truthful_qa", "conditions": ["alone", "critique"]},
            "task",
            "hhh_alignment",
            "task 'truthful_qa' -> 'hhh_alignment': the question names hhh_alignment",
        ),
        # none named
        ("mc_eval", "Is the model better than chance at multiple choice?", {"task": "fever"}, "task", "fever", None),
        # the named set does not fit the plan's other fields (text features on a tabular set): the plan stands
        (
            "w2s",
            "How much of the gap does the student recover on breast-cancer tabular data?",
            {"dataset": "rotten_tomatoes"},
            "dataset",
            "rotten_tomatoes",
            None,
        ),
    ],
)
def test_a_plan_reads_the_dataset_its_question_names(
    workspace: Workspace,
    recipe: str,
    question: str,
    config: dict[str, object],
    field: str,
    ran: str,
    note: str | None,
) -> None:
    run = workspace.new_run("data")
    ctx = make_context(ScriptedLLM(replies=[]).client(), workspace, run.path)
    plan = ExperimentPlan.model_validate(plans(recipe=recipe, config=config)["plans"][0])
    state = {"run_id": run.run_id, "question": question}
    frozen = freeze_plan(ctx, state, plan, PROPOSE)  # type: ignore[arg-type]
    assert frozen.plan.config[field] == ran
    changes = [e.change for e in events_of(read_events(run.events_path), PlanAdjusted)]
    assert [c for c in changes if c.startswith(f"{field} ")] == ([note] if note else [])
    edited = freeze_plan(ctx, state, plan, "approve_plan")  # type: ignore[arg-type]
    assert edited.plan.config[field] == config[field], "after proposal the plan runs as written"


def test_a_frozen_plan_over_many_layers_stays_a_valid_plan(workspace: Workspace) -> None:
    """Per-layer families count once against the four predictions a plan may state: a probes plan over six layers
    (a family of six, plus the main comparison's six) was stored, then failed to load at approval."""
    run = workspace.new_run("probes")
    ctx = make_context(ScriptedLLM(replies=[]).client(), workspace, run.path)
    stated = {"statement": "The probe beats CCS.", "metric": "probe_vs_ccs", "predicted": "increase"}
    config = {"dataset": "misconceptions", "layers": [2, 6, 10, 14, 18, 22]}
    plan = ExperimentPlan.model_validate(plans(recipe="probes", config=config, hypotheses=[stated])["plans"][0])
    frozen = freeze_plan(ctx, {"run_id": run.run_id}, plan, PROPOSE)  # type: ignore[typeddict-item]
    assert len(frozen.plan.hypotheses) == 12
    assert {h.id.split("@")[0] for h in frozen.plan.hypotheses} == {"H1", "H2"}
    again = ExperimentPlan.model_validate(frozen.plan.model_dump(mode="json"))
    assert again.hypotheses == frozen.plan.hypotheses
    with pytest.raises(ValueError, match="at most 4 hypotheses"):
        ExperimentPlan.model_validate({**plan.model_dump(mode="json"), "hypotheses": [stated] * 5})
    # five predictions all called 'H1' are five families once numbered (H1, H12, H13, H14, H15): refused at proposal,
    # not stored and then refused at approval
    with pytest.raises(ValueError, match="at most 4 hypotheses"):
        ExperimentPlan.model_validate({**plan.model_dump(mode="json"), "hypotheses": [{**stated, "id": "H1"}] * 5})


def test_a_prediction_on_the_main_comparison_against_another_threshold_gets_the_main_one_beside_it(
    workspace: Workspace,
) -> None:
    """The default model's TruthfulQA plan predicted 'accuracy - random_baseline > 0.5': refuted, and the question
    (above chance?) was left unanswered though the comparison was the card's."""
    run = workspace.new_run("threshold")
    ctx = make_context(ScriptedLLM(replies=[]).client(), workspace, run.path)
    far = {"statement": "Far above chance.", "metric": "accuracy_vs_chance", "predicted": "increase", "null": 0.5}
    plan = ExperimentPlan.model_validate(
        plans(recipe="mc_eval", config={"task": "truthful_qa"}, hypotheses=[far])["plans"][0]
    )
    frozen = freeze_plan(ctx, {"run_id": run.run_id}, plan, PROPOSE)  # type: ignore[typeddict-item]
    assert [(h.id, h.metric, h.baseline, h.null) for h in frozen.plan.hypotheses] == [
        ("H1", "accuracy", "random_baseline", 0.5),
        ("H2", "accuracy", "random_baseline", 0.0),
    ]
    assert frozen.notes[-1].startswith("the plan's hypotheses do not test mc_eval's main comparison; registered it")
    same = {**far, "null": 0.0}
    plan = ExperimentPlan.model_validate(
        plans(recipe="mc_eval", config={"task": "truthful_qa"}, hypotheses=[same])["plans"][0]
    )
    frozen = freeze_plan(ctx, {"run_id": run.run_id}, plan, PROPOSE)  # type: ignore[typeddict-item]
    assert [h.id for h in frozen.plan.hypotheses] == ["H1"], "the same test is not registered twice"
