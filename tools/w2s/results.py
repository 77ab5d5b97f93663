"""Write ``results.json`` + ``config.json`` in the shared ``ara.results/1`` convention (used by w2s and probes).

Covers the file layout and provenance (package versions, data hash, seeds, wall time). Does not cover rendering.
"""

from __future__ import annotations

import json
import math
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

SCHEMA = "ara.results/1"
_PACKAGES = ("numpy", "torch", "scikit-learn", "transformers", "gguf", "matplotlib", "onnxruntime", "pydantic")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages results depend on (absent ones are skipped)."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


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
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(_clean(config), indent=2, default=str) + "\n", encoding="utf-8")
    provenance = {
        "packages": package_versions(),
        "data_hash": data_hash,
        "seeds": seeds,
        "wall_time_s": round(wall_time_s, 3),
        **(extra_provenance or {}),
    }
    payload = {
        "schema": SCHEMA,
        "tool": tool,
        "title": title,
        "config": config,
        "metrics": metrics,
        "tables": tables,
        "figures": figures,
        "provenance": provenance,
    }
    path = out_dir / "results.json"
    path.write_text(json.dumps(_clean(payload), indent=2, default=str) + "\n", encoding="utf-8")
    return path
