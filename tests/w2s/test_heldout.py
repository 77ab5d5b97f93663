"""Held-out labels stay on the host: the kernel-side task has no test labels, in memory or in the run dir."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tools.errors import UserInputError
from tools.w2s import HeldoutScorer, KernelTask, W2SConfig, run_w2s


def _task(tmp_path: Path) -> tuple[HeldoutScorer, np.ndarray, np.ndarray, Path]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(np.int64)
    scorer = HeldoutScorer(y[200:])
    run_dir = tmp_path / "run"
    scorer.export_task(
        run_dir, inputs={"x_train": x[:200]}, train_labels={"y_train": y[:200]}, test_inputs=x[200:], description="demo"
    )
    return scorer, x, y, run_dir


def _every_array_in(run_dir: Path) -> list[np.ndarray]:
    arrays: list[np.ndarray] = []
    for path in run_dir.rglob("*"):
        if path.suffix == ".npz":
            with np.load(path) as npz:
                arrays += [npz[name] for name in npz.files]
        elif path.suffix == ".npy":
            arrays.append(np.load(path))
    return arrays


def test_kernel_task_exposes_no_test_labels(tmp_path: Path) -> None:
    _, _, y, run_dir = _task(tmp_path)
    task = KernelTask.load(run_dir)
    assert sorted(task.arrays) == ["x_test", "x_train", "y_train"]
    assert not any("label" in name and "test" in name for name in dir(task))
    assert not [a for a in _every_array_in(run_dir) if a.shape == y[200:].shape and np.array_equal(a, y[200:])]


def test_kernel_submits_and_the_host_scores(tmp_path: Path) -> None:
    scorer, _x, _y, run_dir = _task(tmp_path)
    code = (
        "import sys, numpy as np\n"
        "from tools.w2s import KernelTask\n"
        "task = KernelTask.load(sys.argv[1])\n"
        "w = np.linalg.lstsq(task.arrays['x_train'], task.arrays['y_train'] * 2.0 - 1, rcond=None)[0]\n"
        "task.submit('lstsq', (task.x_test @ w > 0).astype(float))\n"
        "print(sorted(vars(task)), hasattr(task, 'y_test'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(run_dir)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['arrays', 'description', 'run_dir'] False"
    score = scorer.score_submission(run_dir, "lstsq")
    assert score.n == 100
    assert score.accuracy > 0.9
    with pytest.raises(UserInputError, match="no submission 'missing'"):
        scorer.score_submission(run_dir, "missing")


def test_scorer_refuses_to_travel_or_to_export_its_labels(tmp_path: Path) -> None:
    scorer, x, y, run_dir = _task(tmp_path)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(scorer)
    with pytest.raises(UserInputError, match="equals the held-out labels"):
        scorer.export_task(run_dir, inputs={}, train_labels={"y": y[200:]}, test_inputs=x[200:])
    with pytest.raises(UserInputError, match="expected 100"):
        scorer.score(np.zeros(3))
    assert repr(scorer) == "HeldoutScorer(n=100)"


def test_run_dir_of_run_w2s_holds_no_test_labels(tmp_path: Path) -> None:
    config = W2SConfig(
        dataset="sk_breast_cancer",
        weak_features="tab_coarse",
        strong_features="tab_raw",
        n_weak_train=100,
        n_strong_train=100,
        n_test=100,
        seeds=[0],
        epochs=3,
        cache_dir=None,
    )
    out = tmp_path / "run"
    run_w2s(config, out)
    from tools.datasets import load_dataset
    from tools.w2s.splits import pool_indices, split_pool

    data = load_dataset("sk_breast_cancer")
    test_labels = data.labels[pool_indices(data, 300, 0)][split_pool(100, 100, 100, 0).test]
    arrays = _every_array_in(out)
    assert arrays, "run_w2s wrote its predictions"
    assert not [a for a in arrays if np.array_equal(a, test_labels)]
    assert str(test_labels.tolist()) not in (out / "results.json").read_text()
