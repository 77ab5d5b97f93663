"""Write ``results.json`` + ``config.json`` in the shared ``ara.results/1`` convention (used by w2s and probes).

Covers the file layout and provenance (package versions, data hash, seeds, wall time). Does not cover rendering.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools import results as shared

SCHEMA = shared.SCHEMA
_PACKAGES = ("numpy", "torch", "scikit-learn", "transformers", "gguf", "matplotlib", "onnxruntime", "pydantic")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages results depend on (absent ones are skipped)."""
    return shared.package_versions(_PACKAGES)


def write_results(
    out_dir: Path,
    *,
    tool: str,
    title: str,
    config: dict[str, Any],
    metrics: dict[str, dict[str, Any]],
    tables: dict[str, dict[str, Any]],
    figures: dict[str, str],
    data_hash: str,
    seeds: list[int],
    wall_time_s: float,
    extra_provenance: dict[str, Any] | None = None,
) -> Path:
    """Write ``config.json`` and ``results.json`` into ``out_dir`` (NaN becomes null); return the results path."""
    provenance = {
        "packages": package_versions(),
        "data_hash": data_hash,
        "seeds": seeds,
        "wall_time_s": round(wall_time_s, 3),
        **(extra_provenance or {}),
    }
    return shared.write_results(
        out_dir,
        tool=tool,
        title=title,
        config=config,
        metrics=metrics,
        tables=tables,
        figures=figures,
        provenance=provenance,
    )
