"""Tool cards: what each recipe can answer, the knobs it has, the metrics it writes and the comparisons it supports.

Covers ``ToolCard`` and its parts (``MetricSpec``, ``ComparisonSpec``, ``Knob``) and the cards of the built-in
recipes. The planner shows cards to the model and ranks them against the question (``assistant.toolchoice``);
hypotheses must name a metric or comparison of the chosen card (``metric_names``); the report renders methods
from the card and the executed config; the claim checker knows which conditions a run had (``conditions``).
A card describes a tool; it runs nothing. Does not cover the recipes themselves (``assistant.recipes``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.schemas import Hypothesis, hypothesis_ids, threshold

Better = Literal["higher", "lower", "neither"]
Over = Literal["seeds", "items"]


class _Card(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_ACCURACY = re.compile(r"(?:^|_)acc(?:uracy)?(?:[._]|$)")


class MetricSpec(_Card):
    """One metric a tool writes into results.json."""

    name: str
    """Dotted name; ``{layer}`` stands for each layer in the config's ``layers``."""
    meaning: str
    """What it measures, in one line."""
    better: Better = "higher"
    """Which direction is an improvement."""
    over: Over = "seeds"
    """What its interval is over: seeds (one value per seed) or test items (a bootstrap over items)."""
    only_when: tuple[str, str] | None = None
    """``(field, value)``: written only when the config's list ``field`` holds ``value`` (oversight's
    ``judge_accuracy.critique`` needs ``critique`` in ``conditions``); None: always written."""

    @property
    def is_accuracy(self) -> bool:
        """True for a share of items right (its name says ``acc`` or ``accuracy``): it lies in [0, 1]."""
        return bool(_ACCURACY.search(self.name))

    def written(self, config: Mapping[str, Any]) -> bool:
        """Whether a run of ``config`` writes this metric (a config without the field runs the tool's default)."""
        if self.only_when is None:
            return True
        field, value = self.only_when
        listed = config.get(field)
        return not isinstance(listed, list | tuple) or value in listed


class ComparisonSpec(_Card):
    """A comparison the tool supports: the effect is ``metric - baseline``, paired by seed or by test item.

    Both sides are written by the same run over the same seeds or the same held-out items in the same order, so
    ``assistant.report.stats`` tests the mean of the paired differences (a percentile bootstrap over the pairs).
    """

    name: str
    """Short name, e.g. ``w2s_vs_weak``."""
    metric: str
    """The metric on the left of the difference (``{layer}`` as in ``MetricSpec``)."""
    baseline: str
    """The metric subtracted."""
    meaning: str
    """What a positive effect means."""
    paired: Over = "seeds"
    """What the differences are paired over: seeds, or held-out test items (both sides scored on the same items)."""


class Knob(_Card):
    """A condition the approver and the model may set."""

    name: str
    """Config field."""
    meaning: str
    """What it changes."""


class Cue(_Card):
    """A kind of question recognised by its words. The tool shortlist (``assistant.toolchoice``) never offers a card
    for a question naming one of its ``ruled_out`` cues, so the model is never asked to weigh a tool whose card says
    it cannot answer; offers a card for a question naming one of its ``named_by`` cues, however terse; and offers
    nothing for a question naming one of ``OUT_OF_REACH``."""

    what: str
    """What the question asks for, as the shortlist's reason says it."""
    pattern: str
    """Case-insensitive regular expression; a match anywhere in the question names the kind."""
    unless: str = ""
    """Case-insensitive regular expression: a question it matches anywhere does not name the kind, whatever
    ``pattern`` matches (a read-out is no reason against steering when the question also asks to steer along it)."""

    @field_validator("pattern", "unless")
    @classmethod
    def _compiles(cls, value: str) -> str:
        re.compile(value)  # a typo fails where the card is defined, not on the first question ranked
        return value

    def named_in(self, question: str) -> str | None:
        """The words of ``question`` that ask for it, or None."""
        if self.unless and re.search(self.unless, question, re.IGNORECASE):
            return None
        found = re.search(self.pattern, question, re.IGNORECASE)
        return found.group(0) if found else None


