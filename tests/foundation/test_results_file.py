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


def test_results_are_read_without_following_links_and_capped_before_parsing(tmp_path: Path) -> None:
    import pytest

    from tools.results import MAX_METRICS, ResultsFileError, read_config, read_results

    secret = tmp_path / "secret.json"
    secret.write_text('{"schema": "ara.results/1", "title": "host secret"}')
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").symlink_to(secret)
    with pytest.raises(ResultsFileError, match=r"results\.json is a symbolic link"):
        read_results(run / "results.json")
    (run / "results.json").unlink()
    (run / "results.json").write_bytes(b" " * (8 * 1024 * 1024 + 1))
    with pytest.raises(ResultsFileError, match=r"results\.json is 8,388,609 bytes, over the 8,388,608-byte limit"):
        read_results(run / "results.json")
    metrics = {f"m{i}": {"value": i} for i in range(MAX_METRICS + 1)}
    (run / "results.json").write_text(json.dumps({"schema": SCHEMA, "metrics": metrics}))
    with pytest.raises(ResultsFileError, match=r"has 2,001 metrics, more than the 2,000 a results file may hold"):
        read_results(run / "results.json")
    table = {"columns": ["a"], "rows": [[1]] * 200_001}
    (run / "results.json").write_text(json.dumps({"schema": SCHEMA, "tables": {"t": table}}))
    with pytest.raises(ResultsFileError, match=r"has 200,001 table cells, more than the 200,000"):
        read_results(run / "results.json")
    (run / "sub").symlink_to(tmp_path)
    with pytest.raises(ResultsFileError, match=r"sub is not a directory \(a link or a file planted"):
        read_config(run / "sub" / "secret.json", below=run)
    assert read_config(run / "config.json") == {}


def test_writing_replaces_a_planted_link_and_records_who_scored(tmp_path: Path) -> None:
    from tools.results import RedFlag, Verification, read_results

    target = tmp_path / "bashrc"
    target.write_text("# untouched\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").symlink_to(target)
    (run / "config.json").symlink_to(target)
    flag = RedFlag(code="student_equals_ceiling", detail="seed 0: equal")
    path = write_results(
        run, tool="t", title="t", config={}, metrics={"pgr": {"value": 1.0}}, verification=Verification.host([flag])
    )
    assert target.read_text() == "# untouched\n"
    document = read_results(path)
    assert document.verification is not None
    assert document.verification.suspect
    assert document.verification.note == "scored on the host against data the experiment code never saw"
    assert strict_load(path)["verification"] == {
        "scored_by": "host",
        "note": "scored on the host against data the experiment code never saw",
        "red_flags": [{"code": "student_equals_ceiling", "detail": "seed 0: equal"}],
    }
