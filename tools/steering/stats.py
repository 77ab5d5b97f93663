"""Intervals for a steering effect measured on the same items under several seeds: a two-level bootstrap.

``seeds_items_interval`` resamples seeds, then items (the same item resample for every seed drawn, as the items are
shared), and takes percentiles of the mean. Its metric record (``seeds_items_metric``) keeps one value per item
(the mean over seeds), so the research loop can pair it with another metric by item; ``over`` is ``items`` and
``ci`` names the two-level bootstrap. Does not cover single-level intervals (``tools.research.metrics``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

RESAMPLES = 4000
CI = "bootstrap95 over seeds and items"


def seeds_items_interval(
    grid: npt.NDArray[np.float64], *, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of a ``(seeds, items)`` grid and its 95% interval from resampling seeds and items.

    Raises:
        ValueError: ``grid`` is not two-dimensional or is empty.
    """
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"expected a non-empty (seeds, items) grid, got shape {grid.shape}")
    rng = np.random.default_rng(seed)
    n_seeds, n_items = grid.shape
    s = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    i = rng.integers(0, n_items, size=(resamples, n_items))
    means = np.array([grid[np.ix_(s[r], i[r])].mean() for r in range(resamples)])
    low, high = np.percentile(means, [2.5, 97.5])
    return float(grid.mean()), float(low), float(high)


def seeds_items_metric(grid: npt.NDArray[np.float64]) -> dict[str, Any]:
    """The results-file record of a ``(seeds, items)`` grid: mean, two-level interval, per-item values."""
    mean, low, high = seeds_items_interval(grid)
    return {
        "mean": mean,
        "ci_low": low,
        "ci_high": high,
        "n": int(grid.shape[1]),
        "seeds": int(grid.shape[0]),
        "values": [float(v) for v in grid.mean(axis=0)],
        "over": "items",
        "ci": CI,
    }
