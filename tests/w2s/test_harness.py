"""run_w2s / run_sweep end to end on small real tabular data: files, metrics, caching, bad input."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from tools.datasets import Dataset, load_dataset
from tools.errors import UserInputError
from tools.w2s import W2SConfig, run_sweep, run_w2s
from tools.w2s import harness as harness_module


def _config(tmp_path: Path, **kw: object) -> W2SConfig:
    base = {
        "dataset": "sk_breast_cancer",
        "weak_features": "tab_coarse",
        "strong_features": "tab_raw",
        "strong_head": "linear",
        "n_weak_train": 120,
        "n_strong_train": 150,
        "n_test": 150,
        "seeds": [0, 1],
        "epochs": 5,
        "cache_dir": tmp_path / "cache",
    }
    return W2SConfig.model_validate({**base, **kw})


def test_run_writes_results_in_the_shared_convention(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_w2s(_config(tmp_path, loss="aux_conf"), out)
    assert [s.seed for s in result.seeds] == [0, 1]
    for seed in result.seeds:
        assert 0.5 < seed.weak_acc <= 1.0
        assert 0.5 < seed.ceiling_acc <= 1.0
        assert 0.0 <= seed.agreement <= 1.0
    payload = json.loads((out / "results.json").read_text())
    assert payload["schema"] == "ara.results/1"
    assert payload["tool"] == "tools.w2s"
    assert set(payload["metrics"]) == {"weak_acc", "ceiling_acc", "w2s_acc", "pgr", "agreement"}
    assert payload["metrics"]["w2s_acc"]["mean"] == pytest.approx(result.w2s_acc.mean)
    assert payload["metrics"]["weak_acc"]["n"] == 2
    assert payload["provenance"]["seeds"] == [0, 1]
    assert payload["provenance"]["data_hash"] == load_dataset("sk_breast_cancer").content_hash()
    assert "numpy" in payload["provenance"]["packages"]
    assert (out / payload["figures"]["seed_accuracies"]).is_file()
    assert json.loads((out / "config.json").read_text())["loss"] == "aux_conf"
    assert payload["tables"]["per_seed"]["columns"][0] == "seed"


def test_second_run_is_served_from_cache_and_corruption_is_recomputed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(tmp_path)
    first = run_w2s(config, tmp_path / "a")
    assert first.cache.misses == 7  # 2 seeds x (weak labels, ceiling head, student head) + the figure
    second = run_w2s(config, tmp_path / "b")
    assert (second.cache.hits, second.cache.misses, second.cache.corrupt) == (7, 0, 0)
    assert [s.w2s_acc for s in second.seeds] == [s.w2s_acc for s in first.seeds]
    entries = sorted((tmp_path / "cache" / "head").glob("*.npz"))
    assert len(entries) == 4
    entries[0].write_bytes(entries[0].read_bytes()[:-20] + b"\x00" * 20)
    with caplog.at_level(logging.WARNING, logger="tools.research.cache"):
        third = run_w2s(config, tmp_path / "c")
    assert (third.cache.corrupt, third.cache.misses) == (1, 1)
    assert [s.w2s_acc for s in third.seeds] == [s.w2s_acc for s in first.seeds]
    assert any("corrupt" in r.getMessage() for r in caplog.records)


def test_split_sizes_larger_than_the_data(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"split sizes need 1200 examples but dataset 'sk_breast_cancer' has 569"):
        run_w2s(_config(tmp_path, n_weak_train=400, n_strong_train=400, n_test=400), tmp_path / "run")


def _patch_dataset(monkeypatch: pytest.MonkeyPatch, labels: np.ndarray, features: np.ndarray) -> None:
    fake = Dataset(name="sk_breast_cancer", kind="tabular", labels=labels, features=features, source="test")
    monkeypatch.setattr(harness_module, "load_dataset", lambda name, root=None: fake)


def test_labels_of_one_class_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    _patch_dataset(monkeypatch, np.ones(500, dtype=np.int64), rng.normal(size=(500, 8)).astype(np.float32))
    with pytest.raises(UserInputError, match=r"needs labels 0 and 1 in its pool; found \[1\]"):
        run_w2s(_config(tmp_path), tmp_path / "run")


def test_nan_features_are_rejected_with_the_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(500, 8)).astype(np.float32)
    features[7, 3] = np.nan
    _patch_dataset(monkeypatch, (features[:, 0] > 0).astype(np.int64), features)
    with pytest.raises(
        UserInputError, match=r"features of dataset sk_breast_cancer contain 1 NaN/inf values \(first in row 7\)"
    ):
        run_w2s(_config(tmp_path, n_weak_train=150, n_strong_train=150, n_test=150), tmp_path / "run")


def test_sweep_over_losses_writes_summary_and_pgr_figure(tmp_path: Path) -> None:
    base = _config(tmp_path, seeds=[0, 1, 2])
    sweep = run_sweep(base, {"loss": ["xent", "bootstrap"]}, tmp_path / "sweep")
    assert [r.config.loss for r in sweep.runs] == ["xent", "bootstrap"]
    payload = json.loads(sweep.results_path.read_text())
    rows = payload["tables"]["summary"]["rows"]
    assert [row[3] for row in rows] == ["xent", "bootstrap"]
    assert (sweep.results_path.parent / payload["figures"]["pgr"]).is_file()
    assert (sweep.cache.hits, sweep.cache.misses) == (6, 15)  # 2nd loss reuses weak labels and ceilings
    with pytest.raises(UserInputError, match=r"grid keys \['temperature'\] are not W2SConfig fields"):
        run_sweep(base, {"temperature": [1.0]}, tmp_path / "bad")
