"""Typed records of the research loop: what the model fills and what the graph stores.

Covers the model-filled schemas (``ResearchBrief``, ``ExperimentPlan``/``ExperimentPlans``, ``FreeCell``,
``Analysis``, ``ReportText``; documented with ``Field(description=...)`` because the model reads those) and the
records the graph and its callers exchange (``EvidenceRef``, ``CellRecord``, ``Approval``, ``RunSummary``,
``RunOutcome``) and the research question's validation (``validate_question``). Does not
cover graph state (``assistant.graph.state``), events (``assistant.events``) or recipe configs
(``assistant.recipes``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from assistant.errors import AssistantError

Decision = Literal["approve", "modify", "reject"]
RunStatus = Literal[
    "running", "awaiting_approval", "done", "failed", "rejected", "budget_exhausted", "stopped", "out_of_scope"
]
CellStatus = Literal["ok", "error", "timeout", "died", "aborted", "blocked"]
CodeMode = Literal["recipe", "free"]
ReportDraftMode = Literal["analysis", "model"]


def _cap(limit: int) -> AfterValidator:
    """Cut model text at ``limit`` characters. A validator, not ``max_length``: llama.cpp expands maxLength into
    a grammar with one nested rule per character, which it fails to parse for a few hundred characters."""
    return AfterValidator(lambda text: text[:limit])


class _ModelFilled(BaseModel):
    """A schema the language model fills: unknown keys are refused (they are logged as blocked attempts)."""

    model_config = ConfigDict(extra="forbid")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResearchBrief(_ModelFilled):
    """The question clarified into something an experiment can answer."""

    objective: Annotated[str, _cap(600)] = Field(description="One sentence: what the research should find out.")
    key_terms: list[str] = Field(
        default_factory=list, description="Technical terms central to the question.", max_length=12
    )
    search_queries: list[str] = Field(
        default_factory=list,
        description="Up to 3 short literature search queries (keywords, no punctuation).",
        max_length=3,
    )
    success_criteria: Annotated[str, _cap(600)] = Field(
        default="", description="What result would answer the question (a measurable outcome)."
    )


class Hypothesis(_ModelFilled):
    """A prediction stated before anything runs; code computes its verdict from the results' intervals."""

    id: Annotated[str, _cap(24)] = Field(default="", description="Short id: H1, H2, ... (filled in if left empty).")
    statement: Annotated[str, _cap(400)] = Field(description="The prediction in one sentence, without numbers.")
    metric: Annotated[str, _cap(120)] = Field(
        description="A metric name or a comparison name from the chosen tool's card (exactly as listed there)."
    )
    baseline: Annotated[str, _cap(120)] | None = Field(
        default=None,
        description="For a comparison between two metrics: the metric subtracted (effect = metric - baseline); "
        "null when `metric` is one metric or a comparison name.",
    )
    predicted: Literal["increase", "decrease"] = Field(
        description="'increase': the effect is predicted above the null value; 'decrease': below it."
    )
    null: float = Field(
        default=0.0,
        description="The effect's value if the prediction is false: 0 for a difference or PGR, 0.5 for a "
        "binary accuracy at chance.",
    )
    min_effect: float = Field(
        default=0.0, ge=0.0, description="Smallest effect beyond the null that counts as support (0 = any)."
    )


class ExperimentSpec(_ModelFilled):
    """A further experiment of a plan (an ablation, a control, another condition): the plan's config with some
    fields changed. It runs in its own cell with its own frozen config and results."""

    name: Annotated[str, _cap(40)] = Field(description="Short name of this experiment, e.g. 'no_weak_labels'.")
    role: Literal["condition", "ablation", "control"] = Field(
        description="'condition': another setting compared with the main one; 'ablation': the main setting with "
        "one part removed; 'control': a baseline that rules out an alternative explanation."
    )
    description: Annotated[str, _cap(400)] = Field(default="", description="What this experiment changes and why.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Only the recipe config fields that differ from the plan's config."
    )


MAX_HYPOTHESES = 4
"""Predictions a plan may state. A per-layer family (``H1@layer_4``, ``H1@layer_8``, ... once frozen) counts once, so
a frozen plan over many layers stays valid."""