def cue(what: str, *patterns: str, unless: Cue | None = None) -> Cue:
    """A ``Cue`` matching any of ``patterns``, except in a question that ``unless`` names."""
    return Cue(what=what, pattern="|".join(f"(?:{p})" for p in patterns), unless=unless.pattern if unless else "")


ASKS_STEERING = cue(
    "an intervention on activations (steering)",
    r"\bsteer\w*",
    # "intervening on the reasoning" and "injecting a mistake" are chain-of-thought tests, not steering
    r"\binterven\w*[^.?!]{0,30}\b(?:activations?|residual|hidden|direction|vector)s?\b",
    r"\binject\w*[^.?!]{0,30}\b(?:activations?|residual|hidden|direction|vector)s?\b",
    r"\badd(?:s|ed|ing)?\b[^.?!]{0,40}\b(?:direction|vector)s?\b",
    r"\b(?:direction|vector)s?\b[^.?!]{0,30}\b(?:injected|added)\b",
    r"\brandom (?:direction|vector)s?\b",
)
ASKS_ACTIVATIONS = cue(
    "activations, probes or layers",
    r"\bactivations?\b",
    r"\bhidden[- ]states?\b",
    r"\bresidual stream\b",
    r"\bprobes?\b",
    r"\bCCS\b",
    r"\bcontrast[- ]consistent\b",
    r"\blinear(?:ly)?\b",
    r"\blayers?\b",
)
ASKS_CCS = cue("CCS", r"\bCCS\b", r"\bcontrast[- ]consistent\b")
ASKS_REASONING = cue(
    "chain-of-thought reasoning",
    r"\bchain[- ]of[- ]thought\b",
    r"\bCoT\b",
    r"\bstep[- ]by[- ]step\b",
    # the model's own reasoning, not a "reasoning dataset" or "logical reasoning questions"
    r"\b(?:its|their|the model's|stated|written) reasoning\b",
    r"\breasoning (?:steps?|traces?|chains?|before|first)\b",
)
ASKS_JUDGE_HELP = cue(
    "help for a judge (critiques or a debate)",
    r"\bcritiqu(?:e|es|ed|ing)\b",
    r"\bcritics?\b",
    r"\bdebat(?:e|es|ed|ing|ers?)\b",
)
ASKS_GENERATED_TEXT = cue(
    "free-form generated text",
    # the tools score a chosen answer (a letter, true/false, a label); none reads what the model writes at length
    # ("generated answers" is no cue: steering scores the answers the model picks)
    r"\bfree[- ](?:form|text)\b",
    r"\bopen[- ]ended (?:answers?|generations?|text|responses?|completions?|outputs?|replies)\b",
    r"\b(?:its|the model's|sampled|parsed) generations\b",
    r"\bgenerated (?:text|responses?|completions?|essays?)\b",
    r"\blong(?:[- ]form)? (?:answers?|responses?|text)\b",
)
NAMES_FACT_CHECKS = cue("FEVER or PolitiFact claims", r"\bFEVER\b", r"\bPolitiFact\b")
NAMES_SENTIMENT_OR_STRATEGYQA = cue(
    "sentiment or StrategyQA data",
    r"\brotten[_ ]tomatoes\b",
    r"\bsentiment\b",
    r"\bmovie reviews?\b",
    r"\bStrategyQA\b",
)
NAMES_HHH = cue("the HHH alignment pairs", r"\bHHH\b")
ASKS_W2S = cue(
    "weak-to-strong training",
    r"\bweak[- ]to[- ]strong\b",
    r"\bw2s\b",
    r"\bweak (?:supervisor|labell?er|teacher|labels?)s?\b",
    r"\bPGR\b",
)
NAMES_PROBE = cue("a probe", r"\bprob(?:e|es|ed|ing)\b")


