"""The held-out weak-to-strong protocol in one process: fixed test split, only the student's view exported, the
host trains and scores the baselines, red flags mark a faked submission."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tools.datasets import load_dataset
from tools.errors import UserInputError
from tools.research.hostconfig import host_config
from tools.runfiles import RunFileError
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


def test_the_kernel_sees_only_the_students_view_and_the_host_scores_the_baselines(tmp_path: Path) -> None:
    config = _config(epochs=30, cache_dir=tmp_path / "host-cache")
    kernel_dir, out_dir = tmp_path / "run" / "work", tmp_path / "run"
    export_w2s_task(config, kernel_dir)
    data = load_dataset(config.dataset)
    labels = data.labels[pool_indices(data, config.n_total, config.data_seed)]
    test_labels = labels[heldout_splits(config, 0).test]
    with np.load(kernel_dir / "task.npz") as npz:
        arrays = {name: npz[name] for name in npz.files}
    assert sorted(arrays) == [
        "weak_b_seed0",
        "weak_b_seed1",
        "weak_b_seed2",
        "x_b_seed0",
        "x_b_seed1",
        "x_b_seed2",
        "x_test",
    ], "no ground truth of any split, no weak features, no ceiling"
    assert arrays["x_test"].shape == (200, 64)
    assert arrays["x_b_seed0"].shape == (200, 64)
    assert not any(a.shape == test_labels.shape and np.array_equal(a, test_labels) for a in arrays.values())
    meta = json.loads((kernel_dir / "task.json").read_text())
    assert meta["kind"] == "ara.w2s-student-task/1"
    assert meta["config"]["seeds"] == [0, 1, 2]
    assert (meta["config"]["cache_dir"], meta["config"]["data_root"]) == (None, None), "no host path in task.json"
    assert str(tmp_path) not in (kernel_dir / "task.json").read_text()
    submitted = train_w2s_task(kernel_dir)
    assert submitted == ["seed0.w2s", "seed1.w2s", "seed2.w2s"]
    (kernel_dir / "results.json").write_text('{"forged": true}')  # the kernel's own file is never read
    result = score_w2s_task(config, kernel_dir, out_dir)
    written = json.loads((out_dir / "results.json").read_text())
    assert written["schema"] == "ara.results/1"
    assert written["metrics"]["w2s_acc"]["mean"] == pytest.approx(result.w2s_acc.mean)
    assert written["provenance"]["test_split"].startswith("fixed across seeds (200 examples")
    assert written["verification"] == {
        "scored_by": "host",
        "note": "scored on the host against data the experiment code never saw",
        "red_flags": [],
    }
    assert (out_dir / "figures" / "seed_accuracies.png").read_bytes().startswith(b"\x89PNG")
    assert (kernel_dir / "results.json").read_text() == '{"forged": true}'
    # Digit parity from coarse pixels is a weak supervisor the strong MLP clearly beats.
    assert result.ceiling_acc.mean > result.weak_acc.mean + 0.05
    assert 0.0 < result.w2s_acc.mean <= 1.0
    assert result.pgr.n + result.pgr.excluded == 3
    # Beside the per-seed intervals: one over the fixed test items, each item's share of seeds right.
    for name, per_seed in (
        ("weak_acc", result.weak_acc),
        ("w2s_acc", result.w2s_acc),
        ("ceiling_acc", result.ceiling_acc),
    ):
        items = written["metrics"][f"{name}.items"]
        assert (items["over"], items["n"], len(items["values"])) == ("items", 200, 200)
        assert set(items["values"]) <= {0.0, 1 / 3, 2 / 3, 1.0}
        assert items["mean"] == pytest.approx(per_seed.mean), "the mean over items of seed shares = the seeds' mean"
        assert items["ci_low"] < items["mean"] < items["ci_high"]
    assert written["metrics"]["w2s_acc"]["n"] == 3, "the per-seed record is unchanged"


def test_submitting_the_ceilings_predictions_as_the_students_is_flagged_suspect(tmp_path: Path) -> None:
    from tools.w2s.heldout import _host_side

    config = _config(seeds=[0, 1], epochs=30, cache_dir=tmp_path / "host-cache")
    kernel_dir = tmp_path / "work"
    export_w2s_task(config, kernel_dir)
    host = _host_side(config)  # what an attacker would need: the ceiling's predictions (here from the host itself)
    (kernel_dir / "submissions").mkdir()
    for seed, base in host.seeds.items():
        np.save(kernel_dir / "submissions" / f"seed{seed}.w2s.npy", base.ceiling_t)
    result = score_w2s_task(config, kernel_dir, tmp_path / "out")
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    codes = [(f["code"], f["detail"].split(":")[0]) for f in written["verification"]["red_flags"]]
    assert ("student_equals_ceiling", "seed 0") in codes
    assert ("student_equals_ceiling", "seed 1") in codes
    assert result.w2s_acc.mean == result.ceiling_acc.mean, "the numbers are kept; the flags say they are suspect"


def test_a_forged_or_missing_submission_is_a_clear_error(tmp_path: Path) -> None:
    config = _config(seeds=[0])
    run_dir = tmp_path / "run"
    run_w2s_heldout(config, run_dir)
    submission = run_dir / "submissions" / "seed0.w2s.npy"
    np.save(submission, np.ones(5, dtype=np.float32))
    with pytest.raises(RunFileError, match=r"seed0\.w2s\.npy has shape \(5,\); expected \(200,\)"):
        score_w2s_task(config, run_dir)
    np.save(submission, np.full((200, 1), 0.5, dtype=np.float32))
    with pytest.raises(RunFileError, match=r"has shape \(200, 1\); expected \(200,\)"):
        score_w2s_task(config, run_dir)
    np.save(submission, np.full(200, 0.5 + 0.5j))
    with pytest.raises(RunFileError, match=r"holds complex128 values"):
        score_w2s_task(config, run_dir)
    np.save(submission, np.full(200, 1e30))
    with pytest.raises(RunFileError, match=r"holds 1e\+30, above the allowed maximum 1\.0"):
        score_w2s_task(config, run_dir)
    np.save(submission, np.full(200, np.nan, dtype=np.float32))
    with pytest.raises(RunFileError, match="200 NaN or infinite values"):
        score_w2s_task(config, run_dir)
    submission.unlink()
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


def test_bow_weak_supervisors_are_fitted_on_the_host_and_no_text_reaches_the_kernel(tmp_path: Path) -> None:
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
    assert sorted(p.name for p in run_dir.iterdir() if p.is_file()) == [
        "config.json",
        "results.json",
        "task.json",
        "task.npz",
    ]
    assert 0.5 < result.ceiling_acc.mean <= 1.0
