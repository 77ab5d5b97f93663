"""Honest statistics for claims: a claimed effect is "supported" only when its 95% interval excludes zero.

Covers turning a ``DraftClaim`` into a ``ClaimVerdict``: from a difference metric's own interval, from a
paired (same length, by seed) or unpaired percentile bootstrap of two metrics' per-seed values, or, without
per-seed values, from non-overlapping intervals (conservative). Single values, NaN or infinities give
"inconclusive" with the reason. Does not cover computing the metrics themselves (the research tools do).
"""

from __future__ import annotations

import math

import numpy as np

from assistant.report.model import ClaimVerdict, DraftClaim, Verdict
from assistant.report.results import Metric, ResultsDocument, format_number

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


def _finite(*xs: float | None) -> bool:
    return all(x is not None and math.isfinite(x) for x in xs)


def _verdict(direction: str, low: float, high: float) -> Verdict:
    sign = 1.0 if direction == "increase" else -1.0
    lo, hi = sorted((sign * low, sign * high))
    if lo > 0:
        return "supported"
    if hi < 0:
        return "contradicted"
    return "inconclusive"


def bootstrap_diff(a: list[float], b: list[float]) -> tuple[float, float, float, str]:
    """Mean difference ``a - b`` with a 95% percentile bootstrap interval (paired when lengths match)."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(xa) == len(xb):
        diff = xa - xb
        idx = rng.integers(0, len(diff), size=(BOOTSTRAP_RESAMPLES, len(diff)))
        means = diff[idx].mean(axis=1)
        how = f"paired bootstrap over {len(diff)} seeds"
        estimate = float(diff.mean())
    else:
        ia = rng.integers(0, len(xa), size=(BOOTSTRAP_RESAMPLES, len(xa)))
        ib = rng.integers(0, len(xb), size=(BOOTSTRAP_RESAMPLES, len(xb)))
        means = xa[ia].mean(axis=1) - xb[ib].mean(axis=1)
        how = f"unpaired bootstrap ({len(xa)} vs {len(xb)} values)"
        estimate = float(xa.mean() - xb.mean())
    low, high = np.percentile(means, [2.5, 97.5])
    return estimate, float(low), float(high), how


def _usable_values(metric: Metric) -> list[float] | None:
    values = metric.values
    if values and len(values) >= 2 and all(math.isfinite(v) for v in values):
        return list(values)
    return None


def judge_claim(claim: DraftClaim, results: ResultsDocument) -> ClaimVerdict:
    """The verdict for one claim against ``results`` (unknown metrics give "inconclusive" with the reason)."""
    metric = results.metrics.get(claim.metric)
    if metric is None:
        return ClaimVerdict(claim=claim, verdict="inconclusive", method=f"metric {claim.metric!r} is not in results")
    if claim.baseline is None:
        if metric.has_ci and _finite(metric.ci_low, metric.ci_high, metric.point):
            assert metric.ci_low is not None
            assert metric.ci_high is not None
            return ClaimVerdict(
                claim=claim,
                verdict=_verdict(claim.direction, metric.ci_low, metric.ci_high),
                estimate=metric.point,
                ci_low=metric.ci_low,
                ci_high=metric.ci_high,
                method=f"the metric's own interval ({metric.ci or 'CI'}" + (f", n = {metric.n})" if metric.n else ")"),
            )
        values = _usable_values(metric)
        if values is not None:
            est, low, high, how = bootstrap_diff(values, [0.0] * len(values))
            return ClaimVerdict(
                claim=claim,
                verdict=_verdict(claim.direction, low, high),
                estimate=est,
                ci_low=low,
                ci_high=high,
                method=how.replace("paired", "percentile"),
            )
        return ClaimVerdict(claim=claim, verdict="inconclusive", estimate=metric.point, method=_why_no_ci(metric))
    base = results.metrics.get(claim.baseline)
    if base is None:
        return ClaimVerdict(
            claim=claim, verdict="inconclusive", method=f"baseline {claim.baseline!r} is not in results"
        )
    va, vb = _usable_values(metric), _usable_values(base)
    if va is not None and vb is not None:
        est, low, high, how = bootstrap_diff(va, vb)
        return ClaimVerdict(
            claim=claim,
            verdict=_verdict(claim.direction, low, high),
            estimate=est,
            ci_low=low,
            ci_high=high,
            method=how,
        )
    if metric.has_ci and base.has_ci and _finite(metric.ci_low, metric.ci_high, base.ci_low, base.ci_high):
        assert metric.ci_low is not None
        assert metric.ci_high is not None
        assert base.ci_low is not None
        assert base.ci_high is not None
        mp, bp = metric.point, base.point
        diff_est = mp - bp if mp is not None and bp is not None and math.isfinite(mp - bp) else None
        if claim.direction == "increase":
            verdict: Verdict = "supported" if metric.ci_low > base.ci_high else "inconclusive"
        else:
            verdict = "supported" if metric.ci_high < base.ci_low else "inconclusive"
        return ClaimVerdict(
            claim=claim,
            verdict=verdict,
            estimate=diff_est,
            method="non-overlap of the two 95% intervals (no per-seed values to pair)",
        )
    return ClaimVerdict(claim=claim, verdict="inconclusive", method=_why_no_ci(metric if va is None else base))


def _why_no_ci(metric: Metric) -> str:
    point = metric.point
    if point is not None and not math.isfinite(point):
        return f"the metric is {format_number(point)}"
    if metric.values and not all(math.isfinite(v) for v in metric.values):
        return "per-seed values contain NaN or infinity"
    return "no confidence interval: a single value cannot support a claim"