class ToolCard(_Card):
    """What one recipe can test, in the terms the planner, the approver and the checker use."""

    name: str
    """The recipe's name."""
    family: str
    """The research question family it tests, in one sentence."""
    answers: list[str]
    """Questions of the kind it tests (used to rank it against a question; phrased as a researcher would)."""
    cannot_answer: list[str] = Field(default_factory=list)
    """What it does not test, so nobody stretches it."""
    ruled_out: list[Cue] = Field(default_factory=list)
    """Words that mark a question as one of ``cannot_answer``: the shortlist never offers the card for it."""
    named_by: list[Cue] = Field(default_factory=list)
    """Words that name the card's own kind of experiment ("w2s", "CCS", "steer"): the shortlist offers the card for
    a question naming one however terse the question is (the model still chooses), unless words rule it out."""
    conditions: list[str]
    """Terms naming the conditions it runs (a claim naming a condition of another tool is refused)."""
    shared_terms: list[str] = Field(default_factory=list)
    """Those of ``conditions`` whose words other tools' claims use too (``accuracy``, ``judge``): they never mark a
    claim in another tool's run as foreign."""
    knobs: list[Knob] = Field(default_factory=list)
    """Config fields that change what is tested."""
    metrics: list[MetricSpec]
    """What it writes into results.json."""
    comparisons: list[ComparisonSpec] = Field(default_factory=list)
    """Differences it supports, paired by seed or item."""
    method: str
    """How it works, in two or three sentences (the start of a report's methods)."""
    smoke_test: bool = False
    """A plumbing check, not research: offered only when a question asks for a smoke test."""
    seeds_field: str | None = "seeds"
    """The config field listing seeds (None: the tool has one seed and intervals over items)."""
    main_hypothesis: Hypothesis | None = None
    """The tool's own headline prediction (its main comparison against its control or chance). The planner
    registers it, before anything runs, for a plan on this tool that states no hypothesis the tool can test, so
    every research run has a verdict computed from its intervals; None for a smoke test."""
    fallback_hypotheses: list[Hypothesis] = Field(default_factory=list)
    """Registered instead, the first that fits, when the main one's metrics are not written for the plan's config
    (oversight without the ``critique`` condition falls back to debate against judging alone)."""

    def metric_names(self, config: Mapping[str, Any]) -> list[str]:
        """Every metric name this card's tool writes for ``config`` (``{layer}`` expanded from its layers)."""
        return [name for spec in self.metrics if spec.written(config) for name in expand(spec.name, config)]

    def writes(self, metric: str) -> bool:
        """True when ``metric`` is one of this tool's metric templates or a concrete name of one."""
        return any(metric == m.name or metric_pattern(m.name).fullmatch(metric) for m in self.metrics)

    def spec_of(self, metric: str) -> MetricSpec | None:
        """The spec a concrete metric name comes from (``probe_acc.layer_4`` -> ``probe_acc.layer_{layer}``)."""
        for spec in self.metrics:
            if metric_pattern(spec.name).fullmatch(metric):
                return spec
        return None

    def describe(self) -> str:
        """The card as the planner's prompt shows it."""
        metrics = "; ".join(f"{m.name} ({m.meaning}; {m.better} is better; CI over {m.over})" for m in self.metrics)
        comparisons = "; ".join(
            f"{c.name} = {c.metric} - {c.baseline} ({c.meaning}; paired by {c.paired})" for c in self.comparisons
        )
        knobs = "; ".join(f"{k.name}: {k.meaning}" for k in self.knobs)
        lines = [
            f"- {self.name}{' [smoke test]' if self.smoke_test else ''}: {self.family}",
            f"  tests: {' | '.join(self.answers[:4])}",
            f"  metrics: {metrics}",
        ]
        if comparisons:
            lines.append(f"  comparisons: {comparisons}")
        if knobs:
            lines.append(f"  knobs: {knobs}")
        if self.cannot_answer:
            lines.append(f"  does NOT test: {' | '.join(self.cannot_answer)}")
        return "\n".join(lines)

    def choice_text(self) -> str:
        """The card as the tool-choice step shows it: what it tests and does not, its knobs; no metric list.

        Shorter than ``describe``: a small model weighs a few lines per tool better than a page of metric specs,
        and the choice is about the question's kind, not the numbers written.
        """
        lines = [f"- {self.name}{' [smoke test]' if self.smoke_test else ''}: {self.family}"]
        lines += [f"  tests: {answer}" for answer in self.answers]
        if self.knobs:
            lines.append(f"  settings: {'; '.join(f'{k.name}: {k.meaning}' for k in self.knobs)}")
        if self.cannot_answer:
            lines.append(f"  does NOT test: {' | '.join(self.cannot_answer)}")
        return "\n".join(lines)


