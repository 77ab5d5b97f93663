"""Bootstrap confidence intervals and the shared ``ara.results/1`` files (``results.json`` + ``config.json``).

Covers percentile-bootstrap CIs of a mean over per-item 0/1 outcomes, the metric dictionaries the report renderer
reads, package provenance, and writing both files into a run directory. Does not cover rendering reports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tools import results as shared

log = logging.getLogger(__name__)

SCHEMA = shared.SCHEMA
_PACKAGES = ("inspect-ai", "numpy", "httpx", "pydantic")


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
        >>> from tools.evals.results import bootstrap_metric
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


def packages() -> dict[str, str]:
    """Installed versions of the packages these results depend on."""
    return shared.package_versions(_PACKAGES)


def write_results(
    run_dir: Path,
    *,
    tool: str,
    title: str,
    config: Mapping[str, Any],
    metrics: Mapping[str, Mapping[str, Any]],
    tables: Mapping[str, Mapping[str, Any]] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``results.json`` and ``config.json`` into ``run_dir`` (NaN becomes null); return the results path."""
    return shared.write_results(
        run_dir,
        tool=tool,
        title=title,
        config=config,
        metrics=metrics,
        tables=tables,
        provenance={"packages": packages(), **(provenance or {})},
    )
