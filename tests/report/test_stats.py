"""Honest statistics: a claimed improvement whose interval does not exclude zero is rendered inconclusive."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from assistant.report import (
    DraftClaim,
    Metric,
    ReportDraft,
    ResultsDocument,
    build_report,
    render_html,
    render_markdown,
)
from assistant.report.stats import bootstrap_diff, judge_claim
from tests.report.conftest import NOW
from tools.papers.citations import InMemoryCitations


def test_non_significant_improvement_is_rendered_inconclusive(run_dir: Path, resolver: InMemoryCitations) -> None:
    draft = ReportDraft(
        claims=[
            DraftClaim(
                statement="The auxiliary confidence loss improves PGR.",
                metric="aux_conf.pgr_gain",
                direction="increase",
            )
        ]
    )

    report = build_report(run_dir, draft, resolver, now=NOW)

    [verdict] = report.claims
    assert verdict.verdict == "inconclusive"
    assert verdict.ci_low is not None
    assert verdict.ci_low < 0 < (verdict.ci_high or 0)
    assert (
        "- **Inconclusive.** The auxiliary confidence loss improves PGR. "
        "(estimate 0.016; 95% CI \\[-0.002, 0.033\\]; the metric's own interval \\(bootstrap95, n = 10\\))"
    ) in render_markdown(report)
    assert '<span class="verdict inconclusive">Inconclusive</span> The auxiliary confidence loss improves PGR.' in (
        render_html(report, run_dir)
    )
    assert "Supported" not in render_markdown(report)


def _results(**metrics: Metric) -> ResultsDocument:
    return ResultsDocument(metrics=metrics)


def _claim(metric: str, baseline: str | None = None, direction: str = "increase") -> DraftClaim:
    return DraftClaim(statement="x", metric=metric, baseline=baseline, direction=direction)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("metric", "direction", "verdict"),
    [
        (Metric(mean=0.3, ci_low=0.1, ci_high=0.5, n=5), "increase", "supported"),
        (Metric(mean=0.3, ci_low=0.1, ci_high=0.5, n=5), "decrease", "contradicted"),
        (Metric(mean=-0.3, ci_low=-0.5, ci_high=-0.1, n=5), "decrease", "supported"),
        (Metric(mean=0.1, ci_low=-0.1, ci_high=0.3, n=5), "increase", "inconclusive"),
        (Metric(mean=0.1, ci_low=0.0, ci_high=0.3, n=5), "increase", "inconclusive"),
        (Metric(value=0.4), "increase", "inconclusive"),
        (Metric(mean=math.nan, ci_low=math.nan, ci_high=math.nan), "increase", "inconclusive"),
        (Metric(values=[0.2, 0.3, 0.25, 0.22]), "increase", "supported"),
        (Metric(values=[0.2, -0.3, 0.25, -0.22]), "increase", "inconclusive"),
    ],
)
def test_difference_metric_verdicts(metric: Metric, direction: str, verdict: str) -> None:
    assert judge_claim(_claim("d", direction=direction), _results(d=metric)).verdict == verdict


def test_paired_bootstrap_over_seeds() -> None:
    better = Metric(values=[0.30, 0.41, 0.28, 0.50, 0.33], mean=0.364)
    base = Metric(values=[0.20, 0.35, 0.18, 0.42, 0.27], mean=0.284)

    outcome = judge_claim(_claim("new", "old"), _results(new=better, old=base))

    assert outcome.verdict == "supported"
    assert outcome.method == "paired bootstrap over 5 seeds"
    assert outcome.estimate == pytest.approx(0.08)
    assert outcome.ci_low is not None
    assert 0.05 < outcome.ci_low < 0.08


def test_unpaired_bootstrap_and_interval_overlap() -> None:
    a = Metric(values=[0.5, 0.6, 0.55], mean=0.55, ci_low=0.5, ci_high=0.6)
    b = Metric(values=[0.1, 0.2], mean=0.15, ci_low=0.1, ci_high=0.2)
    assert judge_claim(_claim("a", "b"), _results(a=a, b=b)).method == "unpaired bootstrap (3 vs 2 values)"

    no_values_apart = judge_claim(
        _claim("a", "b"),
        _results(a=Metric(mean=0.55, ci_low=0.5, ci_high=0.6), b=Metric(mean=0.15, ci_low=0.1, ci_high=0.2)),
    )
    no_values_overlap = judge_claim(
        _claim("a", "b"),
        _results(a=Metric(mean=0.3, ci_low=0.1, ci_high=0.6), b=Metric(mean=0.15, ci_low=0.1, ci_high=0.2)),
    )
    assert (no_values_apart.verdict, no_values_overlap.verdict) == ("supported", "inconclusive")
    assert no_values_apart.method.startswith("non-overlap")


def test_unknown_metrics_are_inconclusive_with_reason() -> None:
    outcome = judge_claim(_claim("ghost", "also_ghost"), _results())
    assert (outcome.verdict, outcome.method) == ("inconclusive", "metric 'ghost' is not in results")


def test_bootstrap_is_deterministic() -> None:
    assert bootstrap_diff([1.0, 2.0, 3.0], [0.5, 1.0, 1.0]) == bootstrap_diff([1.0, 2.0, 3.0], [0.5, 1.0, 1.0])