def metric_pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.escape(template).replace(re.escape("{layer}"), r"\d+"))


def expand(template: str, config: Mapping[str, Any]) -> list[str]:
    """``template`` with ``{layer}`` replaced by each of ``config["layers"]`` (itself when it has no slot)."""
    if "{layer}" not in template:
        return [template]
    layers = config.get("layers") or []
    return [template.replace("{layer}", str(int(layer))) for layer in layers]


def headline(statement: str, metric: str, baseline: str | None = None, null: float = 0.0) -> Hypothesis:
    """A card's main hypothesis: ``metric`` (minus ``baseline``) predicted above ``null``."""
    return Hypothesis(id="H1", statement=statement, metric=metric, baseline=baseline, predicted="increase", null=null)


class ResolvedHypotheses(NamedTuple):
    """Hypotheses made concrete for one config, and what was refused."""

    hypotheses: list[Hypothesis]
    """Each on metric names the tool writes; a ``{layer}`` template or comparison becomes one per layer, with ids
    ``H1@layer_4`` (a family, whose intervals are Bonferroni-adjusted)."""
    refused: list[str]
    """Hypotheses dropped, and why (a metric the tool does not produce, ...)."""


def _sides(card: ToolCard, hypothesis: Hypothesis) -> tuple[str, str | None]:
    """The metric and baseline ``hypothesis`` compares, a comparison name of ``card`` resolved to its two sides."""
    metric, baseline = hypothesis.metric.strip(), (hypothesis.baseline or "").strip() or None
    comparison = next((c for c in card.comparisons if c.name == metric), None)
    if comparison is not None and baseline is None:
        return comparison.metric, comparison.baseline
    return metric, baseline


def resolve_hypotheses(card: ToolCard, config: Mapping[str, Any], hypotheses: list[Hypothesis]) -> ResolvedHypotheses:
    """Resolve comparison names and ``{layer}`` templates against ``card`` and ``config``; refuse unknown metrics."""
    produced = set(card.metric_names(config))
    comparisons = {c.name: c for c in card.comparisons}
    out: list[Hypothesis] = []
    refused: list[str] = []
    # an id already resolved for one layer (``H1@layer_4``, a plan frozen before) keeps its family
    for hid, hypothesis in zip(hypothesis_ids(hypotheses), hypotheses, strict=True):
        if hypothesis.metric.strip() in comparisons and (hypothesis.baseline or "").strip():
            refused.append(
                f"{hid}: comparison {hypothesis.metric.strip()!r} already names its baseline; drop 'baseline'"
            )
            continue
        metric, baseline = _sides(card, hypothesis)
        known = ", ".join(sorted({m.name for m in card.metrics} | set(comparisons)))
        unknown = [m for m in (metric, baseline) if m is not None and not card.writes(m)]
        if unknown:
            refused.append(f"{hid}: {card.name} does not produce {', '.join(unknown)} (its metrics: {known})")
            continue
        metrics = expand(metric, config)
        baselines = expand(baseline, config) if baseline is not None else [None] * len(metrics)
        if "{layer}" in metric and baseline is not None and "{layer}" not in baseline:
            baselines = [baseline] * len(metrics)
        if not metrics or len(metrics) != len(baselines):
            refused.append(f"{hid}: {hypothesis.metric!r} does not expand over this config's layers")
            continue
        if baseline is None and (empty := _says_nothing(card, metrics[0], hypothesis)):
            refused.append(f"{hid}: {empty}")
            continue
        missing = sorted({m for m in [*metrics, *baselines] if m is not None and m not in produced})
        not_run = [(m, spec.only_when) for m in missing if (spec := card.spec_of(m)) and spec.only_when]
        if not_run:
            why = "; ".join(f"{m} needs {field} to list {value!r}" for m, (field, value) in not_run)
            refused.append(f"{hid}: this config does not run what it compares: {why}")
            continue
        if missing:
            refused.append(f"{hid}: {card.name} does not produce {', '.join(missing)} (its metrics: {known})")
            continue
        family = len(metrics) > 1
        for m, b in zip(metrics, baselines, strict=True):
            suffix = f"@{m.rsplit('.', 1)[-1]}" if family else ""
            out.append(
                hypothesis.model_copy(
                    update={"id": (hid.split("@")[0] if family else hid) + suffix, "metric": m, "baseline": b}
                )
            )
    return ResolvedHypotheses(out, refused)


