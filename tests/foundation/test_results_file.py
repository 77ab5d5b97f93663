"""The shared ``ara.results/1`` writer: strict JSON (NaN/inf become null), both files, provenance."""

from __future__ import annotations

import json
from pathlib import Path

from tools.results import SCHEMA, write_results


def strict_load(path: Path) -> dict[str, object]:
    def refuse(token: str) -> float:
        raise ValueError(f"non-standard JSON constant {token} in {path}")

    loaded: dict[str, object] = json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)
    return loaded


def test_nan_and_inf_are_written_as_null(tmp_path: Path) -> None:
    path = write_results(
        tmp_path / "run",
        tool="tests",
        title="t",
        config={"lr": float("inf")},
        metrics={"pgr": {"mean": float("nan"), "values": [0.1, float("nan")]}},
        provenance={"seeds": [0]},
    )
    doc = strict_load(path)
    assert doc["schema"] == SCHEMA
    assert doc["metrics"] == {"pgr": {"mean": None, "values": [0.1, None]}}
    assert doc["tables"] == {}
    assert doc["figures"] == {}
    assert strict_load(tmp_path / "run" / "config.json") == {"lr": None}


def test_eval_results_are_strict_json_with_package_provenance(tmp_path: Path) -> None:
    path = write_results(
        tmp_path,
        tool="tools.evals.mc",
        title="mc",
        config={},
        metrics={"accuracy": {"mean": float("nan"), "n": 0}},
        packages=("inspect-ai", "numpy"),
    )
    doc = strict_load(path)
    assert doc["metrics"] == {"accuracy": {"mean": None, "n": 0}}
    provenance = doc["provenance"]
    assert isinstance(provenance, dict)
    assert "numpy" in provenance["packages"]