HYPOTHESIS_ID = re.compile(r"H\d{1,2}(@[A-Za-z0-9_.]{1,16})?")
"""A hypothesis id: ``H1``, or ``H1@layer_4`` for one member of a family resolved over layers."""


class Predicts(Protocol):
    """What a prediction is tested against: a ``Hypothesis`` or a hypothesis with its verdict."""

    @property
    def predicted(self) -> Literal["increase", "decrease"]: ...
    @property
    def null(self) -> float: ...
    @property
    def min_effect(self) -> float: ...


def threshold(h: Predicts) -> float:
    """The value the effect must pass on the predicted side: the null plus (or minus) the minimum effect."""
    return h.null + h.min_effect if h.predicted == "increase" else h.null - h.min_effect


def hypothesis_ids(hypotheses: list[Hypothesis]) -> list[str]:
    """The id each hypothesis gets when resolved: its own when well-formed and not taken yet, else ``H<n>`` from
    its position (``+10`` until free: five hypotheses all called 'H1' become H1, H12, H13, H14, H15)."""
    used: set[str] = set()
    out: list[str] = []
    for number, hypothesis in enumerate(hypotheses, start=1):
        hid = hypothesis.id.strip() if HYPOTHESIS_ID.fullmatch(hypothesis.id.strip()) else f"H{number}"
        while hid in used:
            number += 10
            hid = f"H{number}"
        used.add(hid)
        out.append(hid)
    return out


def _few_families(hypotheses: list[Hypothesis]) -> list[Hypothesis]:
    # counted as resolution numbers them: five hypotheses all called 'H1' are five families, refused here rather
    # than stored and refused at approval
    families = {hid.split("@", 1)[0] for hid in hypothesis_ids(hypotheses)}
    if len(families) > MAX_HYPOTHESES:
        raise ValueError(
            f"at most {MAX_HYPOTHESES} hypotheses (a per-layer family counts once), got {len(families)}: keep the "
            "predictions that answer the question"
        )
    return hypotheses


class ExperimentPlan(_ModelFilled):
    """One experiment the loop could run, built on an allow-listed recipe (with optional further experiments)."""

    title: Annotated[str, _cap(200)] = Field(description="Short title of the experiment.")
    hypothesis: Annotated[str, _cap(800)] = Field(description="The hypothesis the experiment tests.")
    method: Annotated[str, _cap(1500)] = Field(description="How the experiment tests it, in two or three sentences.")
    recipe: Annotated[str, _cap(64)] = Field(description="Name of one recipe from the list of available recipes.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Settings for the recipe, using only that recipe's config fields."
    )
    hypotheses: Annotated[list[Hypothesis], AfterValidator(_few_families)] = Field(
        default_factory=list,
        json_schema_extra={"maxItems": MAX_HYPOTHESES},
        description="Pre-registered predictions, each on a metric or comparison of the recipe's card.",
    )
    open_fields: list[str] = Field(
        default_factory=list,
        description="Config fields the loop may change if the run fails (empty: the approved config is final).",
    )
    expected_outcome: Annotated[str, _cap(800)] = Field(default="", description="What result you expect and why.")
    controls: list[str] = Field(default_factory=list, description="Baselines or controls compared against.")
    seeds: list[int] = Field(default_factory=lambda: [0], description="Random seeds to run.", max_length=10)
    citations: list[str] = Field(
        default_factory=list,
        description="Citation keys (paper_id#chunk_id) from the evidence that motivate this plan.",
    )
    experiments: list[ExperimentSpec] = Field(
        default_factory=list,
        max_length=4,
        description="Further experiments run beside the main one (ablations, controls, other conditions), each "
        "changing a few config fields; empty for a single experiment.",
    )


class ExperimentPlans(_ModelFilled):
    """The model's proposal: one to three experiments, best first."""

    plans: list[ExperimentPlan] = Field(
        description="One to three experiment plans, best first.", min_length=1, max_length=3
    )


_PlanBase = ExperimentPlan
_PlansBase = ExperimentPlans


