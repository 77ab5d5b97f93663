"""Verdicts computed from the results, never written by a model.

Covers the one statistical core: ``effect_of`` turns a metric (or a metric minus a baseline metric) into an
``Effect`` with a 95% interval: a single metric keeps the interval its tool computed (the one the results table
shows) when it has one; a difference, a metric without an interval, or a Bonferroni-adjusted family gets a
percentile bootstrap of the mean over per-seed or per-item ``values`` (paired by position when both metrics have
the same number of values and are over the same unit, which is how tools pair seeds and test items: the
cards' ``ComparisonSpec.paired``; a seeds metric is never paired with an items metric); undefined values (NaN, e.g. PGR of a seed whose ceiling did not beat
its supervisor) are left out and counted. ``verdict_of`` applies a pre-registered prediction to an effect:
``supported`` when the interval excludes the null (plus any minimum effect) in the predicted direction,
``refuted`` when it excludes it the other way, ``inconclusive`` otherwise, and ``insufficient`` when there is no
interval or fewer than ``MIN_SEEDS`` seeds. ``evaluate_hypothesis`` applies them to the plan's hypotheses; the
claim checker (``assistant.report.claims``) uses ``effect_of`` for comparisons a claim makes. Does not cover computing the metrics themselves (the research tools do).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from assistant.report.model import HypothesisResult
from assistant.report.results import Metric, ResultsDocument, format_number
from assistant.schemas import Hypothesis

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
MIN_SEEDS = 3
"""Fewer seeds than this give ``insufficient``: an interval over one or two seeds says nothing."""
MIN_ITEMS = 10
"""Fewer test items than this give ``insufficient`` for item-level intervals."""

Over = Literal["seeds", "items"]
HypothesisVerdict = Literal["supported", "refuted", "inconclusive", "insufficient"]


class Effect(BaseModel):
    """An estimated effect with its 95% interval, or why there is none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    estimate: float | None = None
    """Mean of the metric (or of the paired differences)."""
    ci_low: float | None = None
    """Lower end of the 95% interval (None when one-sided or absent)."""
    ci_high: float | None = None
    """Upper end of the 95% interval."""
    n: int = 0
    """Defined values used (seeds or items)."""
    excluded: int = 0
    """Values left out as undefined (NaN)."""
    over: Over | None = None
    """What the interval is over."""
    method: str
    """How the interval was computed, or why there is none."""
    usable: bool = True
    """False when no verdict can be drawn (no interval, too few seeds, undefined values)."""
    more_data_can_settle: bool = True
    """False when more seeds or items of the same run cannot give a verdict: a metric not in the results, values
    that cannot be paired, a non-finite metric or interval, every one of enough values undefined. Follow-ups read it (``followup.settle_chance``)."""


def _over(metric: Metric, default: Over | None) -> Over | None:
    return metric.over or default


def _tails(level: float) -> list[float]:
    alpha = (1.0 - level) * 100
    return [alpha / 2, 100 - alpha / 2]


def _bootstrap_mean(values: np.ndarray, level: float) -> tuple[float, float]:
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = values[rng.integers(0, values.size, size=(BOOTSTRAP_RESAMPLES, values.size))].mean(axis=1)
    low, high = np.percentile(means, _tails(level))
    return float(low), float(high)


def _level_note(level: float) -> str:
    return "" if level == 0.95 else f" at {level:.4g} (Bonferroni-adjusted)"


def _enough(n: int, over: Over | None) -> str | None:
    if over == "items":
        return None if n >= MIN_ITEMS else f"only {n} test items (at least {MIN_ITEMS} needed)"
    return None if n >= MIN_SEEDS else f"only {n} seed(s) with a defined value (at least {MIN_SEEDS} needed)"


