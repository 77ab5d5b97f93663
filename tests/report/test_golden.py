"""Golden tests: the fixture run's report rendered to Markdown and HTML, compared with checked-in snapshots.

Update the snapshots after an intended change with ``pytest tests/report --inline-snapshot=fix`` and review
the diff. Data URIs are replaced by their length class in the HTML snapshot (PNG bytes vary with the
matplotlib/freetype build); ``test_html_figures_are_embedded_pngs`` checks the images themselves.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from inline_snapshot import external_file, snapshot

from assistant.report import (
    ExperimentRecord,
    Report,
    ReportDraft,
    build_report,
    render_html,
    render_markdown,
    write_report,
)
from tests.report.conftest import NOW, RUN_ID
from tools.papers.citations import InMemoryCitations


@pytest.fixture
def report(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> Report:
    return build_report(run_dir, good_draft, resolver, experiment=good_experiment, now=NOW)


_DATA_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def test_markdown_snapshot(report: Report) -> None:
    assert report.check is not None
    assert report.check.offenders == []
    assert report.verified is True
    assert render_markdown(report) == external_file("golden/report.md", format=".txt")


def test_html_snapshot(run_dir: Path, report: Report) -> None:
    page = _DATA_URI.sub("data:image/png;base64,<png>", render_html(report, run_dir))

    assert page == external_file("golden/report.html", format=".txt")


def test_html_figures_are_embedded_pngs(run_dir: Path, report: Report) -> None:
    uris = _DATA_URI.findall(render_html(report, run_dir))

    assert len(uris) == 2  # the tool's figure and the generated metrics figure
    for uri in uris:
        assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert (run_dir / "report_figures" / "metrics_ci.png").read_bytes().startswith(b"\x89PNG")


def test_summary_of_check_and_verdicts(report: Report) -> None:
    assert report.check is not None
    assert (report.check.placeholders_filled, report.check.numerals_traced, report.check.citations_resolved) == (
        snapshot((5, 5, 2))
    )
    assert report.check.warnings == snapshot(["metric agreement has a non-finite value (value = NaN)"])
    # checked by hand: H1 keeps the tool's own interval (the one in the results table); H2 is the mean of the ten
    # paired differences
    # (aux_conf - xent per seed, the fixture's aux_conf.pgr_gain values); both intervals agree with an independent
    # 200,000-resample bootstrap to three decimals
    assert [
        (h.id, h.verdict, round(h.estimate or 0, 4), round(h.ci_low or 0, 4), round(h.ci_high or 0, 4), h.n, h.method)
        for h in report.hypotheses
    ] == [
        ("H1", "supported", 0.278, 0.223, 0.333, 10, "the tool's own interval (bootstrap95, n = 10 seeds)"),
        ("H2", "inconclusive", 0.016, -0.002, 0.033, 10, "paired percentile bootstrap over 10 seeds"),
    ]
    assert [(c.accepted, c.reason) for c in report.claims] == [
        (True, "matches the computed verdicts of H1"),
        (True, "matches the computed verdicts of H2"),
        (True, ""),
    ]
    assert [(r.number, r.key) for r in report.references] == [
        (1, "arxiv:2312.09390#c7"),
        (2, "arxiv:2212.03827#c2"),
    ]
    assert report.provenance.run_id == RUN_ID


def test_write_report_round_trips(run_dir: Path, good_draft: ReportDraft, report: Report) -> None:
    paths = write_report(run_dir, report)

    assert paths.markdown.read_text(encoding="utf-8") == render_markdown(report)
    assert paths.html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    reread = type(report).model_validate_json(paths.json.read_text(encoding="utf-8"))
    assert reread == report.model_copy(update={"results": reread.results})
    assert reread.results.metrics["agreement"].value != reread.results.metrics["agreement"].value  # NaN kept
    assert reread.to_draft() == good_draft
    assert reread.experiment is not None
    assert reread.experiment.hypotheses == report.experiment.hypotheses
