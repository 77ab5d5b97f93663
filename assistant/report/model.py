"""Typed records of a write-up: the model-written ``ReportDraft``, the full ``Report``, and check outcomes.

Covers the data only. ``ReportDraft`` is what the LLM fills through structured output, so its fields carry
``Field(description=...)`` (the model reads them); the other records use attribute docstrings. Building,
checking and rendering live in ``build``, ``check``, ``render_md`` and ``render_html``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.report.results import ResultsDocument

REPORT_SCHEMA = "ara.report/1"
SectionName = Literal["summary", "methods", "results_discussion", "limitations", "next_steps"]
SECTIONS: tuple[SectionName, ...] = ("summary", "methods", "results_discussion", "limitations", "next_steps")
SECTION_TITLES: dict[str, str] = {
    "summary": "Summary",
    "methods": "Methods",
    "results_discussion": "Discussion of results",
    "limitations": "Limitations",
    "next_steps": "Next steps",
}
Verdict = Literal["supported", "inconclusive", "contradicted"]
OffenderKind = Literal["numeral", "citation", "arxiv", "placeholder", "figure", "stale"]

_NO_NUMBERS = " Numbers only through placeholders."


class DraftClaim(BaseModel):
    """One claimed effect, checked against the run's confidence intervals before it is shown."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    statement: str = Field(description="The claim in one sentence, without numbers.")
    metric: str = Field(description="Dotted name of the metric in results.json the claim is about.")
    baseline: str | None = Field(
        default=None,
        description="Dotted name of the metric it is compared with; null when `metric` is itself a difference.",
    )
    direction: Literal["increase", "decrease"] = Field(
        description="'increase' if the claim is that metric > baseline (or the difference > 0), else 'decrease'."
    )


class ReportDraft(BaseModel):
    """The write-up of one run. Never type a number: write {{ metric:<name>.<field> }} (fields: value, mean,
    ci_low, ci_high, n, ci) and it is filled from results.json; {{ table:<name> }} and {{ figure:<name> }} insert
    a table or figure; cite papers only as {{ cite:<paper_id#chunk_id> }} with keys from the evidence. Markdown
    is allowed; HTML is shown as plain text. Typed numbers that match no result mark the report unverified.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    summary: str = Field(default="", description="Two to five sentences: what was asked and found." + _NO_NUMBERS)
    methods: str = Field(default="", description="How the experiment was run." + _NO_NUMBERS)
    results_discussion: str = Field(default="", description="What the results show and do not show." + _NO_NUMBERS)
    limitations: str = Field(default="", description="Threats to validity, what was not tested." + _NO_NUMBERS)
    next_steps: str = Field(default="", description="Concrete follow-up experiments." + _NO_NUMBERS)
    claims: list[DraftClaim] = Field(
        default_factory=list, description="Effects you claim; each is shown as supported or inconclusive by its CI."
    )
    cited_keys: list[str] = Field(
        default_factory=list, description="Every paper_id#chunk_id key the report relies on (from the evidence)."
    )


class ClaimVerdict(BaseModel):
    """A draft claim with the verdict its confidence interval supports."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    claim: DraftClaim
    """The claim as the model wrote it."""
    verdict: Verdict
    """``supported`` only when the CI excludes zero in the claimed direction."""
    estimate: float | None = None
    """The estimated difference (or the metric itself when it is a difference)."""
    ci_low: float | None = None
    """Lower end of the difference's 95% interval."""
    ci_high: float | None = None
    """Upper end of the difference's 95% interval."""
    method: str
    """How the interval was obtained, or why there is none."""


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
    """Experiment wall time."""
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
    """True when every number and citation was traced."""
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
    """Model-written summary with placeholders."""
    methods: str = ""
    """Model-written methods with placeholders."""
    results_discussion: str = ""
    """Model-written discussion with placeholders."""
    limitations: str = ""
    """Model-written limitations."""
    next_steps: str = ""
    """Model-written next steps."""
    claims: list[ClaimVerdict] = Field(default_factory=list)
    """Claims with their verdicts."""
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
        """The model-written text of one section."""
        text: str = getattr(self, name)
        return text

    def to_draft(self) -> ReportDraft:
        """The model-written part again, e.g. to rebuild the report against newer results."""
        return ReportDraft(
            summary=self.summary,
            methods=self.methods,
            results_discussion=self.results_discussion,
            limitations=self.limitations,
            next_steps=self.next_steps,
            claims=[c.claim for c in self.claims],
            cited_keys=self.cited_keys,
        )