def _says_nothing(card: ToolCard, metric: str, hypothesis: Hypothesis) -> str | None:
    """Why a prediction on one accuracy holds for any run (above 0, below 1), or None. The default model predicted
    'accuracy.steered > 0' for a steering question: one right answer in a hundred would have 'supported' it."""
    spec = card.spec_of(metric)
    if spec is None or not spec.is_accuracy:
        return None
    increase, edge = hypothesis.predicted == "increase", threshold(hypothesis)
    if (increase and edge > 0) or (not increase and edge < 1):
        return None
    return (
        f"'{metric} {'>' if increase else '<'} {edge:g}' holds for almost any run (an accuracy lies in [0, 1]); "
        "predict against chance (0.5 for two options) or against a baseline the tool writes"
    )


def conditions_needed(card: ToolCard, config: Mapping[str, Any], hypothesis: Hypothesis) -> list[tuple[str, str]]:
    """The ``(field, value)`` pairs ``config`` must list for the metrics ``hypothesis`` compares to be written
    (empty: it runs as configured, or it names a metric the tool never writes)."""
    metric, baseline = _sides(card, hypothesis)
    needed: list[tuple[str, str]] = []
    for name in (metric, baseline):
        spec = card.spec_of(name) if name else None
        if (
            spec is not None
            and spec.only_when is not None
            and not spec.written(config)
            and spec.only_when not in needed
        ):
            needed.append(spec.only_when)
    return needed


def family_sizes(hypotheses: list[Hypothesis]) -> dict[str, int]:
    """How many tests each hypothesis id's family has (``H1@layer_4`` belongs to ``H1``)."""
    counts: dict[str, int] = {}
    for h in hypotheses:
        counts[h.id.split("@")[0]] = counts.get(h.id.split("@")[0], 0) + 1
    return {h.id: counts[h.id.split("@")[0]] for h in hypotheses}


_W2S_CONDITIONS = [
    "weak supervisor",
    "weak model",
    "strong student",
    "strong ceiling",
    "ceiling",
    "weak-to-strong",
    "PGR",
]
_PROBE_CONDITIONS = ["supervised probe", "linear probe", "CCS", "contrast-consistent", "zero-shot"]

