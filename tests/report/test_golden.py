"""Golden tests: the fixture run's report rendered to Markdown and HTML, compared with checked-in snapshots.

Update the snapshots after an intended change with ``pytest tests/report --inline-snapshot=fix`` and review
the diff. Data URIs are replaced by their length class in the HTML snapshot (PNG bytes vary with the
matplotlib/freetype build); ``test_html_figures_are_embedded_pngs`` checks the images themselves.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from inline_snapshot import external_file, snapshot

from assistant.report import ReportDraft, build_report, render_html, render_markdown, write_report
from tests.report.conftest import NOW, RUN_ID
from tools.papers.citations import InMemoryCitations

_DATA_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def test_markdown_snapshot(run_dir: Path, good_draft: ReportDraft, resolver: InMemoryCitations) -> None:
    report = build_report(run_dir, good_draft, resolver, now=NOW)

    assert report.check is not None
    assert report.check.offenders == []
    assert report.verified is True
    assert render_markdown(report) == external_file("golden/report.md", format=".txt")


def test_html_snapshot(run_dir: Path, good_draft: ReportDraft, resolver: InMemoryCitations) -> None:
    report = build_report(run_dir, good_draft, resolver, now=NOW)

    page = _DATA_URI.sub("data:image/png;base64,<png>", render_html(report, run_dir))

    assert page == external_file("golden/report.html", format=".txt")


def test_html_figures_are_embedded_pngs(run_dir: Path, good_draft: ReportDraft, resolver: InMemoryCitations) -> None:
    report = build_report(run_dir, good_draft, resolver, now=NOW)

    uris = _DATA_URI.findall(render_html(report, run_dir))

    assert len(uris) == 2  # the tool's figure and the generated metrics figure
    for uri in uris:
        assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert (run_dir / "report_figures" / "metrics_ci.png").read_bytes().startswith(b"\x89PNG")


def test_summary_of_check_and_verdicts(run_dir: Path, good_draft: ReportDraft, resolver: InMemoryCitations) -> None:
    report = build_report(run_dir, good_draft, resolver, now=NOW)

    assert report.check is not None
    assert (report.check.placeholders_filled, report.check.numerals_traced, report.check.citations_resolved) == (
        snapshot((7, 5, 2))
    )
    assert report.check.warnings == snapshot(["metric agreement has a non-finite value (value = NaN)"])
    assert [(v.verdict, v.method) for v in report.claims] == snapshot(
        [
            ("supported", "the metric's own interval (bootstrap95, n = 10)"),
            ("inconclusive", "paired bootstrap over 10 seeds"),
        ]
    )
    assert [(r.number, r.key) for r in report.references] == [
        (1, "arxiv:2312.09390#c7"),
        (2, "arxiv:2212.03827#c2"),
    ]
    assert report.provenance.run_id == RUN_ID


def test_write_report_round_trips(run_dir: Path, good_draft: ReportDraft, resolver: InMemoryCitations) -> None:
    report = build_report(run_dir, good_draft, resolver, now=NOW)

    paths = write_report(run_dir, report)

    assert paths.markdown.read_text(encoding="utf-8") == render_markdown(report)
    assert paths.html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    reread = type(report).model_validate_json(paths.json.read_text(encoding="utf-8"))
    assert reread == report.model_copy(update={"results": reread.results})
    assert reread.results.metrics["agreement"].value != reread.results.metrics["agreement"].value  # NaN kept
    assert reread.to_draft() == good_draft
