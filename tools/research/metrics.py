"""Metrics shared by the research tools: accuracy, PGR (undefined cases excluded and counted), agreement, bootstrap CIs.

PGR = (w2s - weak) / (ceiling - weak), undefined when the ceiling does not beat the weak supervisor
(``ceiling - weak <= min_gap``); such seeds are excluded from PGR summaries and their count is reported.
``bootstrap_summary`` resamples seeds; ``bootstrap_metric`` resamples items (per-item 0/1 outcomes of an eval).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

CI_LEVEL = 0.95


class Summary(BaseModel):
    """Mean of per-seed values with a percentile bootstrap CI over seeds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: float
    """Mean over the defined values (NaN when none)."""
    ci_low: float
    """2.5th percentile of the bootstrap distribution of the mean."""
    ci_high: float
    """97.5th percentile of the bootstrap distribution of the mean."""
    n: int
    """Number of defined values used."""
    excluded: int = 0
    """Values left out because they were undefined (NaN)."""
    values: list[float]
    """The per-seed values (NaN where undefined)."""
    median: float = math.nan
    """Median of the defined values."""

    def as_metric(self) -> dict[str, Any]:
        """The results.json metric record."""
        return {
            "mean": self.mean,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "n": self.n,
            "excluded": self.excluded,
            "median": self.median,
            "values": [None if math.isnan(v) else v for v in self.values],
            "ci": "bootstrap95",
        }


def accuracy(probs: npt.NDArray[Any], labels: npt.NDArray[Any]) -> float:
    """Share of rows where ``probs > 0.5`` equals the 0/1 label."""
    return float(np.mean((np.asarray(probs) > 0.5).astype(np.int64) == np.asarray(labels)))


def agreement(probs_a: npt.NDArray[Any], probs_b: npt.NDArray[Any]) -> float:
    """Share of rows where two predictors' hard labels agree (student vs supervisor)."""
    return float(np.mean((np.asarray(probs_a) > 0.5) == (np.asarray(probs_b) > 0.5)))


def pgr(weak: float, w2s: float, ceiling: float, min_gap: float = 1e-9) -> float:
    """Performance gap recovered; NaN when ``ceiling - weak <= min_gap`` (undefined).

    Example:
        >>> pgr(0.70, 0.75, 0.80)
        0.5
    """
    gap = ceiling - weak
    if gap <= min_gap:
        return math.nan
    return (w2s - weak) / gap


def bootstrap_summary(values: list[float], *, n_boot: int = 10_000, seed: int = 0) -> Summary:
    """Mean and 95% percentile-bootstrap CI (resampling seeds) of the non-NaN ``values``.

    Example:
        >>> s = bootstrap_summary([0.1, 0.2, 0.3, float("nan")])
        >>> (s.n, s.excluded, round(s.mean, 2))
        (3, 1, 0.2)
    """
    arr = np.asarray(values, dtype=np.float64)
    defined = arr[~np.isnan(arr)]
    excluded = int(arr.size - defined.size)
    if defined.size == 0:
        return Summary(mean=math.nan, ci_low=math.nan, ci_high=math.nan, n=0, excluded=excluded, values=list(values))
    rng = np.random.default_rng(seed)
    means = defined[rng.integers(0, defined.size, size=(n_boot, defined.size))].mean(axis=1)
    alpha = (1.0 - CI_LEVEL) / 2.0
    return Summary(
        mean=float(defined.mean()),
        ci_low=float(np.quantile(means, alpha)),
        ci_high=float(np.quantile(means, 1.0 - alpha)),
        n=int(defined.size),
        excluded=excluded,
        values=[float(v) for v in arr],
        median=float(np.median(defined)),
    )


def bootstrap_metric(values: Sequence[float], n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Mean of ``values`` with a 95% percentile-bootstrap CI, in the results-file metric shape.

    Args:
        values: Per-item outcomes (1.0 correct, 0.0 wrong; failures count as 0.0, never dropped).
        n_boot: Bootstrap resamples.
        seed: RNG seed.

    Returns:
        ``{"mean", "ci_low", "ci_high", "n", "values", "ci": "bootstrap95"}``; for no values the mean and
        bounds are None (an empty slice is reported, not hidden).

    Example:
        >>> from tools.research.metrics import bootstrap_metric
        >>> bootstrap_metric([1, 1, 0, 0])["mean"]
        0.5
    """
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0, "values": [], "ci": "bootstrap95"}
    rng = np.random.default_rng(seed)
    means = array[rng.integers(0, array.size, size=(n_boot, array.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "mean": float(array.mean()),
        "ci_low": float(low),
        "ci_high": float(high),
        "n": int(array.size),
        "values": [float(v) for v in array],
        "ci": "bootstrap95",
    }


def item_metric(correct: Sequence[float], *, seed: int = 0) -> dict[str, Any]:
    """An accuracy with its 95% bootstrap interval over test items, marked ``over: "items"``.

    ``correct`` holds one outcome per held-out item in a fixed order (1.0 right, 0.0 wrong; a share of seeds
    when the item was scored once per seed); two metrics written from the same items in the same order are
    paired item by item (``values`` by position), which is what a paired comparison resamples.

    Example:
        >>> m = item_metric([1, 0, 1, 1])
        >>> (m["mean"], m["n"], m["over"])
        (0.75, 4, 'items')
    """
    return {**bootstrap_metric(correct, seed=seed), "over": "items"}
