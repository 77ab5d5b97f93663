"""The model-calling eval recipes: ``mc_eval``, ``oversight`` and ``cot``, with their cards and host steps.

Each cell calls the run's subject model through the host's model proxy (``assistant.subject``; the model is chosen
by settings, never by the plan) and submits the model's answers; the answers stay on the host, which exports the
items without them before the cell (``tools.evals.heldout.export_eval_task``) and scores the submission after it
(``tools.evals.hostscore.score_eval_task``). Every metric has an item-level bootstrap interval (``over: "items"``,
values in item order), so two metrics of one run pair by item. Covers the cards and ``register_eval_recipes``;
does not run anything (``assistant.graph`` calls the host steps).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from assistant.cards import (
    ASKS_ACTIVATIONS,
    ASKS_JUDGE_HELP,
    ASKS_REASONING,
    ASKS_STEERING,
    ASKS_W2S,
    ComparisonSpec,
    Knob,
    MetricSpec,
    ToolCard,
    cue,
    headline,
)
from assistant.recipes import HostSteps, Recipe, RecipeRegistry, _lazy_class

_SUBJECT = "the subject model (chosen in [subject] settings; the embedded local model by default)"

MC_EVAL = ToolCard(
    name="mc_eval",
    family=(
        "A language model's own multiple-choice accuracy on honesty and truthfulness benchmarks (TruthfulQA MC, "
        "HHH alignment, misconceptions, FEVER, PolitiFact, StrategyQA) compared with a chance baseline."
    ),
    answers=[
        "What is the model's accuracy on TruthfulQA multiple choice, and is it above chance?",
        "Does the model pick the truthful answer more often than a random guess on TruthfulQA?",
        "How often does the model choose the helpful, honest and harmless reply in the HHH eval?",
        "Does the model believe common misconceptions: its accuracy on the misconceptions task vs chance?",
        "Which answer does the model choose on fact-checking claims (FEVER, PolitiFact), compared with chance?",
    ],
    cannot_answer=[
        "whether critiques, a debate or other help improve a judge (here the model answers alone)",
        "activations, probes or steering",
        "chain-of-thought faithfulness",
        "training a model",
    ],
    ruled_out=[ASKS_JUDGE_HELP, ASKS_ACTIVATIONS, ASKS_STEERING, ASKS_REASONING, ASKS_W2S],
    named_by=[
        cue(
            "a benchmark scored against chance",
            r"\bHHH\b",
            r"\bmultiple[- ]choice\b",
            r"\bMC\b",
            r"\b(?:evals?|benchmarks?)\b",
            r"\b(?:above|vs\.?|versus|than|beats?|beating) (?:chance|random(?: guess\w*)?)\b",
        )
    ],
    conditions=["multiple choice", "chance baseline", "random guess", "letter log-probabilities", "accuracy"],
    shared_terms=["chance baseline", "random guess", "accuracy"],
    knobs=[
        Knob(name="task", meaning="truthful_qa, hhh_alignment, misconceptions, fever, politifact or strategyqa"),
        Knob(name="limit", meaning="items per category"),
        Knob(name="scoring", meaning="logprobs (answer-letter likelihood) or generate (parse the generated letter)"),
        Knob(name="seed", meaning="option shuffle and the chance baseline's guesses"),
    ],
    metrics=[
        MetricSpec(name="accuracy", meaning=f"{_SUBJECT}'s accuracy on the items", over="items"),
        MetricSpec(name="random_baseline", meaning="a seeded uniform random guess per item, same items", over="items"),
        MetricSpec(name="expected_random", meaning="expected accuracy of guessing (mean of 1/options)"),
    ],
    comparisons=[
        ComparisonSpec(
            name="accuracy_vs_chance",
            metric="accuracy",
            baseline="random_baseline",
            meaning="the model beats a random guess on the same items",
        )
    ],
    method=(
        "BIG-bench multiple-choice items are shown with their options shuffled per item (seeded); the subject model "
        "answers through the host's model proxy, scored by the log-probability of each option letter as the first "
        "answer token (generation and parsing where the backend gives no log-probabilities). The host keeps the "
        "answers, scores the submitted choices and a seeded random guess per item in the same run."
    ),
    seeds_field=None,
    main_hypothesis=headline(
        "The model answers more items correctly than a random guess on the same items.", "accuracy_vs_chance"
    ),
)

OVERSIGHT = ToolCard(
    name="oversight",
    family=(
        "Scalable oversight: does a judge answer multiple-choice questions better alone, with a critic's critiques "
        "of each option, or after a one-round debate between two arguments, paired on the same items?"
    ),
    answers=[
        "Does reading critiques of each answer help a judge pick the correct one?",
        "Does a debate between two arguments help a weak judge find the truthful answer?",
        "Is critique-assisted judging more accurate than judging alone on the same questions?",
        "Do debaters arguing for a wrong option mislead the judge compared with judging without help?",
    ],
    cannot_answer=[
        "a judge and critic of different sizes (one subject model plays both)",
        "a debate of more than one round (its debate is one round)",
        "activations, probes or steering",
    ],
    ruled_out=[
        cue(
            "a judge and critic of different sizes",
            r"\b(?:smaller|larger|bigger|weaker|stronger) than (?:its|the) (?:critic|debaters?|judge)s?\b",
            r"\bdifferent sizes?\b",
            # the critic's or debaters' size, not the judge's: one model of any size playing every role is what the
            # tool runs ("a weak judge", "a 1.5B judge")
            r"\b(?:bigger|larger|smaller|stronger) (?:critics?|debaters?)\b",
            r"\b\d+(?:\.\d+)?[MB] (?:critics?|debaters?)\b",
        ),
        cue(
            "a debate of several rounds",
            r"\bmulti[- ]round\b",
            r"\b(?:several|many|multiple|more) rounds\b",
            r"\b(?:second|third|another|additional|extra|further|repeated|successive) rounds?\b",
            r"\biterated debates?\b",
            # a number of rounds above one ("three-round debate", "5 rounds"); "one-round" is what the tool runs
            r"\b(?:two|three|four|five|six|ten|[2-9]|\d{2,})[- ]rounds?\b",
            r"\b(?:how many|number of) (?:debate )?rounds\b",
        ),
        ASKS_ACTIVATIONS,
        ASKS_STEERING,
    ],
    named_by=[ASKS_JUDGE_HELP],
    conditions=["judge alone", "alone", "critique", "critic", "debate", "debater", "judge"],
    shared_terms=["alone", "critique", "critic", "judge"],
    knobs=[
        Knob(name="task", meaning="BIG-bench task the judge answers (truthful_qa, misconceptions, ...)"),
        Knob(name="conditions", meaning="alone, critique and/or debate"),
        Knob(name="limit", meaning="items per category"),
    ],
    metrics=[
        MetricSpec(
            name="judge_accuracy.alone",
            meaning="judge accuracy without help",
            over="items",
            only_when=("conditions", "alone"),
        ),
        MetricSpec(
            name="judge_accuracy.critique",
            meaning="judge accuracy with critiques",
            over="items",
            only_when=("conditions", "critique"),
        ),
        MetricSpec(
            name="judge_accuracy.debate",
            meaning="judge accuracy after a debate",
            over="items",
            only_when=("conditions", "debate"),
        ),
    ],
    comparisons=[
        ComparisonSpec(
            name="critique_vs_alone",
            metric="judge_accuracy.critique",
            baseline="judge_accuracy.alone",
            meaning="critiques improve the judge on the same items",
        ),
        ComparisonSpec(
            name="debate_vs_alone",
            metric="judge_accuracy.debate",
            baseline="judge_accuracy.alone",
            meaning="a debate improves the judge on the same items",
        ),
    ],
    method=(
        f"The judge and the critic are {_SUBJECT}. Alone, the judge sees the question and shuffled options; with "
        "critiques, the critic first critiques every option without knowing the answer; in a debate, the critic "
        "argues for the correct option and for one seeded wrong option in a seeded order. The host keeps the answers "
        "and scores the judge's choices, paired by item across conditions."
    ),
    seeds_field=None,
    main_hypothesis=headline(
        "Reading critiques makes the judge more accurate than judging alone.", "critique_vs_alone"
    ),
    fallback_hypotheses=[
        headline("A debate makes the judge more accurate than judging alone.", "debate_vs_alone"),
    ],
)

COT = ToolCard(
    name="cot",
    family=(
        "Chain-of-thought faithfulness (Lanham et al. 2023): does the model's answer depend on its stated reasoning, "
        "measured by early answering (truncated reasoning) and by inserting a mistake into one step?"
    ),
    answers=[
        "Does the model give the same answer when its chain of thought is cut short (early answering)?",
        "Is the model's stated reasoning what drives its answer, or is it post-hoc?",
        "Does inserting a mistake into the reasoning change the model's final answer?",
        "Does thinking step by step improve accuracy over answering directly?",
    ],
    cannot_answer=["paraphrasing or filler-token tests", "activations, probes or steering", "help for a judge"],
    ruled_out=[
        cue(
            "paraphrased or filler reasoning",
            r"\bparaphras\w*",
            r"\bfiller\b",
            r"\breplac\w* (?:the |its )?(?:reasoning|chain[- ]of[- ]thought|CoT)\b",
        ),
        ASKS_ACTIVATIONS,
        ASKS_STEERING,
        ASKS_JUDGE_HELP,
    ],
    named_by=[ASKS_REASONING],
    conditions=["early answering", "truncated reasoning", "mistake insertion", "full CoT", "no CoT"],
    knobs=[
        Knob(name="task", meaning="BIG-bench task"),
        Knob(name="fractions", meaning="fractions of the reasoning steps kept for early answering"),
        Knob(name="mistake_insertion", meaning="also corrupt one seeded step and let the model continue"),
        Knob(name="limit", meaning="items per category"),
    ],
    metrics=[
        MetricSpec(
            name="early_answering.aoc",
            meaning="area over the early-answering curve: how often truncation changes the answer (higher = more "
            "faithful)",
            over="items",
        ),
        MetricSpec(name="mistake_insertion.changed", meaning="answers changed by an inserted mistake", over="items"),
        MetricSpec(name="accuracy.full_cot", meaning="accuracy after the full chain of thought", over="items"),
        MetricSpec(name="accuracy.no_cot", meaning="accuracy answering with no reasoning", over="items"),
        MetricSpec(
            name="early_answering.same_as_full.k0",
            meaning="same answer with no reasoning as with all of it",
            better="neither",
            over="items",
        ),
    ],
    comparisons=[
        ComparisonSpec(
            name="cot_vs_no_cot",
            metric="accuracy.full_cot",
            baseline="accuracy.no_cot",
            meaning="reasoning step by step improves accuracy on the same items",
        )
    ],
    method=(
        f"{_SUBJECT[0].upper() + _SUBJECT[1:]} reasons step by step on shuffled multiple-choice items; its reasoning "
        "is split into steps and it answers again with only the first k% of them (early answering) and after one "
        "seeded step was rewritten to contain a mistake and the reasoning continued (mistake insertion). The host "
        "keeps the answers; change rates need none."
    ),
    seeds_field=None,
    main_hypothesis=headline(
        "Cutting the reasoning short changes some final answers: the answer depends on the stated reasoning.",
        "early_answering.aoc",
    ),
)

EVAL_CARDS: dict[str, ToolCard] = {c.name: c for c in (MC_EVAL, OVERSIGHT, COT)}
"""Cards of the eval recipes, by name."""

_CELL = """\
# ara recipe: {name} (rendered from a typed config; do not edit by hand)
# Held-out protocol: before this cell the host wrote eval_task.json (items with shuffled options, no answers);
# this cell asks the run's subject model through the host's model proxy and submits its answers; after it the
# host scores them against the answers it kept and writes results.json. Config: {config_json}
from tools.evals.heldout import run_eval_task
print(run_eval_task({out_dir}))
"""


def _render(name: str) -> Callable[[BaseModel, Path], str]:
    def render(config: BaseModel, out_dir: Path) -> str:
        return _CELL.format(name=name, config_json=config.model_dump_json(), out_dir=repr(str(out_dir)))

    return render


def _prepare(config: BaseModel, kernel_dir: Path, cache_dir: Path | None) -> None:
    from tools.evals.heldout import export_eval_task

    export_eval_task(config, kernel_dir)  # type: ignore[arg-type]


def _score(config: BaseModel, kernel_dir: Path, out_dir: Path, cache_dir: Path | None) -> None:
    from tools.evals.hostscore import score_eval_task

    score_eval_task(config, kernel_dir, out_dir)  # type: ignore[arg-type]


_CONFIGS = {"mc_eval": "MCTaskConfig", "oversight": "OversightTaskConfig", "cot": "CoTTaskConfig"}
_SUMMARIES = {
    "mc_eval": "The subject model's multiple-choice accuracy on a BIG-bench task vs a chance baseline, host-scored.",
    "oversight": "A judge alone / with critiques / after a debate on the same items (the subject model plays both).",
    "cot": "Chain-of-thought faithfulness of the subject model: early answering and mistake insertion.",
}


def register_eval_recipes(registry: RecipeRegistry) -> None:
    """Register ``mc_eval``, ``oversight`` and ``cot`` (available when ``tools.evals`` imports)."""
    for name, card in EVAL_CARDS.items():
        registry.register(
            Recipe(
                name=name,
                summary=_SUMMARIES[name],
                load_config=_lazy_class("tools.evals.heldout", _CONFIGS[name]),
                render=_render(name),
                requires=("tools.evals.heldout",),
                host=HostSteps(prepare=_prepare, score=_score),
                card=card,
            )
        )
