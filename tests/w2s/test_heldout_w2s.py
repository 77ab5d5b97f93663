"""The held-out weak-to-strong protocol in one process: fixed test split, no test labels exported, host scoring."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tools.datasets import load_dataset
from tools.errors import UserInputError
from tools.research.hostconfig import host_config
from tools.w2s import W2SConfig
from tools.w2s.heldout import (
    export_w2s_task,
    heldout_splits,
    run_w2s_heldout,
    score_w2s_task,
    train_positions,
    train_w2s_task,
)
from tools.w2s.splits import pool_indices


def _config(**kw: object) -> W2SConfig:
    base: dict[str, object] = {
        "dataset": "sk_digits_parity",
        "weak_features": "tab_coarse",
        "strong_features": "tab_raw",
        "strong_head": "mlp",
        "n_weak_train": 200,
        "n_strong_train": 200,
        "n_test": 200,
        "seeds": [0, 1, 2],
        "epochs": 5,
        "cache_dir": None,
    }
    return W2SConfig.model_validate({**base, **kw})


def test_test_split_is_fixed_across_seeds_and_disjoint_from_training() -> None:
    config = _config()
    splits = [heldout_splits(config, seed) for seed in config.seeds]
    assert all(np.array_equal(s.test, splits[0].test) for s in splits)
    assert not np.array_equal(splits[0].weak_train, splits[1].weak_train), "seeds re-draw A and B"
    for s in splits:
        assert sorted(np.concatenate(s).tolist()) == list(range(config.n_total))
    assert np.intersect1d(train_positions(config), splits[0].test).size == 0


def test_exported_task_holds_no_test_labels_and_scoring_is_on_the_host(tmp_path: Path) -> None:
    config = _config(epochs=30)
    run_dir = tmp_path / "run"
    export_w2s_task(config, run_dir)
    data = load_dataset(config.dataset)
    labels = data.labels[pool_indices(data, config.n_total, config.data_seed)]
    test_labels = labels[heldout_splits(config, 0).test]
    with np.load(run_dir / "task.npz") as npz:
        arrays = {name: npz[name] for name in npz.files}
    assert arrays["x_test"].shape == (200, 64)
    assert arrays["y_train"].shape == (400,)
    assert not any(a.shape == test_labels.shape and np.array_equal(a, test_labels) for a in arrays.values())
    meta = json.loads((run_dir / "task.json").read_text())
    assert meta["kind"] == "ara.w2s-task/1"
    assert meta["config"]["seeds"] == [0, 1, 2]
    submitted = train_w2s_task(run_dir)
    assert submitted[:3] == ["seed0.weak", "seed0.ceiling", "seed0.w2s"]
    assert len(submitted) == 9
    (run_dir / "results.json").write_text('{"forged": true}')  # anything the kernel wrote is replaced
    result = score_w2s_task(config, run_dir)
    written = json.loads((run_dir / "results.json").read_text())
    assert written["schema"] == "ara.results/1"
    assert written["metrics"]["w2s_acc"]["mean"] == pytest.approx(result.w2s_acc.mean)
    assert written["provenance"]["test_split"].startswith("fixed across seeds (200 examples")
    # Digit parity from coarse pixels is a weak supervisor the strong MLP clearly beats.
    assert result.ceiling_acc.mean > result.weak_acc.mean + 0.05
    assert 0.0 < result.w2s_acc.mean <= 1.0
    assert result.pgr.n + result.pgr.excluded == 3


def test_a_forged_or_missing_submission_is_a_clear_error(tmp_path: Path) -> None:
    config = _config(seeds=[0])
    run_dir = tmp_path / "run"
    run_w2s_heldout(config, run_dir)
    np.save(run_dir / "submissions" / "seed0.w2s.npy", np.ones(5, dtype=np.float32))
    with pytest.raises(UserInputError, match=r"submission 'seed0.w2s' has 5 predictions; expected 200"):
        score_w2s_task(config, run_dir)
    np.save(run_dir / "submissions" / "seed0.w2s.npy", np.full(200, np.nan, dtype=np.float32))
    with pytest.raises(UserInputError, match="NaN/inf"):
        score_w2s_task(config, run_dir)
    (run_dir / "submissions" / "seed0.w2s.npy").unlink()
    with pytest.raises(UserInputError, match=r"no submission 'seed0\.w2s'"):
        score_w2s_task(config, run_dir)


def test_host_config_chooses_the_paths_not_the_model(tmp_path: Path, shared_dir: Path) -> None:
    chosen = W2SConfig(dataset="strategyqa", weak_features="bow", strong_features="minilm", cache_dir=Path("/etc"))
    config = host_config(chosen, cache_dir=tmp_path / "cache", data_root=shared_dir / "datasets" / "bigbench_tasks")
    assert config.cache_dir == tmp_path / "cache"
    assert config.data_root == shared_dir / "datasets" / "bigbench_tasks"
    tabular = host_config(_config(data_root=Path("/etc")), cache_dir=None)
    assert tabular.data_root is None
    assert tabular.cache_dir is None


def test_bow_weak_features_are_fitted_in_the_kernel_from_exported_texts(tmp_path: Path) -> None:
    config = W2SConfig(
        dataset="rotten_tomatoes",
        weak_features="bow",
        strong_features="minilm",
        n_weak_train=150,
        n_strong_train=150,
        n_test=150,
        seeds=[0],
        epochs=5,
        cache_dir=tmp_path / "cache",
    )
    run_dir = tmp_path / "run"
    result = run_w2s_heldout(config, run_dir)
    texts = json.loads((run_dir / "task_texts.json").read_text())
    assert (len(texts["train"]), len(texts["test"])) == (300, 150)
    assert 0.5 < result.ceiling_acc.mean <= 1.0