SYNTHETIC_W2S = ToolCard(
    name="synthetic_w2s",
    family=(
        "Weak-to-strong on a synthetic scikit-learn task (weak supervisor, student, ceiling, PGR): the smoke test "
        "and sanity check of the pipeline; its numbers are about synthetic data, not about language models."
    ),
    answers=[
        "Run a quick smoke test of the weak-to-strong pipeline",
        "Check that the experiment plumbing works end to end on synthetic data",
        "Sanity-check PGR computation on a synthetic classification task",
        "Synthetic smoke test: does the student trained on weak labels beat its weak supervisor?",
    ],
    cannot_answer=["anything about language models, real datasets, probes, CCS, evals or chain of thought"],
    conditions=_W2S_CONDITIONS,
    knobs=[
        Knob(name="weak_features", meaning="how many informative features the weak supervisor sees (fewer = weaker)"),
        Knob(name="strong_model", meaning="the student: logistic regression or a small MLP"),
        Knob(name="seeds", meaning="random seeds (task draw, splits, models)"),
    ],
    metrics=[
        MetricSpec(name="accuracy.weak", meaning="weak supervisor's test accuracy"),
        MetricSpec(name="accuracy.w2s", meaning="student trained on weak labels, test accuracy"),
        MetricSpec(name="accuracy.ceiling", meaning="student trained on ground truth, test accuracy"),
        MetricSpec(name="pgr", meaning="performance gap recovered: (w2s - weak) / (ceiling - weak)"),
    ],
    comparisons=[
        ComparisonSpec(
            name="w2s_vs_weak",
            metric="accuracy.w2s",
            baseline="accuracy.weak",
            meaning="the student beats its weak supervisor",
        ),
        ComparisonSpec(
            name="ceiling_vs_w2s",
            metric="accuracy.ceiling",
            baseline="accuracy.w2s",
            meaning="gap left to the ground-truth ceiling",
        ),
    ],
    method=(
        "Per seed, make_classification draws a binary task; a logistic-regression weak supervisor trained on ground "
        "truth sees only some informative features and labels a training split; a student learns from those labels "
        "and a ceiling from ground truth; all three are scored on a test split, and PGR is computed per seed."
    ),
    smoke_test=True,
)

W2S = ToolCard(
    name="w2s",
    family=(
        "Weak-to-strong generalization on real offline datasets: does a strong student trained on a weak "
        "supervisor's labels recover part of the gap to a strong ceiling, and which loss helps?"
    ),
    answers=[
        "Does a strong model trained on weak labels outperform its weak supervisor on a real dataset?",
        "How much of the performance gap does weak-to-strong training recover (PGR) on sentiment or QA data?",
        "Does an auxiliary confidence loss improve weak-to-strong generalization over cross-entropy?",
        "Can a small model supervise a larger model's features on TruthfulQA, StrategyQA or misconceptions?",
        "How does weak-to-strong generalization depend on the weak and strong features?",
    ],
    cannot_answer=["probe or CCS accuracy", "a model's own eval accuracy", "chain-of-thought faithfulness"],
    ruled_out=[ASKS_CCS, ASKS_REASONING, ASKS_STEERING, ASKS_JUDGE_HELP, NAMES_FACT_CHECKS, NAMES_HHH],
    named_by=[ASKS_W2S],
    conditions=[*_W2S_CONDITIONS, "auxiliary confidence loss", "aux_conf", "cross-entropy", "bootstrapping loss"],
    knobs=[
        Knob(name="dataset", meaning="rotten_tomatoes, strategyqa, misconceptions, truthful_qa or tabular sets"),
        Knob(name="weak_features", meaning="the weak supervisor's input (bow, minilm, smollm2_l<k>, tab_*)"),
        Knob(name="strong_features", meaning="the frozen strong features the student reads"),
        Knob(name="loss", meaning="xent (cross-entropy), aux_conf (auxiliary confidence) or bootstrap"),
        Knob(name="seeds", meaning="random seeds for the weak/strong splits and training"),
    ],
    metrics=[
        MetricSpec(name="weak_acc", meaning="weak supervisor's held-out accuracy"),
        MetricSpec(name="w2s_acc", meaning="student trained on weak labels, held-out accuracy"),
        MetricSpec(name="ceiling_acc", meaning="student trained on ground truth, held-out accuracy"),
        MetricSpec(name="pgr", meaning="performance gap recovered: (w2s - weak) / (ceiling - weak)"),
        MetricSpec(name="agreement", meaning="student-supervisor agreement on the test split", better="neither"),
        MetricSpec(
            name="weak_acc.items", meaning="weak supervisor's accuracy per test item (share of seeds)", over="items"
        ),
        MetricSpec(name="w2s_acc.items", meaning="student's accuracy per test item (share of seeds)", over="items"),
        MetricSpec(name="ceiling_acc.items", meaning="ceiling's accuracy per test item (share of seeds)", over="items"),
    ],
    comparisons=[
        ComparisonSpec(
            name="w2s_vs_weak", metric="w2s_acc", baseline="weak_acc", meaning="the student beats the weak supervisor"
        ),
        ComparisonSpec(
            name="ceiling_vs_w2s", metric="ceiling_acc", baseline="w2s_acc", meaning="gap left to the ceiling"
        ),
        ComparisonSpec(
            name="w2s_vs_weak_items",
            metric="w2s_acc.items",
            baseline="weak_acc.items",
            meaning="the student beats the weak supervisor on the same held-out items",
            paired="items",
        ),
        ComparisonSpec(
            name="ceiling_vs_w2s_items",
            metric="ceiling_acc.items",
            baseline="w2s_acc.items",
            meaning="gap left to the ceiling on the same held-out items",
            paired="items",
        ),
    ],
    method=(
        "The weak supervisor is trained on ground truth (split A) and labels split B; a strong student head on frozen "
        "strong features learns from those labels with the chosen loss; a strong ceiling learns from B's ground "
        "truth. The host holds the test labels and scores every model's held-out predictions."
    ),
    main_hypothesis=headline("The student trained on weak labels beats its weak supervisor.", "w2s_vs_weak"),
)

