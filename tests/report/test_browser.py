"""The HTML report in a real headless Chromium: hostile model text stays inert; PDF export works.

Skipped where no Chromium is installed (Debian: ``apt-get install -y chromium``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.report import ExperimentRecord, ReportDraft, build_report, write_report
from assistant.report.browser import dump_dom, find_chromium, html_to_pdf, screenshot
from tests.report.conftest import NOW
from tools.papers.citations import InMemoryCitations

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_chromium() is None, reason="no Chromium installed (apt-get install -y chromium)"),
]


def test_hostile_text_does_not_execute_in_chromium(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    hostile = (
        "<script>document.title='pwned'</script>"
        "<img src=x onerror=\"document.title='pwned-img'\"> <b id=injected>bold?</b>"
    )
    draft = good_draft.model_copy(update={"limitations": hostile})
    paths = write_report(run_dir, build_report(run_dir, draft, resolver, experiment=good_experiment, now=NOW))

    dom = dump_dom(paths.html)

    assert "<title>Weak-to-strong on rotten tomatoes" in dom
    assert "pwned</title>" not in dom
    assert 'id="injected"' not in dom
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    assert dom.count("<img ") == 2  # the two embedded figures only


def test_pdf_and_screenshot(
    run_dir: Path, good_draft: ReportDraft, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    paths = write_report(run_dir, build_report(run_dir, good_draft, resolver, experiment=good_experiment, now=NOW))

    pdf = html_to_pdf(paths.html, run_dir / "report.pdf")
    png = screenshot(paths.html, run_dir / "shot.png", size=(1000, 800))

    assert pdf.read_bytes().startswith(b"%PDF-")
    assert png.read_bytes().startswith(b"\x89PNG")
