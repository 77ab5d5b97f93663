"""Build a ``Report`` from a run directory and a model-written draft; write it next to the run's results.

Covers ``build_report`` (read results.json/config.json, compute the hypotheses' verdicts, check the claims, render
the code-written sections, resolve citations, draw the metrics figure, collect provenance, run the checker), ``write_report`` (report.md, report.html, report.json, written
atomically) and ``load_report``. Does not cover the LLM call that writes the draft (the research loop does).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from assistant.cards import family_sizes, metric_pattern
from assistant.report.check import check_report, prose_fields
from assistant.report.citations import KEY_RE, CitationResolver, reference_from
from assistant.report.claims import check_claims
from assistant.report.compose import discussion_markdown, methods_markdown, summary_markdown
from assistant.report.errors import ReportError
from assistant.report.figures import draw_metrics_figure
from assistant.report.guide import NO_CITATIONS
from assistant.report.model import (
    CheckedClaim,
    ExperimentRecord,
    FigureRef,
    HypothesisResult,
    Reference,
    Report,
    ReportDraft,
)
from assistant.report.prose import cite_keys, placeholders
from assistant.report.provenance import collect_provenance
from assistant.report.render_html import render_html
from assistant.report.render_md import render_markdown
from assistant.report.results import ResultsDocument, load_config, load_results
from assistant.report.stats import evaluate_hypothesis
from assistant.report.tree import ExperimentTreeReport
from assistant.report.verdict_words import Contradiction, drop_contradictions
from assistant.schemas import Claim
from tools.papers.ids import ArxivTitleIndex
from tools.papers.models import UnknownCitationError
from tools.runfiles import RunFileError, RunFiles

MAX_REPORT_BYTES = 64 * 1024 * 1024
"""Largest ``report.json`` read back."""
MAX_SECTION_CHARS = 100_000
"""Model text kept per section; the rest is cut with a visible marker (a 10 MB answer is not a report)."""


class ReportPaths(NamedTuple):
    """Files ``write_report`` wrote."""

    markdown: Path
    html: Path
    json: Path


def _truncate(text: str) -> str:
    if len(text) <= MAX_SECTION_CHARS:
        return text
    return text[:MAX_SECTION_CHARS] + (
        f"\n\n*[truncated by ara: this section was {len(text)} characters; the first {MAX_SECTION_CHARS} are shown]*"
    )


def _references(report: Report, resolver: CitationResolver | None) -> list[Reference]:
    keys: list[str] = []
    dropped = [c.claim.statement for c in report.claims if not c.accepted]  # shown struck through, links intact
    for text in [*(t for _, t in prose_fields(report)), *dropped]:
        for ph in placeholders(text):
            if ph.kind == "cite":
                keys.extend(cite_keys(ph.arg))
    keys.extend(report.cited_keys)
    refs: list[Reference] = []
    seen: set[str] = set()
    if resolver is None:
        return refs
    for key in keys:
        if key in seen or not KEY_RE.match(key):
            continue
        seen.add(key)
        try:
            citation = resolver.resolve(key)
        except UnknownCitationError:
            continue
        refs.append(reference_from(len(refs) + 1, citation))
    return refs


def evaluate_hypotheses(results: ResultsDocument, experiment: ExperimentRecord | None) -> list[HypothesisResult]:
    """The computed verdicts of the experiment's pre-registered hypotheses (families Bonferroni-adjusted)."""
    if experiment is None or not experiment.hypotheses:
        return []
    sizes = family_sizes(experiment.hypotheses)
    out = []
    for hypothesis in experiment.hypotheses:
        over = next(
            (
                o
                for template, o in experiment.metric_over.items()
                if metric_pattern(template).fullmatch(hypothesis.metric)
            ),
            None,
        )
        out.append(evaluate_hypothesis(hypothesis, results, over=over, family=sizes[hypothesis.id]))
    return out


def cited_keys(keys: list[str]) -> list[str]:
    """The draft's cited keys without the entries that cite nothing: blank ones, "none", and the guide's own
    empty-evidence marker echoed back. Every other key, malformed or not, is kept for the check to judge."""
    empty = {"", "none", NO_CITATIONS.lower()}
    return [key for key in keys if key.strip().lower() not in empty]


def _dropped_sentence(sentence: str, found: Contradiction, section: str) -> CheckedClaim:
    """A sentence of the model's prose that states another verdict, listed with the rejected claims."""
    claim = Claim(statement=sentence[:600], about=found.hypotheses, stance="describes")
    reason = f"{found.why}; dropped from the {section.replace('_', ' ')}"
    return CheckedClaim(claim=claim, accepted=False, reason=reason, source="prose")