PROBES = ToolCard(
    name="probes",
    family=(
        "Latent knowledge in a language model's activations: supervised linear probes vs CCS (unsupervised) vs "
        "zero-shot, by layer, on contrast pairs from a text dataset."
    ),
    answers=[
        "Does contrast-consistent search (CCS) find a truth direction as well as a supervised linear probe, "
        "layer by layer?",
        "At which layers does a linear probe read out whether a statement is true?",
        "Does an unsupervised method recover latent knowledge without labels?",
        "How does probe accuracy compare with the model's zero-shot answers?",
        "Lie detection from activations: is truth linearly represented in the residual stream?",
    ],
    cannot_answer=[
        "weak-to-strong generalization",
        "a model's generated answers or chain of thought",
        "steering",
        "help for a judge",
    ],
    ruled_out=[
        ASKS_W2S,
        ASKS_REASONING,
        ASKS_STEERING,
        ASKS_JUDGE_HELP,
        ASKS_GENERATED_TEXT,
        NAMES_FACT_CHECKS,
        NAMES_HHH,
    ],
    named_by=[ASKS_CCS, NAMES_PROBE],
    conditions=_PROBE_CONDITIONS,
    knobs=[
        Knob(name="dataset", meaning="rotten_tomatoes, strategyqa, misconceptions or truthful_qa contrast pairs"),
        Knob(name="layers", meaning="SmolLM2-135M-Instruct layers to probe (0..30)"),
        Knob(name="ccs_restarts", meaning="CCS random restarts per layer"),
    ],
    metrics=[
        MetricSpec(name="probe_acc.layer_{layer}", meaning="supervised probe's held-out accuracy", over="items"),
        MetricSpec(
            name="ccs_acc.layer_{layer}", meaning="CCS (sign fixed on a dev slice) held-out accuracy", over="items"
        ),
        MetricSpec(name="zero_shot_acc", meaning="the model's zero-shot answer accuracy", over="items"),
        MetricSpec(
            name="zero_shot_calibrated_acc", meaning="zero-shot with a threshold fit on training pairs", over="items"
        ),
        MetricSpec(name="ccs_restarts.layer_{layer}", meaning="CCS accuracy across restarts (stability)"),
    ],
    comparisons=[
        ComparisonSpec(
            name="probe_vs_ccs",
            metric="probe_acc.layer_{layer}",
            baseline="ccs_acc.layer_{layer}",
            meaning="the supervised probe beats CCS on the same held-out items",
            paired="items",
        ),
        ComparisonSpec(
            name="ccs_vs_zero_shot",
            metric="ccs_acc.layer_{layer}",
            baseline="zero_shot_acc",
            meaning="CCS beats the model's zero-shot answers on the same held-out items",
            paired="items",
        ),
    ],
    method=(
        "Contrast pairs (each statement with both answers) are embedded layer by layer from SmolLM2-135M-Instruct; "
        "per layer a supervised logistic probe and CCS (several restarts, sign fixed on a small labelled dev slice) "
        "are fit on training pairs, and the host scores their predictions on held-out pairs against labels it keeps."
    ),
    seeds_field=None,
    main_hypothesis=headline(
        "CCS's held-out accuracy beats the model's zero-shot answers on the same items at each layer.",
        "ccs_vs_zero_shot",
    ),
)

