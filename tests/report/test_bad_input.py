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
    ExperimentRecord,
    ReportDraft,
    ResultsFileError,
    build_report,
    render_html,
    render_markdown,
)
from assistant.report.build import MAX_SECTION_CHARS
from assistant.schemas import Claim, Hypothesis
from tests.report.conftest import NOW
from tools.papers.citations import InMemoryCitations
from tools.results import ResultsFileError as KernelResultsError
from tools.results import parse_results, read_results
from tools.selfreported import adopt_results


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}", 'has no \'schema\' field. Write the object with "schema": "ara.results/1"'),
        ('{"pgr": 0.9}', "has no 'schema' field"),
        ('{"schema": "ara.results/1", "metrics": {}, "figures": {"f": "f.png"}}', "measured nothing"),
        ('{"schema": "ara.results/1", "metrics": {"acc": {}}}', "measured nothing"),
        ('{"schema": "ara.results/1", "tables": {"t": {"columns": ["a"], "rows": []}}}', "measured nothing"),
        ('{"schema": "ara.results/9"}', "schema is 'ara.results/9'"),
    ],
)
def test_a_kernel_results_file_that_measured_nothing_is_not_adopted(tmp_path: Path, text: str, message: str) -> None:
    """A cell that writes ``{}`` (or numbers outside the convention) has not produced results a report can use;
    the error tells the cell what to write, without naming a module a free cell may not import."""
    kernel, out = tmp_path / "kernel", tmp_path / "out"
    kernel.mkdir()
    (kernel / "results.json").write_text(text)

    with pytest.raises(KernelResultsError) as err:
        adopt_results(kernel, out)

    assert str(err.value).startswith(str(kernel / "results.json"))
    assert message in str(err.value)
    assert not (out / "results.json").exists(), "nothing adopted"


def test_a_stored_results_file_without_schema_stays_readable(run_dir: Path) -> None:
    """Runs stored by older versions (a self-reported file once kept without its schema field) still report."""
    data = json.loads((run_dir / "results.json").read_text())
    del data["schema"]
    (run_dir / "results.json").write_text(json.dumps(data))

    assert read_results(run_dir / "results.json").metrics == parse_results(json.dumps(data), "x").metrics


def test_nan_and_inf_are_rendered_explicitly(run_dir: Path) -> None:
    _rewrite(
        run_dir, {"metrics": {"loss": {"value": math.inf}, "gap": {"mean": -math.inf}, "acc": {"value": math.nan}}}
    )
    claim = Claim(
        statement="Loss {{ metric:loss.value }}, gap {{ metric:gap }}, acc {{ metric:acc.value }}.",
        about=["loss", "gap", "acc"],
    )
    draft = ReportDraft(claims=[claim], limitations="Every metric of this run is undefined.")

    report = build_report(run_dir, draft, None, now=NOW)

    assert "- Loss **+inf**, gap **-inf**, acc **NaN**." in render_markdown(report)
    page = render_html(report, run_dir)
    assert '<span class="num nonfinite" title="results.json: metrics.loss.value">+inf</span>' in page
    assert report.check is not None
    assert sorted(report.check.warnings) == [
        "metric acc has a non-finite value (value = NaN)",
        "metric gap has a non-finite value (mean = -inf)",
        "metric loss has a non-finite value (value = +inf)",
    ]


def test_non_finite_metrics_give_no_verdict(run_dir: Path) -> None:
    _rewrite(run_dir, {"metrics": {"gap": {"mean": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 10}}})
    experiment = ExperimentRecord(
        tool="w2s",
        hypotheses=[Hypothesis(id="H1", statement="The gap is positive.", metric="gap", predicted="increase")],
    )

    report = build_report(run_dir, ReportDraft(limitations="Undefined."), None, experiment=experiment, now=NOW)

    [h1] = report.hypotheses
    assert (h1.verdict, h1.method) == ("insufficient", "the metric is NaN")
    assert "| H1 | gap \\> 0 | Insufficient evidence | the metric is NaN |" in render_markdown(report)


