"""CCS (loss, restarts, sign fixing), the supervised probe and the by-layer comparison on small arrays."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from tools.datasets import load_dataset
from tools.errors import UserInputError
from tools.probes import ProbeConfig, compare_on_arrays, run_probe_comparison, train_ccs
from tools.probes.ccs import ccs_accuracy, ccs_loss, fit_pair_norm, normalize_pairs


def _pairs(n: int = 240, d: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    base = rng.normal(size=(n, d))
    truth = np.outer(2 * y - 1, np.eye(d)[0]) * 1.5
    return (base - truth).astype(np.float32), (base + truth).astype(np.float32), y.astype(np.int64)


def test_ccs_loss_is_zero_only_for_consistent_confident_pairs() -> None:
    p_pos = torch.tensor([[1.0, 0.0]])
    assert ccs_loss(1 - p_pos, p_pos).item() == pytest.approx(0.0)
    assert ccs_loss(torch.tensor([[0.5]]), torch.tensor([[0.5]])).item() == pytest.approx(0.25)
    assert ccs_loss(torch.tensor([[0.9]]), torch.tensor([[0.9]])).item() == pytest.approx(0.64 + 0.81)


def test_ccs_finds_the_direction_and_the_dev_slice_fixes_its_sign() -> None:
    x_neg, x_pos, y = _pairs()
    norm = fit_pair_norm(x_neg, x_pos)
    n_neg, n_pos = normalize_pairs(norm, x_neg, x_pos)
    fit = train_ccs(n_neg, n_pos, restarts=4, epochs=300, dev=(n_neg[:40], n_pos[:40], y[:40]))
    assert fit.weights.shape == (4, 12)
    assert fit.best == int(np.argmin(fit.losses))
    assert ccs_accuracy(fit, n_neg, n_pos, fit.best, y) > 0.9
    flipped = train_ccs(n_neg, n_pos, restarts=4, epochs=300, dev=(n_neg[:40], n_pos[:40], 1 - y[:40]))
    assert ccs_accuracy(flipped, n_neg, n_pos, flipped.best, y) < 0.1


def test_compare_on_arrays_reports_every_restart() -> None:
    x_neg, x_pos, y = _pairs()
    idx = np.arange(240)
    [layer] = compare_on_arrays({3: x_neg}, {3: x_pos}, y, idx[:160], idx[:30], idx[160:], restarts=5, epochs=200)
    assert layer.layer == 3
    assert layer.probe_acc > 0.9
    assert len(layer.ccs_restart_accs) == 5
    assert layer.ccs_min <= layer.ccs_acc <= layer.ccs_max
    bad = x_neg.copy()
    bad[0, 0] = np.inf
    with pytest.raises(UserInputError, match="layer 3 activations contain 1 NaN/inf"):
        compare_on_arrays({3: bad}, {3: x_pos}, y, idx[:160], idx[:30], idx[160:], restarts=1, epochs=5)


class FakeActivations:
    """Deterministic stand-in for SmolLM2Activations: a label direction plus text-hash noise, records calls."""

    def __init__(self, fresh: set[str]) -> None:
        self.fresh = fresh
        self.calls: list[tuple[int, tuple[int, ...], str, bool]] = []

    def extract(
        self, texts: Sequence[str], layers: Sequence[int], *, pooling: str = "mean", last_token_logprob: bool = False
    ) -> dict[int, np.ndarray]:
        self.calls.append((len(texts), tuple(layers), pooling, last_token_logprob))
        out: dict[int, np.ndarray] = {}
        rows = []
        for text in texts:
            seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
            review = text.split("\n")[0]
            says_positive = text.endswith(" positive")
            agrees = (review in self.fresh) == says_positive
            vec = np.random.default_rng(seed).normal(size=8)
            vec[0] += 2.0 if agrees else -2.0
            rows.append(vec)
        for layer in layers:
            out[layer] = (np.asarray(rows) * (layer / 4)).astype(np.float32)
        if last_token_logprob:
            out[-1] = np.asarray([[-1.0 if t.endswith(" positive") else -1.2] for t in texts], dtype=np.float32)
        return out


def test_run_probe_comparison_writes_results(tmp_path: Path) -> None:
    data = load_dataset("rotten_tomatoes")
    fresh = {f"Review: {t}" for t, label in zip(data.texts, data.labels, strict=True) if label == 1}
    fake = FakeActivations(fresh)
    config = ProbeConfig(
        dataset="rotten_tomatoes", layers=[4, 8], n_train=120, n_dev=20, n_test=80, ccs_restarts=3, ccs_epochs=200
    )
    result = run_probe_comparison(config, tmp_path / "out", activations=fake)
    assert fake.calls == [(200, (4, 8), "last", True), (200, (4, 8), "last", True)]
    assert [r.layer for r in result.layers] == [4, 8]
    assert all(r.probe_acc > 0.9 for r in result.layers)
    assert result.zero_shot_acc == pytest.approx(float(np.mean(result_labels(config, data))))
    payload = json.loads(result.results_path.read_text())
    assert payload["tool"] == "tools.probes"
    assert payload["tables"]["by_layer"]["columns"][:3] == ["layer", "probe_acc", "ccs_acc"]
    assert payload["metrics"]["ccs_restarts.layer_8"]["n"] == 3
    assert (result.out_dir / payload["figures"]["by_layer"]).is_file()


def result_labels(config: ProbeConfig, data: object) -> np.ndarray:
    """The fake's zero-shot always prefers ' positive', so its accuracy is the test split's share of fresh."""
    labels = load_dataset("rotten_tomatoes").labels
    pool = np.random.default_rng(config.seed).permutation(labels.size)[: config.n_train + config.n_test]
    return labels[pool][config.n_train :]


def test_probe_config_rejects_bad_input() -> None:
    with pytest.raises(ValidationError, match="has no contrast prompts; valid datasets: rotten_tomatoes"):
        ProbeConfig(dataset="sk_breast_cancer")
    with pytest.raises(ValidationError, match=r"layers \[31\] are out of range"):
        ProbeConfig(dataset="rotten_tomatoes", layers=[4, 31])


def test_probe_sizes_larger_than_data(tmp_path: Path, shared_dir: Path) -> None:
    config = ProbeConfig(
        dataset="misconceptions", data_root=shared_dir / "datasets" / "bigbench_tasks", n_train=200, n_test=100
    )
    with pytest.raises(UserInputError, match="n_train \\+ n_test = 300 but dataset 'misconceptions' has 219"):
        run_probe_comparison(config, tmp_path / "out", activations=FakeActivations(set()))