def plans_schema(recipes: list[str]) -> type[ExperimentPlans]:
    """``ExperimentPlans`` whose JSON schema lists ``recipes`` as the only values of ``recipe``.

    Schema-constrained decoding (the embedded model) then cannot even spell another tool. Validation still
    accepts any string, so a plan naming something else (an obeyed injection, a model without constrained
    decoding) reaches the allow-list check and is refused and logged there.
    """

    def constrain(schema: dict[str, Any]) -> None:
        schema["properties"]["recipe"]["enum"] = list(recipes)

    class ExperimentPlan(_PlanBase):
        model_config = ConfigDict(extra="forbid", json_schema_extra=constrain)

    class ExperimentPlans(_PlansBase):
        plans: list[ExperimentPlan] = Field(  # type: ignore[assignment]
            description="One to three experiment plans, best first.", min_length=1, max_length=3
        )

    return ExperimentPlans


class FreeCell(_ModelFilled):
    """A code cell the model writes (free mode only)."""

    code: Annotated[str, _cap(20_000)] = Field(
        description="Python code for one Jupyter cell. It must write results.json (ara.results/1) into OUT_DIR."
    )
    purpose: Annotated[str, _cap(300)] = Field(default="", description="One line: what the cell does.")


class Claim(_ModelFilled):
    """One statement about the results, naming what it rests on; the checker drops it if the evidence disagrees."""

    statement: Annotated[str, _cap(600)] = Field(
        description="The claim in one sentence, without writing any number (numbers come from results.json)."
    )
    about: list[str] = Field(
        description="What the claim rests on: hypothesis ids (H1, H2, ...) and/or exact metric names from the results.",
        min_length=1,
        max_length=6,
    )
    stance: Literal["supports", "refutes", "inconclusive", "describes"] = Field(
        default="describes",
        description="For a claim about hypotheses: does the evidence support, refute, or not settle them? "
        "'describes' for a plain description of metrics.",
    )
    direction: Literal["higher", "lower"] | None = Field(
        default=None,
        description="For a claim comparing two metrics in `about` (first vs second): is the first higher or lower?",
    )


class Analysis(_ModelFilled):
    """The model's reading of the results: claims that name their evidence; numbers and verdicts come from code."""

    claims: list[Claim] = Field(
        default_factory=list, description="What the results show, each claim naming its evidence.", max_length=8
    )
    limitations: list[str] = Field(default_factory=list, description="Caveats of this experiment.", max_length=8)


class ToolChoice(_ModelFilled):
    """Which tool on the shortlist can test the question, or none."""

    # reason before tool: the model says what the question measures before it names a tool (decoding follows the
    # schema's property order)
    reason: Annotated[str, _cap(600)] = Field(
        description="One sentence: what the question measures, and which listed tool measures it (or why none does)."
    )
    tool: Annotated[str, _cap(64)] = Field(
        description="One tool name from the shortlist, or 'none' when no listed tool tests this question."
    )


class CitedStatement(_ModelFilled):
    """A sentence answered from the literature, with the passages it rests on."""

    statement: Annotated[str, _cap(600)] = Field(description="One sentence the quoted passages support.")
    keys: list[str] = Field(
        description="Citation keys (paper_id#chunk_id) from the evidence that support it.", min_length=1, max_length=4
    )


class ScopeNote(_ModelFilled):
    """What a question needs when no tool of ara can test it, and what the literature already says."""

    needs: Annotated[str, _cap(800)] = Field(description="What an experiment answering the question would need.")
    would_build: Annotated[str, _cap(800)] = Field(
        description="What tool would have to be built for ara to test it (data, models, measurements)."
    )
    answer: list[CitedStatement] = Field(
        default_factory=list,
        max_length=6,
        description="What the quoted passages say about the question, each statement citing its keys; empty if "
        "they say nothing relevant.",
    )


class Critique(_ModelFilled):
    """A second look at the run before the report: does it test the question, what confounds it, what next."""

    tests_question: Literal["yes", "partly", "no"] = Field(description="Does this experiment test the question asked?")
    why: Annotated[str, _cap(600)] = Field(description="One or two sentences on why.")
    confounds: list[str] = Field(default_factory=list, max_length=5, description="Confounds or threats that remain.")
    follow_ups: list[str] = Field(
        default_factory=list, max_length=4, description="Experiments that would settle what this one leaves open."
    )