def _from_values(values: np.ndarray, over: Over | None, what: str, level: float = 0.95) -> Effect:
    defined = values[np.isfinite(values)]
    excluded = int(values.size - defined.size)
    note = f"; {excluded} undefined value(s) left out" if excluded else ""
    short = _enough(int(defined.size), over)
    if short is not None:
        mean = float(defined.mean()) if defined.size else None
        # every one of enough values undefined is the method failing, not too little data: more of it fails the same
        systematic = not defined.size and _enough(int(values.size), over) is None
        return Effect(
            estimate=mean,
            n=int(defined.size),
            excluded=excluded,
            over=over,
            method=(f"all {values.size} values are undefined" if systematic else short) + ("" if systematic else note),
            usable=False,
            more_data_can_settle=not systematic,
        )
    low, high = _bootstrap_mean(defined, level)
    unit = "items" if over == "items" else "seeds"
    flat = " (all values equal: a zero-width interval)" if low == high else ""
    note = _level_note(level) + note
    return Effect(
        estimate=float(defined.mean()),
        ci_low=low,
        ci_high=high,
        n=int(defined.size),
        excluded=excluded,
        over=over,
        method=f"{what + ' ' if what else ''}percentile bootstrap over {defined.size} {unit}{flat}{note}",
    )


def effect_of(
    results: ResultsDocument,
    metric: str,
    baseline: str | None = None,
    *,
    over: Over | None = None,
    level: float = 0.95,
) -> Effect:
    """The effect ``metric`` (or ``metric - baseline``, paired by position) with its 95% interval.

    Args:
        results: The run's results.
        metric: A metric name in ``results``.
        baseline: A second metric subtracted from the first, or None.
        over: What the values are over when the metric does not say (``over`` in its record), from the tool's card.
        level: Coverage of the interval (0.95; lower tails for a Bonferroni-adjusted family).
    """
    first = results.metrics.get(metric)
    if first is None:
        return Effect(method=f"metric {metric!r} is not in the results", usable=False, more_data_can_settle=False)
    first_over = _over(first, over)
    if baseline is None:
        if first.has_ci and level == 0.95:
            return _from_interval(first, first_over)  # the tool's own interval: the one the results table shows
        if first.values:
            return _from_values(np.asarray(first.values, dtype=float), first_over, "", level)
        return _from_interval(first, first_over)
    second = results.metrics.get(baseline)
    if second is None:
        return Effect(
            method=f"baseline metric {baseline!r} is not in the results", usable=False, more_data_can_settle=False
        )
    if not first.values or not second.values:
        return Effect(
            estimate=_difference(first.point, second.point),
            method=f"no per-{first_over or 'seed'} values to pair {metric} with {baseline}: no interval for the "
            "difference (overlapping or not, two separate intervals do not test it)",
            usable=False,
            more_data_can_settle=False,
        )
    second_over = _over(second, over)
    if first.over is not None and second.over is not None and first.over != second.over:
        return Effect(
            estimate=_difference(first.point, second.point),
            method=f"{metric} is over {first.over} and {baseline} over {second.over}: their values cannot be paired, "
            "so the difference has no interval (compare two metrics over the same seeds or the same items)",
            usable=False,
            more_data_can_settle=False,
        )
    unit = first_over or second_over
    a, b = np.asarray(first.values, dtype=float), np.asarray(second.values, dtype=float)
    if a.size == b.size:
        return _from_values(a - b, unit, "paired", level)
    return _unpaired(a, b, unit, level)


