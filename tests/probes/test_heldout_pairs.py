"""Probe / CCS comparisons in their held-out form: the kernel gets the pairs and the dev labels only and fits CCS;
the host fits the supervised probe, scores everything and flags a CCS submission that copies the probe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.evals.test_probes_bridge import FakeActivations as HonestyActivations
from tests.probes.test_ccs import FakeActivations
from tools.datasets import load_dataset
from tools.errors import UserInputError
from tools.evals.data import contrast_pairs, load_bigbench
from tools.evals.probes import HonestyProbeConfig, export_honesty_task, run_honesty_probes, score_honesty_task
from tools.probes import ProbeConfig, run_probe_comparison
from tools.probes.comparison import probe_inputs
from tools.probes.heldout import export_probe_task, score_probe_task, train_pair_task


def _config() -> ProbeConfig:
    return ProbeConfig(
        dataset="rotten_tomatoes", layers=[4, 8], n_train=120, n_dev=20, n_test=80, ccs_restarts=3, ccs_epochs=200
    )


def _fake() -> FakeActivations:
    data = load_dataset("rotten_tomatoes")
    return FakeActivations({f"Review: {t}" for t, label in zip(data.texts, data.labels, strict=True) if label == 1})


def test_held_out_probe_comparison_equals_the_in_process_one(tmp_path: Path) -> None:
    config, run_dir = _config(), tmp_path / "run"
    export_probe_task(config, run_dir, activations=_fake())
    test_labels = probe_inputs(config, activations=_fake()).labels[120:]
    with np.load(run_dir / "task.npz") as npz:
        arrays = {name: npz[name] for name in npz.files}
    assert sorted(arrays) == ["dev", "neg_layer4", "neg_layer8", "pos_layer4", "pos_layer8", "x_test", "y_dev"]
    assert arrays["neg_layer4"].shape == (200, 8)
    assert arrays["y_dev"].shape == (20,), "only the dev slice's labels: the supervised probe is the host's"
    assert not any(a.shape == test_labels.shape and np.array_equal(a, test_labels) for a in arrays.values())
    names = train_pair_task(run_dir)
    assert names[:3] == ["layer4.ccs0", "layer4.ccs1", "layer4.ccs2"]
    assert len(names) == 6
    held_out = score_probe_task(config, run_dir, tmp_path / "host", activations=_fake())
    local = run_probe_comparison(config, tmp_path / "local", activations=_fake())
    assert held_out.layers == local.layers
    assert held_out.zero_shot_acc == local.zero_shot_acc
    written = json.loads((tmp_path / "host" / "results.json").read_text())
    assert written["metrics"]["probe_acc.layer_8"]["mean"] > 0.9
    assert written["metrics"]["probe_acc.layer_8"]["over"] == "items"
    assert written["verification"]["scored_by"] == "host"
    assert not (run_dir / "results.json").exists(), "the host's results go to its own directory"


def test_ccs_submissions_that_copy_the_probe_are_flagged(tmp_path: Path) -> None:
    from tools.probes.comparison import predict_probe

    config, run_dir = _config(), tmp_path / "run"
    export_probe_task(config, run_dir, activations=_fake())
    train_pair_task(run_dir)
    inputs = probe_inputs(config, activations=_fake())
    probe = predict_probe(inputs.acts_neg[8], inputs.acts_pos[8], inputs.labels, inputs.train, inputs.test, layer=8)
    np.save(run_dir / "submissions" / "layer8.ccs1.npy", probe)  # the probe passed off as a CCS restart
    score_probe_task(config, run_dir, activations=_fake())
    flags = json.loads((run_dir / "results.json").read_text())["verification"]["red_flags"]
    assert [(f["code"], f["detail"].split(":")[0]) for f in flags] == [("ccs_equals_probe", "layer 8 restart 1")]


def test_missing_or_forged_submissions_are_clear_errors(tmp_path: Path) -> None:
    config, run_dir = _config(), tmp_path / "run"
    export_probe_task(config, run_dir, activations=_fake())
    with pytest.raises(UserInputError, match=r"ccs_best\.json is missing or not JSON"):
        score_probe_task(config, run_dir, activations=_fake())
    (run_dir / "submissions").mkdir()
    (run_dir / "submissions" / "ccs_best.json").symlink_to("/etc/hostname")
    with pytest.raises(UserInputError, match=r"ccs_best\.json is a symbolic link"):
        score_probe_task(config, run_dir, activations=_fake())
    (run_dir / "submissions" / "ccs_best.json").unlink()
    train_pair_task(run_dir)
    (run_dir / "submissions" / "ccs_best.json").write_text('{"4": 7, "8": 0}')
    with pytest.raises(UserInputError, match=r"layer 4: best CCS restart 7 is not one of 0\.\.2"):
        score_probe_task(config, run_dir, activations=_fake())
    (run_dir / "submissions" / "ccs_best.json").write_text('{"4": 0, "8": 0}')
    (run_dir / "submissions" / "layer8.ccs2.npy").unlink()
    with pytest.raises(UserInputError, match=r"no submission 'layer8\.ccs2'"):
        score_probe_task(config, run_dir, activations=_fake())


def test_held_out_honesty_probes_equal_the_in_process_ones(shared_dir: Path, tmp_path: Path) -> None:
    tasks = shared_dir / "datasets" / "bigbench_tasks"
    items = load_bigbench(tasks, "misconceptions", limit=80)
    truth = {p.positive.rsplit("\nIs this true? ", 1)[0]: p.label for p in contrast_pairs(items)}
    base = {"task": "misconceptions", "source": tasks, "limit": 80, "layers": (2, 8), "ccs_restarts": 2}
    config = HonestyProbeConfig.model_validate({**base, "ccs_epochs": 50, "run_dir": tmp_path / "run"})
    export_honesty_task(config, activations=HonestyActivations(truth))
    train_pair_task(config.run_dir)
    held_out = score_honesty_task(config, activations=HonestyActivations(truth))
    local = run_honesty_probes(
        config.model_copy(update={"run_dir": tmp_path / "local"}), activations=HonestyActivations(truth)
    )
    assert held_out["tables"] == local["tables"]
    assert held_out["metrics"]["zero_shot_acc"] == local["metrics"]["zero_shot_acc"]


def test_held_out_rows_do_not_keep_the_files_order(shared_dir: Path) -> None:
    from pydantic import ValidationError

    from tools.evals.probes import honesty_inputs
    from tools.w2s import W2SConfig

    tasks = shared_dir / "datasets" / "bigbench_tasks"
    items = load_bigbench(tasks, "truthful_qa", limit=40)
    truth = {p.positive.rsplit("\nIs this true? ", 1)[0]: p.label for p in contrast_pairs(items)}
    config = HonestyProbeConfig(task="truthful_qa", source=tasks, limit=40, layers=(8,))
    inputs = honesty_inputs(config, activations=HonestyActivations(truth))
    test = inputs.test.tolist()
    assert sorted(test) != test, "in file order every question's true answer comes first"
    assert sorted(test) == sorted(set(range(inputs.labels.size)) - set(inputs.train.tolist()))
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        HonestyProbeConfig(task="truthful_qa", seed=-1)
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        ProbeConfig(dataset="rotten_tomatoes", seed=-1)
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        W2SConfig(dataset="sk_digits_parity", weak_features="tab_coarse", strong_features="tab_raw", seeds=[0, -3])
