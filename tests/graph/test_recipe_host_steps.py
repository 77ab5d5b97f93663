"""Recipes with host steps: prepare on the host, the rendered cell (run here in-process), score on the host.

The real sandbox path is covered by tests/graph/test_integration.py (w2s) and tests/w2s/test_heldout_kernel.py;
these check each recipe's wiring with scripted activations: the host picks every path, the kernel-visible task has
no test labels, and results.json comes from the host, written into its own directory beside the kernel's.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.recipes import default_registry
from tests.evals.test_probes_bridge import FakeActivations as HonestyActivations
from tests.probes.test_ccs import FakeActivations
from tools.datasets import load_dataset
from tools.evals.data import contrast_pairs, load_bigbench


def _run(name: str, config: dict[str, object], run_dir: Path, cache: Path) -> dict[str, object]:
    recipe = default_registry().get(name)
    assert recipe.host is not None
    validated = recipe.validate_config(config)
    kernel_dir = run_dir / "work"
    kernel_dir.mkdir(parents=True)
    recipe.host.prepare(validated, kernel_dir, cache)
    code = recipe.render(validated, Path("."))
    assert "train_pair_task('.')" in code
    with contextlib.chdir(kernel_dir):
        exec(compile(code, "<cell>", "exec"), {})
    (kernel_dir / "results.json").write_text("{}")  # whatever the kernel wrote is never read
    recipe.host.score(validated, kernel_dir, run_dir, cache)
    result: dict[str, object] = json.loads((run_dir / "results.json").read_text())
    assert result["verification"] == {
        "scored_by": "host",
        "note": "scored on the host against data the experiment code never saw",
        "red_flags": [],
    }
    return result


def test_probes_recipe_exports_extracts_and_scores_on_the_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_dataset("rotten_tomatoes")
    fresh = {f"Review: {t}" for t, label in zip(data.texts, data.labels, strict=True) if label == 1}
    made: list[object] = []

    def fake(cache_dir: object, **kw: object) -> FakeActivations:
        made.append(cache_dir)
        return FakeActivations(fresh)

    monkeypatch.setattr("tools.research.activations.SmolLM2Activations", fake)
    config = {
        "dataset": "rotten_tomatoes",
        "layers": [4],
        "n_train": 80,
        "n_dev": 10,
        "n_test": 40,
        "ccs_restarts": 2,
        "ccs_epochs": 50,
        "cache_dir": "/etc/ara-cache",
    }
    results = _run("probes", config, tmp_path / "run", tmp_path / "cache")
    assert made == [tmp_path / "cache", tmp_path / "cache"], "the host's cache, not the model's path"
    assert results["tool"] == "tools.probes"
    metrics = results["metrics"]
    assert isinstance(metrics, dict)
    probe, ccs = metrics["probe_acc.layer_4"], metrics["ccs_acc.layer_4"]
    assert probe["mean"] > 0.9
    for metric in (probe, ccs, metrics["zero_shot_acc"]):
        assert (metric["over"], metric["n"], len(metric["values"])) == ("items", 40, 40), "an interval over items"
        assert set(metric["values"]) <= {0.0, 1.0}
        assert metric["ci_low"] <= metric["mean"] <= metric["ci_high"]
        assert metric["mean"] == pytest.approx(sum(metric["values"]) / 40)
    with np.load(tmp_path / "run" / "work" / "task.npz") as npz:
        assert npz["x_test"].tolist() == list(range(40))
        assert npz["y_dev"].shape == (10,)
        assert "y_train" not in npz.files


def test_honesty_recipe_reads_the_configured_bigbench_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_dir: Path
) -> None:
    tasks = shared_dir / "datasets" / "bigbench_tasks"
    monkeypatch.setenv("ARA_BIGBENCH_TASKS", str(tasks))
    items = load_bigbench(tasks, "misconceptions", limit=60)
    truth = {p.positive.rsplit("\nIs this true? ", 1)[0]: p.label for p in contrast_pairs(items)}
    monkeypatch.setattr("tools.probes.SmolLM2Activations", lambda *a, **k: HonestyActivations(truth))
    config = {
        "task": "misconceptions",
        "source": "/etc",  # a host path the model chose: ignored
        "limit": 60,
        "layers": [8],
        "ccs_restarts": 2,
        "ccs_epochs": 50,
    }
    results = _run("honesty_probes", config, tmp_path / "run", tmp_path / "cache")
    assert results["tool"] == "tools.evals.probes"
    metrics = results["metrics"]
    assert isinstance(metrics, dict)
    probe = metrics["probe_acc.layer_8"]
    assert (probe["mean"], probe["ci_low"], probe["ci_high"], probe["over"]) == (1.0, 1.0, 1.0, "items")
    assert metrics["ccs_acc.layer_8"]["n"] == metrics["zero_shot_acc"]["n"] == metrics["majority_class_acc"]["n"]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["source"] is None


@pytest.mark.anyio
async def test_host_step_failures_and_timeouts_fail_the_cell_and_steps_on_one_run_never_overlap(
    tmp_path: Path,
) -> None:
    from types import SimpleNamespace

    from assistant.budget import Budget
    from assistant.graph.nodes.cells import _host_step
    from assistant.recipes import HostSteps

    log: list[str] = []

    def slow(config: object, kernel_dir: Path, cache: Path | None) -> None:
        log.append("slow start")
        time.sleep(2.5)
        log.append("slow end")

    def quick(config: object, kernel_dir: Path, out_dir: Path, cache: Path | None) -> None:
        log.append("quick")

    def missing(config: object, kernel_dir: Path, out_dir: Path, cache: Path | None) -> None:
        raise FileNotFoundError(2, "No such file or directory", str(kernel_dir / "task.npz"))

    def invalid(config: object, kernel_dir: Path, cache: Path | None) -> None:
        np.random.default_rng(-1)

    ctx: Any = SimpleNamespace(budget=Budget(wall_s=10.0), host_cache_dir=None)
    state: Any = {"wall_used_s": 8.0}
    started = time.perf_counter()
    message = await _host_step(ctx, state, "prepare", (HostSteps(prepare=slow, score=quick), None), tmp_path, 1.0)
    assert message == "HostStepError: prepare on the host took longer than the 1 s of wall time left"
    assert time.perf_counter() - started < 2.0
    assert any(t.name == "ara-host-prepare" and t.daemon for t in threading.enumerate())
    # The abandoned step still holds the run directory: the next one waits for it, so its files win.
    assert await _host_step(ctx, {}, "score", (HostSteps(prepare=slow, score=quick), None), tmp_path, 0.0) is None
    assert log == ["slow start", "slow end", "quick"]
    message = await _host_step(ctx, {}, "score", (HostSteps(prepare=slow, score=missing), None), tmp_path, 0.0)
    assert message == (
        "HostStepError: score on the host failed: FileNotFoundError: [Errno 2] No such file or directory: "
        f"'{tmp_path / 'work' / 'task.npz'}'"
    )
    message = await _host_step(ctx, {}, "prepare", (HostSteps(prepare=invalid, score=quick), None), tmp_path, 0.0)
    assert message is not None
    assert message.startswith("HostStepError: prepare on the host failed: ValueError:")


def test_cells_rendered_before_host_steps_existed_run_as_written() -> None:
    from types import SimpleNamespace

    from assistant.graph.nodes.cells import _host_steps

    ctx: Any = SimpleNamespace(recipes=default_registry())
    assert _host_steps(ctx, {"recipe": "w2s", "code": "run_w2s(...)"}) is None
    assert _host_steps(ctx, {"recipe": None, "code": "print(1)", "config": None}) is None
    steps = _host_steps(
        ctx,
        {
            "recipe": "w2s",
            "config": {"dataset": "sk_digits_parity", "weak_features": "tab_coarse", "strong_features": "tab_raw"},
        },
    )
    assert steps is not None
    assert steps[1].dataset == "sk_digits_parity"


def test_ctrl_c_during_a_host_step_does_not_wait_for_it() -> None:
    script = """
import asyncio, os, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # background shells start children with SIGINT ignored
from assistant.graph.nodes.cells import _in_daemon_thread
async def main():
    loop = asyncio.get_running_loop()
    loop.call_later(0.5, os.kill, os.getpid(), signal.SIGINT)
    await _in_daemon_thread(lambda: time.sleep(30), "ara-host-prepare")
try:
    asyncio.run(main())
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20, check=False)
    assert done.stdout.strip() == "interrupted", done.stderr
    # Not a speed target: a joined 30 s step takes 30 s; the margin is for a loaded machine (seen: 13 s at load 12).
    assert time.perf_counter() - started < 25, "the 30 s host step was joined, not abandoned"
