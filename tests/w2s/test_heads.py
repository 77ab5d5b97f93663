"""Student losses (xent, aux_conf hardening and warm-up, bootstrap) and weak supervisors on small real arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tools.errors import UserInputError
from tools.research.heads import _target, aux_conf_target, fit_weak, predict_head, train_head


def test_aux_conf_hardens_at_the_weak_positive_rate() -> None:
    logits = torch.tensor(
        [[3.0, 0.0], [1.0, 0.0], [0.0, 0.5], [0.0, 2.0], [0.0, 1.0], [2.0, 0.0], [0.5, 0.0], [0.0, 3.0]]
    )
    weak = torch.tensor([[1.0, 0.0]] * 6 + [[0.0, 1.0]] * 2)  # weak labels: 2 of 8 positive
    target = aux_conf_target(logits, weak, coef=1.0)
    hard_positive = target[:, 1]
    assert hard_positive.sum().item() == pytest.approx(2.0)
    assert hard_positive[[3, 7]].tolist() == [1.0, 1.0]  # the two most confident class-1 predictions
    mixed = aux_conf_target(logits, weak, coef=0.5)
    assert torch.allclose(mixed, 0.5 * weak + 0.5 * target)
    soft = torch.tensor([[0.9, 0.1]] * 6 + [[0.1, 0.9]] * 2)  # soft labels: positive rate is their mean, 0.3
    assert aux_conf_target(logits, soft, coef=1.0)[:, 1].sum().item() == pytest.approx(3.0)


def test_warmup_schedule_follows_the_reference() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    weak = torch.tensor([[0.2, 0.8], [0.8, 0.2]])
    assert torch.equal(_target("xent", logits, weak, 0.5, 0.5, 0.1), weak)
    early = _target("aux_conf", logits, weak, 0.05, 0.5, 0.1)  # coef = 0.5 * 0.05
    late = _target("aux_conf", logits, weak, 0.5, 0.5, 0.1)  # coef = 0.5
    hard = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert torch.allclose(early, weak * (1 - 0.025) + hard * 0.025)
    assert torch.allclose(late, weak * 0.5 + hard * 0.5)
    boot = _target("bootstrap", logits, weak, 0.5, 0.5, 0.1)
    assert torch.allclose(boot, weak * 0.8 + hard * 0.2)


@pytest.mark.parametrize("loss", ["xent", "aux_conf", "bootstrap"])
@pytest.mark.parametrize("head", ["linear", "mlp"])
def test_heads_learn_a_separable_rule(loss: str, head: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)
    arrays = train_head(x, y, head=head, loss=loss, seed=0, epochs=20, lr=1e-2)  # type: ignore[arg-type]
    probs = predict_head(arrays, x)
    assert probs.shape == (200,)
    assert float(np.mean((probs > 0.5) == (y > 0.5))) > 0.9


def test_training_is_deterministic_per_seed() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    a = train_head(x, y, head="mlp", loss="aux_conf", seed=3, epochs=3, hidden=8)
    b = train_head(x, y, head="mlp", loss="aux_conf", seed=3, epochs=3, hidden=8)
    np.testing.assert_array_equal(a["param.2.weight"], b["param.2.weight"])


def test_weak_supervisors_and_one_class_labels() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(120, 5)).astype(np.float32)
    y = (x[:, 2] > 0).astype(np.int64)
    for head in ("logreg", "mlp"):
        [p] = fit_weak(x[:80], y[:80], [x[80:]], head=head, seed=0)  # type: ignore[arg-type]
        assert float(np.mean((p > 0.5) == y[80:])) > 0.8
    with pytest.raises(UserInputError, match=r"labels of one class only \(\[1\]\)"):
        fit_weak(x[:10], np.ones(10, dtype=np.int64), [x], head="logreg", seed=0)