def test_null_per_seed_values_read_as_undefined(run_dir: Path) -> None:
    # tools.results writes NaN as null: PGR of a seed whose ceiling did not beat the weak supervisor.
    _rewrite(run_dir, {"metrics": {"pgr": {"mean": 0.4, "n": 1, "excluded": 1, "values": [0.4, None]}}})
    experiment = ExperimentRecord(
        tool="w2s",
        metric_over={"pgr": "seeds"},
        hypotheses=[Hypothesis(id="H1", statement="PGR is positive.", metric="pgr", predicted="increase")],
    )
    draft = ReportDraft(
        claims=[Claim(statement="PGR {{ metric:pgr }}.", about=["pgr"])], limitations="One seed was undefined."
    )

    report = build_report(run_dir, draft, None, experiment=experiment, now=NOW)

    assert report.results is not None
    values = report.results.metrics["pgr"].values
    assert values is not None
    assert values[0] == 0.4
    assert math.isnan(values[1])
    [h1] = report.hypotheses
    assert (h1.verdict, h1.n, h1.estimate) == ("insufficient", 1, 0.4)
    assert h1.method == "only 1 seed(s) with a defined value (at least 3 needed); 1 undefined value(s) left out"
    assert "- PGR 0.4." in render_markdown(report)
    assert report.check is not None
    assert report.check.ok, report.check.offenders


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
        ("section", "limitations"),
        ("empty", "summary"),
    ]
    page = render_html(report, run_dir)
    assert page.count('class="figure-error"') == 4
    assert "could not be embedded: path &#x27;../../secret.png&#x27; leaves the run directory" in page
    assert page.count("data:image/png;base64,") == 1  # only the generated metrics figure
    assert base64.b64encode(secret.read_bytes()).decode()[:16] not in page


def test_ten_megabyte_answer_is_truncated_and_checked_quickly(run_dir: Path, good_experiment: ExperimentRecord) -> None:
    huge = ("The student matched the supervisor on most inputs. " * 200_000)[: 10 * 1024 * 1024]
    draft = ReportDraft(
        claims=[Claim(statement="PGR {{ metric:xent.pgr }}.", about=["H1"])], limitations=huge + " 0.99"
    )

    start = time.perf_counter()
    report = build_report(run_dir, draft, None, experiment=good_experiment, now=NOW)
    markdown, page = render_markdown(report), render_html(report, run_dir)
    elapsed = time.perf_counter() - start

    assert elapsed < 10
    assert len(report.limitations) < MAX_SECTION_CHARS + 200
    assert f"[truncated by ara: this section was {len(huge) + 5} characters" in markdown
    assert "truncated by ara" in page
    assert report.check is not None
    # the cut is an offender (the reader sees part of the text); the numbers in ara's own marker are not
    assert [(o.kind, o.location) for o in report.check.offenders] == [
        ("section", f"limitations:1:{MAX_SECTION_CHARS + 1}")
    ]
    assert report.check.offenders[0].message == (
        "was truncated when the report was built: the reader sees only part of it"
    )


def test_a_claim_is_capped_by_the_schema() -> None:
    # a claim is one sentence: the structured-output schema keeps its first 600 characters
    claim = Claim(statement="x" * 10_000, about=["H1"])

    assert len(claim.statement) == 600


HOSTILE = (
    '<script>document.title="pwned"</script> <img src=x onerror="alert(1)"> '
    "[click](javascript:alert(1)) ![t](https://evil.example/track.png) </section><style>body{display:none}</style>"
)


def test_html_in_model_text_is_escaped(
    run_dir: Path, good_experiment: ExperimentRecord, resolver: InMemoryCitations
) -> None:
    draft = ReportDraft(
        claims=[
            Claim(statement=HOSTILE, about=["xent.pgr"]),  # accepted: shown once, in the discussion
            Claim(statement=HOSTILE, about=["<script>alert(1)</script>"], stance="supports"),  # dropped, listed
        ],
        rationale=HOSTILE,
        limitations=HOSTILE,
        next_steps=HOSTILE,
        cited_keys=['x"><script>#1'],
    )

    report = build_report(run_dir, draft, resolver, experiment=good_experiment, now=NOW)
    page = render_html(report, run_dir)

    assert [c.accepted for c in report.claims] == [True, False]
    body = page.split("</style>", 1)[1]
    assert "<script" not in body
    assert "<img src=x" not in body
    assert 'href="javascript:' not in body
    assert 'src="https://evil.example' not in body
    assert body.count("<style>") == 0
    # once per place model text is shown: the accepted claim, the dropped claim, rationale (in the methods),
    # limitations, next steps (the banner quotes the dropped claim escaped as well)
    assert body.count("&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;") == 6
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # the dropped claim's reason names what it rests on
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">"
    ) in page
    markdown = render_markdown(report)
    assert re.search(r"(?<!\\)<(script|img|style|/section)", markdown) is None
    assert "\\<script>" in markdown
    assert "!\\[t](https://evil.example/track.png)" in markdown
