"""Typed records of a write-up: the model-written ``ReportDraft``, the full ``Report``, and check outcomes.

Covers the data only. ``ReportDraft`` is what the LLM fills through structured output, so its fields carry
``Field(description=...)`` (the model reads them); the other records use attribute docstrings. What the model
writes is typed claims that name their evidence, a design rationale, limitations and next steps; the summary,
methods and discussion are rendered by code from the computed verdicts, the executed config and the accepted
claims (``assistant.report.compose``). Building, checking and rendering live in ``build``, ``claims``, ``check``,
``render_md`` and ``render_html``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.report.results import ResultsDocument
from assistant.report.tree import ExperimentTreeReport
from assistant.schemas import Claim, Hypothesis

REPORT_SCHEMA = "ara.report/2"
SectionName = Literal["summary", "methods", "results_discussion", "limitations", "next_steps"]
SECTIONS: tuple[SectionName, ...] = ("summary", "methods", "results_discussion", "limitations", "next_steps")
SECTION_TITLES: dict[str, str] = {
    "summary": "Summary",
    "methods": "Methods",
    "results_discussion": "Discussion of results",
    "limitations": "Limitations",
    "next_steps": "Next steps",
}
MODEL_TEXT: tuple[str, ...] = ("rationale", "limitations", "next_steps")
"""Report fields the model writes freely (checked for numbers and citations); claims are checked one by one."""
OffenderKind = Literal[
    "numeral", "citation", "arxiv", "placeholder", "figure", "stale", "claim", "section", "fit", "config", "empty"
]

_NO_NUMBERS = " Numbers only through placeholders."


class ReportDraft(BaseModel):
    """The model's part of one run's write-up. Never type a number: write {{ metric:<name>.<field> }} (fields:
    value, mean, ci_low, ci_high, n, ci) and it is filled from results.json; cite papers only as
    {{ cite:<paper_id#chunk_id> }} with keys from the evidence. The summary, methods and verdicts are written by
    code from the results and the executed config; each claim is checked against them and dropped if they
    disagree. Typed numbers that match no result mark the report unverified.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    claims: list[Claim] = Field(
        default_factory=list,
        max_length=10,
        description="What the results show, each claim naming the hypotheses or metrics it rests on.",
    )
    rationale: str = Field(
        default="",
        description="Why this experiment design tests the question (the methods are rendered from the "
        "executed config)." + _NO_NUMBERS,
    )
    limitations: str = Field(default="", description="Threats to validity, what was not tested." + _NO_NUMBERS)
    next_steps: str = Field(default="", description="Concrete follow-up experiments." + _NO_NUMBERS)
    cited_keys: list[str] = Field(
        default_factory=list, description="Every paper_id#chunk_id key the report relies on (from the evidence)."
    )


class CheckedClaim(BaseModel):
    """A model-written claim and whether the evidence holds it up (rejected claims are listed, never rewritten)."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    claim: Claim
    """The claim as the model wrote it."""
    accepted: bool
    """True when every named hypothesis and metric exists and the numbers agree with it."""
    reason: str
    """Why it was accepted (the evidence) or dropped."""
    source: Literal["claim", "prose"] = "claim"
    """``claim``: one of the draft's claims; ``prose``: a sentence dropped from the model's rationale, limitations
    or next steps for stating another verdict (``assistant.report.verdict_words``; never part of a draft again)."""


class RelatedPaper(BaseModel):
    """A passage the literature search retrieved for this run (the related-work list)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    """``paper_id#chunk_id``."""
    title: str
    """Paper title."""
    anchor: str = ""
    """Section and/or page."""


class ExperimentRecord(BaseModel):
    """What the loop decided and approved, as code recorded it: the report renders its methods from this."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    tool: str
    """The recipe that ran (``free`` for model-written cells)."""
    family: str = ""
    """What the tool tests (its card)."""
    method: str = ""
    """How the tool works (its card)."""
    conditions: list[str] = Field(default_factory=list)
    """Condition terms the tool runs (claims naming another tool's conditions are refused)."""
    other_conditions: list[str] | None = None
    """The distinctive condition terms of the other tools on offer when the run was planned (a claim naming one is
    refused). None in records made before this field: the built-in cards' terms are used."""
    knobs: dict[str, str] = Field(default_factory=dict)
    """Config fields that change what is tested, and what they mean."""
    metric_over: dict[str, Literal["seeds", "items"]] = Field(default_factory=dict)
    """For each metric template of the card: what its interval is over."""
    tool_fit: float | None = None
    """The tool's similarity to the question when it was chosen."""
    offered: bool = True
    """False when the tool was not on the question's shortlist (a plan edited by a person, a free cell)."""
    approved_config: dict[str, Any] = Field(default_factory=dict)
    """The config frozen at approval."""
    host_fields: list[str] = Field(default_factory=list)
    """Config fields the host sets (paths), not compared with the executed config."""
    approved_by: str = ""
    """Who approved the plan (a person or a policy)."""
    plan_title: str = ""
    """The approved plan's title."""
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    """The pre-registered hypotheses, resolved to metric names."""
    self_reported: bool = False
    """True when the results were written by experiment code and not scored by the host."""
    evidence: list[RelatedPaper] = Field(default_factory=list)
    """Passages the literature search retrieved."""
    notes: list[str] = Field(default_factory=list)
    """Changes code made to the plan before approval (seeds raised for claims, refused hypotheses)."""


class HypothesisResult(BaseModel):
    """A pre-registered hypothesis with the verdict code computed from the results (never model text)."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    id: str
    """``H1``, ``H2``, ..."""
    statement: str
    """The prediction as approved."""
    metric: str
    """The metric whose effect is tested."""
    baseline: str | None = None
    """The metric subtracted, for a comparison (the effect is ``metric - baseline``, paired)."""
    predicted: Literal["increase", "decrease"]
    """The predicted side of the null."""
    null: float = 0.0
    """The effect's value if the prediction is false."""
    min_effect: float = 0.0
    """Smallest effect beyond the null that counts as support."""
    estimate: float | None = None
    """The estimated effect."""
    ci_low: float | None = None
    """Lower end of its 95% interval."""
    ci_high: float | None = None
    """Upper end of its 95% interval."""
    n: int = 0
    """Seeds or items behind the interval."""
    over: Literal["seeds", "items"] | None = None
    """What the interval is over."""
    verdict: Literal["supported", "refuted", "inconclusive", "insufficient"]
    """Computed: see ``assistant.report.stats.verdict_of``."""
    method: str
    """How the interval was computed, or why there is none."""
    more_data_can_settle: bool = True
    """False when more seeds or items of the same run cannot give a verdict (the metric is not in the results, its
    values cannot be paired, or it is not finite): no follow-up of more data is proposed for it."""


class Reference(BaseModel):
    """A resolved citation as it appears in the reference list."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    key: str
    """``paper_id#chunk_id``."""
    number: int
    """Its number in the reference list (order of first citation)."""
    title: str
    """Paper title from the library."""
    year: int | None = None
    """Publication year."""
    authors: list[str] = Field(default_factory=list)
    """Authors, as the library has them."""
    arxiv_id: str | None = None
    """arXiv identifier where known."""
    url: str | None = None
    """A link to the paper."""
    anchor: str | None = None
    """Where in the paper the chunk sits (section, page)."""


class FigureRef(BaseModel):
    """A figure of the report: one listed in results.json or one ara drew from the results."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    name: str
    """Name used by ``{{ figure:<name> }}``."""
    path: str
    """Path relative to the run directory."""
    caption: str
    """Caption shown under it."""
    origin: Literal["results", "generated"]
    """``results``: written by the tool; ``generated``: drawn by the report module from the numbers."""


class Provenance(BaseModel):
    """Where a run's numbers came from: code, model, prompts, packages, seeds, cost, sandbox."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    run_id: str
    """The run's id (its directory name)."""
    tool: str = ""
    """The research tool that wrote results.json."""
    workspace_commit: str | None = None
    """Commit of the workspace repository at report time."""
    workspace_dirty: bool | None = None
    """True when the workspace had uncommitted changes."""
    model: str | None = None
    """LLM model name(s) used by the run."""
    endpoint: str | None = None
    """LLM endpoint(s)."""
    prompt_hashes: dict[str, str] = Field(default_factory=dict)
    """Prompt template name -> sha256."""
    packages: dict[str, str] = Field(default_factory=dict)
    """Package versions the experiment ran with."""
    seeds: list[int] = Field(default_factory=list)
    """Random seeds."""
    data_hash: str | None = None
    """Hash of the data the experiment used."""
    wall_time_s: float | None = None
    """Wall time of the scored experiment: its host steps and the kernel cell that wrote its results (not earlier
    failed cells, follow-ups or model calls; see ``run_time_s``)."""
    run_time_s: float | None = None
    """The whole run, from its first logged event to its last (planning, every cell, debugging, the report, and any
    wait for a person's approval or a resume)."""
    cells_run: int = 0
    """Kernel cells the run executed (a cell reused from a cache on resume, or refused before it ran, not counted)."""
    cell_time_s: float = 0.0
    """Their summed wall time."""
    cells_failed: int = 0
    """Of them, those that did not finish ok (error, timeout, ...)."""
    prompt_tokens: int | None = None
    """LLM prompt tokens over the run."""
    completion_tokens: int | None = None
    """LLM completion tokens over the run."""
    cost_usd: float | None = None
    """Cost where a price is known."""
    sandbox: dict[str, str] = Field(default_factory=dict)
    """Sandbox settings (isolation, limits)."""
    notes: list[str] = Field(default_factory=list)
    """Anything odd met while collecting (malformed event lines)."""


class Offender(BaseModel):
    """One problem the checker found, with where it is."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    kind: OffenderKind
    """What sort of problem."""
    location: str
    """``section:line:column`` in the model's text, or the field (``cited_keys[2]``, ``figures.loss``)."""
    text: str
    """The offending text (numeral, key, placeholder)."""
    message: str
    """What is wrong and what to do."""


class CheckResult(BaseModel):
    """The outcome of ``check_report``: ``ok`` only with no offenders."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    ok: bool
    """True when every number, citation and claim was traced and nothing else failed."""
    checked: list[str] = Field(default_factory=list)
    """What the checker checked, in words (shown in the banner)."""
    not_checked: list[str] = Field(default_factory=list)
    """What it could not check, in words (shown in the banner)."""
    offenders: list[Offender] = Field(default_factory=list)
    """Everything that failed the check."""
    warnings: list[str] = Field(default_factory=list)
    """Things a reader should know that do not fail the check (NaN metrics, truncated text)."""
    placeholders_filled: int = 0
    """Numbers, tables and figures filled from results.json."""
    numerals_traced: int = 0
    """Numerals in model prose that match a result, config value or cited year."""
    citations_resolved: int = 0
    """Citation keys the resolver knew."""


class Report(BaseModel):
    """A complete write-up of one run. Numbers live in ``results``; prose holds placeholders only."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, ser_json_inf_nan="constants")

    schema_: str = Field(default=REPORT_SCHEMA, alias="schema")
    """``ara.report/1``."""
    run_id: str
    """The run this report describes."""
    title: str
    """Title (from results.json, else the question)."""
    question: str
    """The research question (from the run, not from the model)."""
    summary: str = ""
    """Rendered by code: the computed verdicts and the accepted claims (placeholders for numbers)."""
    methods: str = ""
    """Rendered by code from the executed config and the tool's card."""
    rationale: str = ""
    """Model-written: why the design tests the question."""
    results_discussion: str = ""
    """Rendered by code: the accepted claims with the evidence they rest on."""
    limitations: str = ""
    """Model-written limitations and the critic's confounds."""
    next_steps: str = ""
    """Model-written next steps and the critic's follow-ups."""
    hypotheses: list[HypothesisResult] = Field(default_factory=list)
    """Pre-registered hypotheses with their computed verdicts."""
    claims: list[CheckedClaim] = Field(default_factory=list)
    """The model's claims, accepted or dropped with the reason."""
    experiment: ExperimentRecord | None = None
    """What was approved and run (None for a report built from results alone)."""
    tree: ExperimentTreeReport | None = None
    """The run's experiments and follow-ups, and which result answered which hypothesis (None: one experiment)."""
    cited_keys: list[str] = Field(default_factory=list)
    """Keys the draft listed (in-text citations are found in the prose)."""
    references: list[Reference] = Field(default_factory=list)
    """Resolved references, numbered."""
    figures: list[FigureRef] = Field(default_factory=list)
    """Figures, tool-made then generated."""
    results: ResultsDocument
    """The snapshot of results.json the report was built from."""
    provenance: Provenance
    """Where the numbers came from."""
    check: CheckResult | None = None
    """The check made when the report was built; None = never checked."""
    created_at: datetime
    """When the report was built (UTC)."""

    @property
    def verified(self) -> bool:
        """True when the report was checked and nothing failed."""
        return self.check is not None and self.check.ok

    def section(self, name: SectionName) -> str:
        """The text of one section."""
        text: str = getattr(self, name)
        return text

    def to_draft(self) -> ReportDraft:
        """The model-written part again, e.g. to rebuild the report against newer results."""
        return ReportDraft(
            claims=[c.claim for c in self.claims if c.source == "claim"],
            rationale=self.rationale,
            limitations=self.limitations,
            next_steps=self.next_steps,
            cited_keys=self.cited_keys,
        )
