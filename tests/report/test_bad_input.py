"""Bad input: missing or malformed results, NaN/inf, broken figures, huge answers, hostile model text."""

from __future__ import annotations

import base64
import json
import math
import re
import time
from pathlib import Path

import pytest

from assistant.report import (
    ReportDraft,
    ResultsFileError,
    build_report,
    render_html,
    render_markdown,
)
from assistant.report.build import MAX_SECTION_CHARS
from tests.report.conftest import NOW
from tools.papers.citations import InMemoryCitations


def _rewrite(run_dir: Path, change: dict[str, object]) -> None:
    data = json.loads((run_dir / "results.json").read_text())
    data.update(change)
    (run_dir / "results.json").write_text(json.dumps(data))


def test_missing_results_names_the_file(run_dir: Path) -> None:
    (run_dir / "results.json").unlink()

    with pytest.raises(ResultsFileError) as err:
        build_report(run_dir, ReportDraft(), None)

    assert str(err.value).startswith(f"{run_dir / 'results.json'} not found: the run wrote no results.json.")
    assert "re-run the experiment" in str(err.value)


def test_malformed_json_names_line(run_dir: Path) -> None:
    (run_dir / "results.json").write_text('{"schema": "ara.results/1",\n "metrics": {oops}}')

    with pytest.raises(ResultsFileError, match=r"results.json is not valid JSON \(line 2, column 14"):
        build_report(run_dir, ReportDraft(), None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema": "ara.results/0"}, "schema is 'ara.results/0'; this version of ara reads 'ara.results/1'"),
        ({"metrics": {"acc": {"mean": "high"}}}, "metrics.acc.mean: Input should be a valid number"),
        ({"tables": {"t": {"columns": ["a", "b"], "rows": [[1]]}}}, "tables.t: Value error, row 0 has 1 cells"),
    ],
)
def test_schema_errors_name_the_field(run_dir: Path, change: dict[str, object], message: str) -> None:
    _rewrite(run_dir, change)

    with pytest.raises(ResultsFileError) as err:
        build_report(run_dir, ReportDraft(), None)

    assert "does not follow ara.results/1" in str(err.value)
    assert message in str(err.value)


def test_results_that_are_not_an_object(run_dir: Path) -> None:
    (run_dir / "results.json").write_text("[1, 2]")

    with pytest.raises(ResultsFileError, match=r"must hold a JSON object following ara\.results/1, not list"):
        build_report(run_dir, ReportDraft(), None)


def test_nan_and_inf_are_rendered_explicitly(run_dir: Path) -> None:
    _rewrite(
        run_dir, {"metrics": {"loss": {"value": math.inf}, "gap": {"mean": -math.inf}, "acc": {"value": math.nan}}}
    )
    draft = ReportDraft(summary="Loss {{ metric:loss.value }}, gap {{ metric:gap }}, acc {{ metric:acc.value }}.")

    report = build_report(run_dir, draft, None, now=NOW)

    assert "Loss **+inf**, gap **-inf**, acc **NaN**." in render_markdown(report)
    page = render_html(report, run_dir)
    assert '<span class="num nonfinite" title="results.json: metrics.loss.value">+inf</span>' in page
    assert report.check is not None
    assert sorted(report.check.warnings) == [
        "metric acc has a non-finite value (value = NaN)",
        "metric gap has a non-finite value (mean = -inf)",
        "metric loss has a non-finite value (value = +inf)",
    ]


def test_null_per_seed_values_read_as_undefined(run_dir: Path) -> None:
    # tools.results writes NaN as null: PGR of a seed whose ceiling did not beat the weak supervisor.
    _rewrite(run_dir, {"metrics": {"pgr": {"mean": 0.4, "n": 1, "excluded": 1, "values": [0.4, None]}}})

    report = build_report(run_dir, ReportDraft(summary="PGR {{ metric:pgr }}."), None, now=NOW)

    assert report.results is not None
    values = report.results.metrics["pgr"].values
    assert values is not None
    assert values[0] == 0.4
    assert math.isnan(values[1])
    assert "PGR 0.4." in render_markdown(report)
    assert report.check is not None
    assert report.check.ok


def test_broken_figures_are_flagged_not_fatal(run_dir: Path) -> None:
    (run_dir / "figures" / "corrupt.png").write_bytes(b"not a png at all")
    secret = run_dir.parent.parent / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n secret")
    _rewrite(
        run_dir,
        {
            "figures": {
                "corrupt": "figures/corrupt.png",
                "gone": "figures/gone.png",
                "escape": "../../secret.png",
                "abs": str(secret),
            }
        },
    )

    report = build_report(run_dir, ReportDraft(), None, now=NOW)

    assert report.check is not None
    assert [(o.kind, o.location) for o in report.check.offenders] == [
        ("figure", "figures.corrupt"),
        ("figure", "figures.gone"),
        ("figure", "figures.escape"),
        ("figure", "figures.abs"),
    ]
    page = render_html(report, run_dir)
    assert page.count('class="figure-error"') == 4
    assert "could not be embedded: path &#x27;../../secret.png&#x27; leaves the run directory" in page
    assert page.count("data:image/png;base64,") == 1  # only the generated metrics figure
    assert base64.b64encode(secret.read_bytes()).decode()[:16] not in page


def test_ten_megabyte_answer_is_truncated_and_checked_quickly(run_dir: Path) -> None:
    huge = ("The student matched the supervisor on most inputs. " * 200_000)[: 10 * 1024 * 1024]
    draft = ReportDraft(results_discussion=huge + " 0.99")

    start = time.perf_counter()
    report = build_report(run_dir, draft, None, now=NOW)
    markdown, page = render_markdown(report), render_html(report, run_dir)
    elapsed = time.perf_counter() - start

    assert elapsed < 10
    assert len(report.results_discussion) < MAX_SECTION_CHARS + 200
    assert f"[truncated by ara: this section was {len(huge) + 5} characters" in markdown
    assert "truncated by ara" in page
    assert report.check is not None
    assert "results_discussion was truncated when the report was built" in report.check.warnings


HOSTILE = (
    '<script>document.title="pwned"</script> <img src=x onerror="alert(1)"> '
    "[click](javascript:alert(1)) ![t](https://evil.example/track.png) </section><style>body{display:none}</style>"
)


def test_html_in_model_text_is_escaped(run_dir: Path, resolver: InMemoryCitations) -> None:
    draft = ReportDraft(summary=HOSTILE, limitations=HOSTILE, claims=[], cited_keys=['x"><script>#1'])

    report = build_report(run_dir, draft, resolver, now=NOW)
    page = render_html(report, run_dir)

    body = page.split("</style>", 1)[1]
    assert "<script" not in body
    assert "<img src=x" not in body
    assert 'href="javascript:' not in body
    assert 'src="https://evil.example' not in body
    assert body.count("<style>") == 0
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;" in body
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">"
    ) in page
    markdown = render_markdown(report)
    assert re.search(r"(?<!\\)<(script|img|style|/section)", markdown) is None
    assert "\\<script>" in markdown
    assert "!\\[t](https://evil.example/track.png)" in markdown
