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
