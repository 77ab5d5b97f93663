"""The shared ``ara.results/1`` files every research tool writes: ``results.json`` beside ``config.json``.

Covers the document layout, NaN/inf written as JSON null (strict JSON; the report renders missing values
explicitly), and package-version provenance. Each tool (``tools.w2s``, ``tools.probes``, ``tools.evals``)
decides what its metrics, tables and provenance hold. Does not cover rendering (``assistant.report``).
"""

from __future__ import annotations

import json
import logging
import math
import platform
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEMA = "ara.results/1"


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Python's version and the installed versions of ``names`` (absent packages are skipped)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def clean(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, recursively (JSON has no NaN)."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def write_results(
    out_dir: Path,
    *,
    tool: str,
    title: str,
    config: Mapping[str, Any],
    metrics: Mapping[str, Mapping[str, Any]],
    tables: Mapping[str, Mapping[str, Any]] | None = None,
    figures: Mapping[str, str] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``config.json`` and ``results.json`` into ``out_dir``; return the results path.

    Args:
        out_dir: The experiment's directory (created if needed).
        tool: Dotted name of the producing tool, e.g. ``tools.w2s``.
        title: One-line title.
        config: The experiment's configuration (also written alone as ``config.json``).
        metrics: ``name -> {"value": x}`` or ``{"mean", "ci_low", "ci_high", "n", "values", "ci"}``.
        tables: ``name -> {"columns": [...], "rows": [[...]]}``.
        figures: ``name -> path relative to out_dir``.
        provenance: Package versions, data hash, seeds, wall time, ...
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(clean(config), indent=2, default=str) + "\n", encoding="utf-8")
    document = {
        "schema": SCHEMA,
        "tool": tool,
        "title": title,
        "config": config,
        "metrics": metrics,
        "tables": tables or {},
        "figures": figures or {},
        "provenance": provenance or {},
    }
    path = out_dir / "results.json"
    path.write_text(json.dumps(clean(document), indent=2, default=str) + "\n", encoding="utf-8")
    log.info("wrote %s", path)
    return path
