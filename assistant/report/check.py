"""The checker: every number and citation in a report must trace back to the run and the paper library.

Covers: placeholders naming metrics, tables and figures that exist; numerals the model typed itself, which must
match a result, a config value or a cited paper's year at the precision written; citation keys of the right
form that the resolver knows; arXiv ids of the right form that exist in an id -> title index (when one is
given) under the cited title; figure files that can be embedded; and results.json unchanged since the report
was built. Each failure is an ``Offender`` with its location. Does not cover rendering.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from assistant.report.citations import KEY_RE, CitationResolver
from assistant.report.figures import read_figure
from assistant.report.model import MODEL_TEXT, CheckResult, Offender, Report
from assistant.report.prose import ARXIV_MENTION_RE, LineIndex, NumberSet, cite_keys, numerals, placeholders
from assistant.report.results import METRIC_FIELDS, Metric, ResultsDocument, format_number
from tools.papers.ids import ArxivTitleIndex, check_arxiv_id
from tools.papers.models import UnknownCitationError

TRUNCATION_MARK = "[truncated by ara:"


def _position(offender: Offender) -> tuple[int, int]:
    _, line, col = offender.location.split(" ")[0].rsplit(":", 2)
    return int(line), int(col)


def prose_fields(report: Report) -> Iterator[tuple[str, str]]:
    """Every model-written text the report shows as its own words (accepted claims, rationale, limitations,
    next steps) as ``(location prefix, text)``, in document order. Code-written sections are not scanned."""
    for i, checked in enumerate(report.claims):
        if checked.accepted:
            yield f"claims[{i}].statement", checked.claim.statement
    for name in MODEL_TEXT:
        yield name, str(getattr(report, name))


def split_metric_ref(arg: str, metrics: Mapping[str, Metric]) -> tuple[str, str | None] | None:
    """``pgr.mean`` -> ``("pgr", "mean")``; ``pgr`` -> ``("pgr", None)``; None when no such metric/field."""
    name, _, field = arg.rpartition(".")
    if name and name in metrics and (field in METRIC_FIELDS or field == "ci" or metrics[name].field(field) is not None):
        return name, field
    if arg in metrics:
        return arg, None
    return None


_ID_KEYS = ("seed", "seeds", "random_state", "id", "run_id")
"""Config keys holding identifiers, not quantities: only their count is traceable (seed 7 proves nothing)."""


def _numbers(x: Any, depth: int = 0) -> Iterator[float]:
    if depth > 6:
        return
    if isinstance(x, bool):
        return
    if isinstance(x, int | float):
        yield float(x)
    elif isinstance(x, Mapping):
        for key, value in x.items():
            if str(key).lower() in _ID_KEYS:
                if isinstance(value, list | tuple):
                    yield len(value)
                continue
            yield from _numbers(value, depth + 1)
    elif isinstance(x, list | tuple):
        for value in x:
            yield from _numbers(value, depth + 1)


def traceable_numbers(
    report: Report, results: ResultsDocument, config: Mapping[str, Any] | None = None, question: str = ""
) -> NumberSet:
    """All numbers a model-typed numeral may match: results, config, seeds, wall time, cited years, and numbers
    quoted from the question itself."""
    values: list[float] = [n.value for n in numerals(question)]
    for metric in results.metrics.values():
        values.extend(_numbers(metric.model_dump(exclude={"ci"})))
        if metric.values:
            values.append(float(len(metric.values)))
        if metric.ci:
            level = "".join(ch for ch in metric.ci if ch.isdigit())
            if level:
                values += [float(level), float(level) / 100]
    for table in results.tables.values():
        values.extend(_numbers(table.rows))
    values.extend(_numbers(results.config))
    values.extend(_numbers(dict(config or {})))
    values.append(float(len(results.provenance.get("seeds") or [])))
    if isinstance(results.provenance.get("wall_time_s"), int | float):
        values.append(float(results.provenance["wall_time_s"]))
    values.extend(float(ref.year) for ref in report.references if ref.year is not None)
    return NumberSet(values)


def _dump(results: ResultsDocument) -> dict[str, str]:
    return {
        name: json.dumps(metric.model_dump(), sort_keys=True, allow_nan=True)
        for name, metric in results.metrics.items()
    }


class _Checker:
    def __init__(
        self,
        report: Report,
        results: ResultsDocument,
        resolver: CitationResolver | None,
        arxiv_index: ArxivTitleIndex | None,
        run_dir: Path | None,
        config: Mapping[str, Any] | None,
        question: str = "",
    ) -> None:
        self.report, self.results, self.resolver = report, results, resolver
        self.arxiv_index, self.run_dir = arxiv_index, run_dir
        self.config = dict(config or {})
        self.numbers = traceable_numbers(report, results, config, question)
        self.offenders: list[Offender] = []
        self.warnings: list[str] = []
        self.filled = self.traced = 0
        self.resolved: dict[str, bool] = {}
        self.figure_names = {f.name for f in report.figures}

    def flag(self, kind: Any, location: str, text: str, message: str) -> None:
        self.offenders.append(Offender(kind=kind, location=location, text=text, message=message))

    def key(self, key: str, location: str) -> None:
        if not KEY_RE.match(key):
            self.flag("citation", location, key, "not a paper_id#chunk_id key; cite only keys from the evidence")
            return
        if self.resolver is None:
            self.resolved[key] = False
            self.flag("citation", location, key, "cannot resolve: no paper library is available to check it")
            return
        if key in self.resolved:
            if not self.resolved[key]:
                self.flag("citation", location, key, "unknown citation key: the paper library does not have it")
            return
        try:
            paper = self.resolver.resolve(key).paper
        except UnknownCitationError:
            self.resolved[key] = False
            self.flag("citation", location, key, "unknown citation key: the paper library does not have it")
            return
        self.resolved[key] = True
        if paper.arxiv_id:
            self.arxiv(paper.arxiv_id, f"{location} (reference {key})", paper.title)

    def arxiv(self, arxiv_id: str, location: str, title: str | None) -> None:
        found = check_arxiv_id(arxiv_id, title=title, index=self.arxiv_index)
        if found.status == "malformed":
            self.flag("arxiv", location, arxiv_id, "not a valid arXiv id (expected e.g. 2312.09390 or 2312.09390v2)")
        elif found.status == "unknown" and self.arxiv_index is not None:
            self.flag("arxiv", location, arxiv_id, f"arXiv id not found in the index {self.arxiv_index.source}")
        elif found.status == "title-mismatch":
            self.flag("arxiv", location, arxiv_id, f"title {title!r} does not match arXiv's {found.known_titles[0]!r}")

    def prose(self, where: str, text: str) -> None:
        before = len(self.offenders)
        cut = text.find(f"\n\n*{TRUNCATION_MARK}")
        scanned = text if cut < 0 else text[:cut]  # ara's own truncation note is not model text
        lines = LineIndex(text)
        for ph in placeholders(text):
            line, col = lines.line_col(ph.start)
            loc = f"{where}:{line}:{col}"
            raw = text[ph.start : ph.end]
            if ph.kind is None:
                self.flag("placeholder", loc, raw, "unknown placeholder; use metric:, table:, figure: or cite:")
            elif ph.kind == "metric":
                if split_metric_ref(ph.arg, self.results.metrics) is None:
                    self.flag("placeholder", loc, raw, f"no metric {ph.arg!r} in results.json")
                else:
                    self.filled += 1
            elif ph.kind == "table":
                if ph.arg in self.results.tables:
                    self.filled += 1
                else:
                    self.flag("placeholder", loc, raw, f"no table {ph.arg!r} in results.json")
            elif ph.kind == "figure":
                if ph.arg in self.figure_names:
                    self.filled += 1
                else:
                    self.flag("placeholder", loc, raw, f"no figure {ph.arg!r} in the report")
            else:
                for key in cite_keys(ph.arg):
                    self.key(key, loc)
        for match in ARXIV_MENTION_RE.finditer(text):
            line, col = lines.line_col(match.start())
            self.arxiv(match.group("id"), f"{where}:{line}:{col}", None)
        for numeral in numerals(scanned):
            if self.numbers.traces(numeral):
                self.traced += 1
                continue
            line, col = lines.line_col(numeral.start)
            self.flag(
                "numeral",
                f"{where}:{line}:{col}",
                numeral.text,
                "number not traceable to results.json, the config or a cited paper; use a {{ metric:... }} "
                "placeholder or remove it",
            )
        if cut >= 0:
            line, col = lines.line_col(cut)
            self.flag(
                "section",
                f"{where}:{line}:{col}",
                where,
                "was truncated when the report was built: the reader sees only part of it",
            )
        self.offenders[before:] = sorted(self.offenders[before:], key=_position)

    def loop_checks(self) -> None:
        """What the research loop must hold to: claims with evidence, sections written, a tool that fits the
        question, and the approved config being what ran."""
        for i, checked in enumerate(self.report.claims):
            if not checked.accepted:
                self.flag("claim", f"claims[{i}]", checked.claim.statement[:200], f"dropped: {checked.reason}")
        if not self.report.limitations.strip():
            self.flag("section", "limitations", "limitations", "empty: a reviewer needs the experiment's limits")
        if not self.report.hypotheses and not any(c.accepted for c in self.report.claims):
            self.flag("empty", "summary", "summary", "no hypothesis and no accepted claim: there is nothing to verify")
        experiment = self.report.experiment
        if experiment is None:
            return
        if not experiment.offered:
            self.flag(
                "fit",
                "methods",
                experiment.tool,
                f"tool {experiment.tool!r} was not on the question's shortlist: it may not test the question",
            )
        for difference in config_differences(experiment.approved_config, self.config, experiment.host_fields):
            self.flag("config", "config.json", difference, "the executed config differs from the approved plan")

    def coverage(self) -> tuple[list[str], list[str]]:
        """What was checked and what was not, in words for the banner."""
        report = self.report
        checked = [
            f"{len(report.hypotheses)} pre-registered hypotheses with computed verdicts",
            f"{sum(c.accepted for c in report.claims)} of {len(report.claims)} claims held up by their evidence",
            f"{self.filled} values filled from results.json",
            f"{self.traced} typed numbers traced",
            f"{sum(self.resolved.values())} citations resolved",
        ]
        not_checked = []
        if report.experiment is None:
            not_checked.append("the approved plan (this report was built from results alone)")
        elif report.experiment.self_reported:
            not_checked.append("the results themselves: the experiment code wrote them, no host scorer did")
        if not report.hypotheses:
            not_checked.append("any verdict: no hypothesis was registered before the run")
        if self.resolver is None:
            not_checked.append("citations: no paper library was available")
        return checked, not_checked

    def run(self) -> CheckResult:
        if _dump(self.report.results) != _dump(self.results):
            changed = sorted(set(_dump(self.report.results).items()) ^ set(_dump(self.results).items()))
            for name in sorted({n for n, _ in changed}):
                self.flag(
                    "stale", f"results.json metrics.{name}", name, "changed since the report was built; rebuild it"
                )
        for where, text in prose_fields(self.report):
            self.prose(where, text)
        for i, key in enumerate(self.report.cited_keys):
            self.key(key, f"cited_keys[{i}]")
        for figure in self.report.figures:
            if self.run_dir is not None:
                data = read_figure(self.run_dir, figure.path)
                if data.error:
                    self.flag("figure", f"figures.{figure.name}", figure.path, data.error)
        for name, metric in self.results.metrics.items():
            bad = [
                f
                for f in ("value", "mean", "ci_low", "ci_high")
                if (v := metric.field(f)) is not None and not math.isfinite(v)
            ]
            if bad:
                shown = ", ".join(f"{f} = {format_number(metric.field(f))}" for f in bad)
                self.warnings.append(f"metric {name} has a non-finite value ({shown})")
        self.loop_checks()
        checked, not_checked = self.coverage()
        return CheckResult(
            ok=not self.offenders,
            checked=checked,
            not_checked=not_checked,
            offenders=self.offenders,
            warnings=self.warnings,
            placeholders_filled=self.filled,
            numerals_traced=self.traced,
            citations_resolved=sum(self.resolved.values()),
        )


def check_report(
    report: Report,
    results: ResultsDocument,
    resolver: CitationResolver | None,
    *,
    arxiv_index: ArxivTitleIndex | None = None,
    run_dir: Path | None = None,
    config: Mapping[str, Any] | None = None,
    question: str = "",
) -> CheckResult:
    """Check every number and citation of ``report`` against ``results`` and ``resolver``.

    Args:
        report: The report to check (its prose still holds placeholders).
        results: The run's current ``results.json``.
        resolver: The paper library (anything with ``resolve(key)``); None fails every citation.
        arxiv_index: Optional id -> title index; with it, cited arXiv ids must exist and match their title.
        run_dir: The run directory; with it, figure files are checked too.
        config: The run's ``config.json``; its numbers count as traceable, and it is compared with the config
            approved in ``report.experiment``.
        question: The question asked; numbers and model names quoted from it are not flagged.

    Returns:
        ``CheckResult`` with ``ok`` False and one ``Offender`` per problem, each with its location.
    """
    return _Checker(report, results, resolver, arxiv_index, run_dir, config, question).run()


def config_differences(approved: Mapping[str, Any], executed: Mapping[str, Any], host_fields: list[str]) -> list[str]:
    """``field: approved -> executed`` for every approved field the executed config changed (host fields aside)."""
    out = []
    for key, value in approved.items():
        if key in host_fields:
            continue
        if key not in executed:
            out.append(f"{key}: {value!r} -> (missing)")
        elif executed[key] != value:
            out.append(f"{key}: {value!r} -> {executed[key]!r}")
    return out