HONESTY_PROBES = ToolCard(
    name="honesty_probes",
    family=(
        "Lie detection from a model's activations on true/false statements (misconceptions, TruthfulQA, FEVER, "
        "PolitiFact): a supervised probe vs CCS vs the zero-shot answer, layer by layer."
    ),
    answers=[
        "Can a linear probe on activations detect false statements about common misconceptions?",
        "Does a lie detector trained on one set of true/false statements work by layer?",
        "Is a model's internal truth signal better than its stated answer on misconceptions?",
    ],
    cannot_answer=[
        "weak-to-strong generalization",
        "chain-of-thought faithfulness",
        "generated text",
        "steering",
        "help for a judge",
    ],
    ruled_out=[
        ASKS_W2S,
        ASKS_REASONING,
        ASKS_STEERING,
        ASKS_JUDGE_HELP,
        ASKS_GENERATED_TEXT,
        NAMES_SENTIMENT_OR_STRATEGYQA,
        NAMES_HHH,
    ],
    named_by=[ASKS_CCS, NAMES_PROBE, cue("lie detection", r"\blie[- ]detect\w*")],
    conditions=_PROBE_CONDITIONS,
    knobs=[
        Knob(name="task", meaning="misconceptions, truthful_qa, fever or politifact statements"),
        Knob(name="layers", meaning="SmolLM2-135M-Instruct layers to probe"),
    ],
    metrics=[
        MetricSpec(name="probe_acc.layer_{layer}", meaning="supervised probe's held-out accuracy", over="items"),
        MetricSpec(name="ccs_acc.layer_{layer}", meaning="CCS held-out accuracy", over="items"),
        MetricSpec(name="zero_shot_acc", meaning="zero-shot accuracy from the answer words' logits", over="items"),
        MetricSpec(
            name="majority_class_acc", meaning="always answering the majority class (chance baseline)", over="items"
        ),
        MetricSpec(name="ccs_restarts.layer_{layer}", meaning="CCS accuracy across restarts (stability)"),
    ],
    comparisons=PROBES.comparisons,
    method=(
        "Each statement is paired with 'True' and 'False' and embedded layer by layer; per layer a supervised probe "
        "and CCS are fit on training statements, split by group so related statements never straddle the split, and "
        "the host scores held-out predictions against labels it keeps."
    ),
    seeds_field=None,
    main_hypothesis=headline(
        "A supervised probe on activations detects false statements better than always answering the majority class.",
        "probe_acc.layer_{layer}",
        "majority_class_acc",
    ),
)

BUILTIN_CARDS: dict[str, ToolCard] = {c.name: c for c in (SYNTHETIC_W2S, W2S, PROBES, HONESTY_PROBES)}
"""Cards of the built-in recipes, by recipe name."""


def condition_terms(cards: Iterable[ToolCard] | None = None) -> dict[str, str]:
    """Each distinctive condition term of ``cards`` (default: the built-in ones), lower-cased, -> as the cards spell
    it: the claim checker's vocabulary. A card's ``shared_terms`` are left out."""
    chosen = BUILTIN_CARDS.values() if cards is None else cards
    return {
        term.casefold(): term
        for card in chosen
        for term in card.conditions
        if term.casefold() not in {t.casefold() for t in card.shared_terms}
    }