class EvidenceRef(_Record):
    """A retrieved passage, as kept in graph state (the text lives in the run directory)."""

    key: str
    """Citation key ``paper_id#chunk_id``."""
    title: str
    """Paper title."""
    anchor: str = ""
    """Section and/or page."""
    score: float = 0.0
    """Retrieval score."""


class CellRecord(_Record):
    """One executed (or blocked) cell, keyed by run id and step so a resumed run never repeats it."""

    index: int
    """0-based position in the run."""
    key: str
    """``<run_id>:cell:<index>``: the idempotency key."""
    source: Literal["recipe", "free", "debug"]
    """What produced the code."""
    recipe: str | None = None
    """Recipe name in recipe mode."""
    code_path: str
    """The cell's code, relative to the run directory."""
    status: CellStatus
    """How it ended."""
    error: str | None = None
    """``ErrorName: value`` for failures."""
    duration_s: float = 0.0
    """Wall time of the execution."""
    experiment: str | None = None
    """The experiment node the cell ran (``e1``, ``f1``, ...; None in a run from before the tree)."""


class Approval(_Record):
    """A decision on the proposed plans, from a person (chat) or an approval policy (unattended)."""

    decision: Decision
    """Approve the chosen plan, approve a modified plan, or reject."""
    reviewer: str
    """Who decided: a user name, or ``policy:<name>``."""
    plan_index: int = 0
    """Which proposed plan (0 = the first) is approved."""
    plan: ExperimentPlan | None = None
    """The edited plan when ``decision == "modify"``."""
    comment: str = ""
    """Why (fed back in the run log)."""


class RunSummary(_Record):
    """One run as ``ara runs list`` shows it."""

    run_id: str
    """ULID of the run."""
    question: str
    """The question asked."""
    status: RunStatus
    """Where the run stands."""
    next_node: str | None = None
    """The node a resume would start at."""
    proposal_id: str | None = None
    """Proposal id once proposed."""
    report_path: str | None = None
    """Report path once written."""
    tokens: int = 0
    """Tokens used so far."""


class RunOutcome(_Record):
    """Where a run stands when the loop returns control: paused for a plan approval, or ended.

    The one outcome record of the research loop: ``RunSession`` returns it to ``ara run``, the TUI and campaigns.
    """

    run_id: str
    """The run (and checkpoint thread) id."""
    status: RunStatus
    """``awaiting_approval`` pauses on the plans; the others are final (``failed`` and ``stopped`` can be resumed)."""
    next_node: str | None = None
    """Where a resume continues (None when finished)."""
    plans: tuple[ExperimentPlan, ...] = ()
    """The plans waiting for approval (status ``awaiting_approval``), decoded once."""
    plan_notes: tuple[tuple[str, ...], ...] = ()
    """For each plan, what code changed before approval and why (seeds raised, hypotheses refused)."""
    proposal_id: str | None = None
    """Proposal id when proposed."""
    report_path: str | None = None
    """Report path when written (relative to the workspace)."""
    results_path: str | None = None
    """The ``results.json`` the run's analysis read, relative to its run directory."""
    tokens: int = 0
    """Tokens used so far."""
    cells: int = 0
    """Cells executed so far."""
    failure: str | None = None
    """Why the run stopped, when it did not finish."""

    @property
    def message(self) -> str:
        """A one-line summary for the user: why it stopped, else what it spent."""
        return self.failure or f"{self.tokens} tokens, {self.cells} cells"


MAX_QUESTION_CHARS = 4000
"""Longest research question accepted (long material belongs in the paper library)."""


def validate_question(question: str) -> str:
    """The stripped question.

    Raises:
        AssistantError: empty, or longer than ``MAX_QUESTION_CHARS`` (says what to do instead).
    """
    text = question.strip()
    if not text:
        raise AssistantError(
            'the research question is empty; pass it in quotes, e.g. ara run "Does weak-to-strong '
            'generalization hold on a synthetic task?"',
            title="Empty question",
        )
    if len(text) > MAX_QUESTION_CHARS:
        raise AssistantError(
            f"the research question is {len(text)} characters long (the limit is {MAX_QUESTION_CHARS}); "
            "ask one focused question and add long material to the paper library with 'ara papers add'.",
            title="Question too long",
        )
    return text