def build_report(
    run_dir: Path,
    draft: ReportDraft,
    resolver: CitationResolver | None,
    *,
    question: str | None = None,
    experiment: ExperimentRecord | None = None,
    arxiv_index: ArxivTitleIndex | None = None,
    now: datetime | None = None,
    tree: ExperimentTreeReport | None = None,
    verdicts: list[HypothesisResult] | None = None,
) -> Report:
    """Build and check the report of the run in ``run_dir`` from the model's ``draft``.

    Args:
        run_dir: ``<workspace>/runs/<run_id>`` holding results.json (required), config.json, events.jsonl.
        draft: The model-written claims, rationale, limitations, next steps and cited keys.
        resolver: The paper library (``tools.papers.PaperLibrary`` or any ``CitationResolver``); None when the
            run has no library (every citation then fails the check).
        question: The research question; default: ``question`` in config.json, else the results title.
        experiment: What the loop approved and ran (hypotheses, approved config, tool card); None for a report
            built from results alone (no verdicts, no config comparison).
        arxiv_index: Optional arXiv id -> title index for existence and title checks.
        now: Build time (tests pass a fixed one).
        tree: The run's experiments and follow-ups (several experiments or follow-ups ran), or None.
        verdicts: The hypotheses' verdicts when the loop computed them across the tree (each from the experiment
            that answered it, on metrics of the merged results.json); None computes them from ``experiment``.

    Raises:
        ResultsFileError: results.json/config.json missing or malformed (the message names the file).
    """
    results = load_results(run_dir / "results.json")
    config = load_config(run_dir / "config.json")
    asked = question or config.get("question") or results.config.get("question") or results.title
    asked = str(asked) if asked else "(the question was not recorded with this run)"
    figures = [
        FigureRef(name=name, path=path, caption=name.replace("_", " "), origin="results")
        for name, path in results.figures.items()
    ]
    generated = draw_metrics_figure(results, run_dir)
    if generated is not None and generated.name not in results.figures:
        figures.append(generated)
    claims = [c.model_copy(update={"statement": _truncate(c.statement)}) for c in draft.claims]
    hypotheses = verdicts if verdicts is not None else evaluate_hypotheses(results, experiment)
    checked = check_claims(claims, results, hypotheses, experiment)
    verdict_of = {h.id: h.verdict for h in hypotheses}
    prose: dict[str, str] = {}
    for section in ("rationale", "limitations", "next_steps"):
        prose[section], dropped = drop_contradictions(_truncate(getattr(draft, section)), verdict_of)
        checked += [_dropped_sentence(sentence, why, section) for sentence, why in dropped]
    rationale = prose["rationale"]
    methods = methods_markdown(experiment, config, results)
    if rationale.strip():
        methods += f"\n\n**Rationale** (the model's words): {rationale}"
    report = Report(
        run_id=run_dir.name,
        title=(results.title or asked)[:300],
        question=asked,
        summary=summary_markdown(
            hypotheses, checked, experiment, results.verification.red_flags if results.verification else ()
        ),
        methods=methods,
        rationale=rationale,
        results_discussion=discussion_markdown(checked),
        limitations=prose["limitations"],
        next_steps=prose["next_steps"],
        hypotheses=hypotheses,
        claims=checked,
        experiment=experiment,
        tree=tree,
        cited_keys=cited_keys(draft.cited_keys),
        figures=figures,
        results=results,
        provenance=collect_provenance(run_dir, results, config),
        created_at=now or datetime.now(UTC),
    )
    report = report.model_copy(update={"references": _references(report, resolver)})
    check = check_report(
        report, results, resolver, arxiv_index=arxiv_index, run_dir=run_dir, config=config, question=asked
    )
    return report.model_copy(update={"check": check})


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (a reader never sees half a file).

    Through ``tools.runfiles``: a link planted under the name is replaced, never written through.
    """
    with RunFiles(path.parent, create=True) as files:
        files.write_text(path.name, text, fsync=False)


def write_report(run_dir: Path, report: Report, *, formats: tuple[str, ...] = ("md", "html")) -> ReportPaths:
    """Write report.md and report.html (and always report.json, the typed report) into ``run_dir``."""
    paths = ReportPaths(run_dir / "report.md", run_dir / "report.html", run_dir / "report.json")
    atomic_write(paths.json, report.model_dump_json(by_alias=True, indent=2))
    if "md" in formats:
        atomic_write(paths.markdown, render_markdown(report))
    if "html" in formats:
        atomic_write(paths.html, render_html(report, run_dir))
    return paths


def load_report(run_dir: Path) -> Report:
    """Read ``report.json`` from a run directory.

    Raises:
        ReportError: the file is missing or not a valid ``ara.report/1`` report.
    """
    path = run_dir / "report.json"
    try:
        with RunFiles(run_dir) as files:
            text = files.read_text("report.json", limit=MAX_REPORT_BYTES)
    except FileNotFoundError:
        raise ReportError(
            f"{path} not found: no report was written for this run. Run 'ara report {run_dir.name}'."
        ) from None
    except RunFileError as err:
        raise ReportError(f"{err}. Rebuild the report with 'ara report {run_dir.name}'.") from err
    try:
        return Report.model_validate_json(text)
    except ValidationError as err:
        raise ReportError(
            f"{path} is not a valid report ({err.error_count()} problem(s), first: {err.errors()[0]['msg']}). "
            f"Rebuild it with 'ara report {run_dir.name}'."
        ) from err