def _difference(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not math.isfinite(a - b):
        return None
    return a - b


def _unpaired(a: np.ndarray, b: np.ndarray, over: Over | None, level: float) -> Effect:
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    n = int(min(a.size, b.size))
    short = _enough(n, over)
    if short is not None:
        return Effect(
            estimate=_difference(*(float(x.mean()) if x.size else None for x in (a, b))),
            n=n,
            over=over,
            method=short,
            usable=False,
        )
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = a[rng.integers(0, a.size, size=(BOOTSTRAP_RESAMPLES, a.size))].mean(axis=1) - b[
        rng.integers(0, b.size, size=(BOOTSTRAP_RESAMPLES, b.size))
    ].mean(axis=1)
    low, high = np.percentile(means, _tails(level))
    return Effect(
        estimate=float(a.mean() - b.mean()),
        ci_low=float(low),
        ci_high=float(high),
        n=n,
        over=over,
        method=f"unpaired percentile bootstrap ({a.size} vs {b.size} values){_level_note(level)}",
    )


def _from_interval(metric: Metric, over: Over | None) -> Effect:
    point = metric.point
    if point is not None and not math.isfinite(point):
        return Effect(method=f"the metric is {format_number(point)}", usable=False, more_data_can_settle=False)
    if metric.ci_low is None and metric.ci_high is None:
        return Effect(
            estimate=point, over=over, method="no interval: a single value cannot settle a hypothesis", usable=False
        )
    defined = [v for v in metric.values or [] if math.isfinite(v)]
    n = metric.n if metric.n is not None else len(defined)
    excluded = int(metric.field("excluded") or 0) or (len(metric.values or []) - len(defined))
    short = _enough(n, over) if (metric.n is not None or metric.values) else None
    note = f"; {excluded} undefined value(s) left out" if excluded else ""
    if short is not None:
        return Effect(estimate=point, n=n, excluded=excluded, over=over, method=short + note, usable=False)
    bounds = [b for b in (metric.ci_low, metric.ci_high) if b is not None]
    if not all(math.isfinite(b) for b in bounds):
        return Effect(estimate=point, method="the interval is not finite", usable=False, more_data_can_settle=False)
    sided = "" if len(bounds) == 2 else " (one-sided)"
    unit = f", n = {n} {over}" if n and over else (f", n = {n}" if n else "")
    return Effect(
        estimate=point,
        ci_low=metric.ci_low,
        ci_high=metric.ci_high,
        n=n,
        excluded=excluded,
        over=over,
        method=f"the tool's own interval ({metric.ci or 'CI'}{unit}){sided}{note}",
    )


def verdict_of(
    effect: Effect, predicted: Literal["increase", "decrease"], null: float = 0.0, min_effect: float = 0.0
) -> HypothesisVerdict:
    """The verdict of a prediction on ``effect`` (see the module docstring)."""
    if not effect.usable:
        return "insufficient"
    low, high = effect.ci_low, effect.ci_high
    if predicted == "increase":
        threshold = null + min_effect
        if low is not None and low > threshold:
            return "supported"
        if high is not None and high < threshold:
            return "refuted"
        return "inconclusive"
    threshold = null - min_effect
    if high is not None and high < threshold:
        return "supported"
    if low is not None and low > threshold:
        return "refuted"
    return "inconclusive"


def evaluate_hypothesis(
    hypothesis: Hypothesis, results: ResultsDocument, *, over: Over | None = None, family: int = 1
) -> HypothesisResult:
    """The computed verdict of one pre-registered hypothesis (``metric``/``baseline`` already resolved to metrics).

    ``family`` is the number of tests the hypothesis was expanded into (one per layer): its interval's level is
    Bonferroni-adjusted to ``1 - 0.05 / family`` so a family does not find support by chance.
    """
    level = 1.0 - 0.05 / max(1, family)
    effect = effect_of(results, hypothesis.metric, hypothesis.baseline, over=over, level=level)
    return HypothesisResult(
        id=hypothesis.id,
        statement=hypothesis.statement,
        metric=hypothesis.metric,
        baseline=hypothesis.baseline,
        predicted=hypothesis.predicted,
        null=hypothesis.null,
        min_effect=hypothesis.min_effect,
        estimate=effect.estimate,
        ci_low=effect.ci_low,
        ci_high=effect.ci_high,
        n=effect.n,
        over=effect.over,
        verdict=verdict_of(effect, hypothesis.predicted, hypothesis.null, hypothesis.min_effect),
        method=effect.method,
        more_data_can_settle=effect.more_data_can_settle,
    )
