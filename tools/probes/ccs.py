"""Contrast-Consistent Search (Burns et al. 2022) and the supervised linear probe it is compared with.

Covers:
- ``normalize_pairs``: each side of the contrast pair is mean-centred and scaled by its own training statistics
  (the paper's normalisation, which removes the "which answer was appended" direction).
- ``train_ccs``: ``restarts`` random initialisations of a linear probe ``p(x) = sigmoid(w.x + b)`` trained
  together (vectorised; each restart has its own parameters and Adam state) on the unsupervised loss
  ``mean((p(x+) - (1 - p(x-)))^2) + mean(min(p(x+), p(x-))^2)`` (consistency + confidence), with weight decay.
  The restart with the lowest final loss is selected, as in the paper.
- Sign fixing: CCS cannot know which direction means "true"; each restart's sign is fixed on a small labelled
  dev slice (never the test split).
- ``train_probe``: logistic regression on the normalised difference ``x+ - x-`` (a supervised upper reference).

Does not cover the deep (MLP) CCS variant.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from tools.research.heads import single_thread

Matrix = npt.NDArray[np.float32]


class PairNorm(NamedTuple):
    """Per-side mean and std from the training split."""

    mean_neg: Matrix
    std_neg: Matrix
    mean_pos: Matrix
    std_pos: Matrix


def fit_pair_norm(x_neg: Matrix, x_pos: Matrix) -> PairNorm:
    """Training statistics for ``normalize_pairs``."""
    return PairNorm(x_neg.mean(axis=0), x_neg.std(axis=0) + 1e-6, x_pos.mean(axis=0), x_pos.std(axis=0) + 1e-6)


def normalize_pairs(norm: PairNorm, x_neg: Matrix, x_pos: Matrix) -> tuple[Matrix, Matrix]:
    """Centre and scale each side of the pairs with its own training statistics."""
    return (x_neg - norm.mean_neg) / norm.std_neg, (x_pos - norm.mean_pos) / norm.std_pos


class CCSFit(NamedTuple):
    """All restarts of one CCS fit."""

    weights: Matrix
    """``(restarts, d)`` direction of each restart (sign already fixed on the dev slice)."""
    bias: Matrix
    """``(restarts,)`` bias of each restart (sign-fixed with the weights)."""
    losses: Matrix
    """Final unsupervised CCS loss of each restart (lower is better; selection uses only this)."""
    best: int
    """Index of the restart with the lowest loss."""


def ccs_loss(p_neg: Any, p_pos: Any) -> Any:
    """Per-restart CCS loss for probabilities of shape ``(restarts, n)``."""
    import torch

    consistency = ((p_pos - (1.0 - p_neg)) ** 2).mean(dim=1)
    confidence = (torch.minimum(p_pos, p_neg) ** 2).mean(dim=1)
    return consistency + confidence


def train_ccs(
    x_neg: Matrix,
    x_pos: Matrix,
    *,
    restarts: int = 10,
    epochs: int = 1000,
    lr: float = 1e-2,
    weight_decay: float = 0.01,
    seed: int = 0,
    dev: tuple[Matrix, Matrix, npt.NDArray[np.int64]] | None = None,
) -> CCSFit:
    """Train ``restarts`` linear CCS probes on normalised contrast pairs (full batch, Adam).

    Args:
        x_neg, x_pos: Normalised hidden states of the "class 0" and "class 1" completions, ``(n, d)`` each.
        dev: Optional labelled ``(x_neg, x_pos, labels)`` slice used only to fix each restart's sign.

    Example:
        >>> rng = np.random.default_rng(0); y = rng.integers(0, 2, 200); d = rng.normal(size=(200, 8))
        >>> d[:, 0] += 3 * (2 * y - 1); fit = train_ccs(-d.astype(np.float32), d.astype(np.float32), restarts=3,
        ...                                              epochs=300, dev=(-d[:50], d[:50], y[:50]))
        >>> float(ccs_accuracy(fit, -d, d, fit.best, y)) > 0.9
        True
    """
    with single_thread():
        return _train_ccs(x_neg, x_pos, restarts, epochs, lr, weight_decay, seed, dev)


def _train_ccs(
    x_neg: Matrix,
    x_pos: Matrix,
    restarts: int,
    epochs: int,
    lr: float,
    weight_decay: float,
    seed: int,
    dev: tuple[Matrix, Matrix, npt.NDArray[np.int64]] | None,
) -> CCSFit:
    import torch

    generator = torch.Generator().manual_seed(seed)
    d = x_neg.shape[1]
    w = torch.randn(restarts, d, generator=generator) / np.sqrt(d)
    b = torch.zeros(restarts)
    w.requires_grad_(True)
    b.requires_grad_(True)
    xn = torch.from_numpy(np.asarray(x_neg, dtype=np.float32))
    xp = torch.from_numpy(np.asarray(x_pos, dtype=np.float32))
    optimiser = torch.optim.AdamW([w, b], lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        p_neg = torch.sigmoid(w @ xn.T + b[:, None])
        p_pos = torch.sigmoid(w @ xp.T + b[:, None])
        loss = ccs_loss(p_neg, p_pos)
        optimiser.zero_grad()
        loss.sum().backward()
        optimiser.step()
    with torch.no_grad():
        final = ccs_loss(torch.sigmoid(w @ xn.T + b[:, None]), torch.sigmoid(w @ xp.T + b[:, None]))
    weights = w.detach().numpy().astype(np.float32)
    bias = b.detach().numpy().astype(np.float32)
    losses = final.numpy().astype(np.float32)
    if dev is not None:
        dev_neg, dev_pos, dev_y = dev
        for r in range(restarts):
            probs = _ccs_probs(weights[r], bias[r], dev_neg, dev_pos)
            if np.mean((probs > 0.5) == dev_y) < 0.5:
                weights[r], bias[r] = -weights[r], -bias[r]
    return CCSFit(weights=weights, bias=bias, losses=losses, best=int(np.argmin(losses)))


def _ccs_probs(w: Matrix, b: Any, x_neg: npt.NDArray[Any], x_pos: npt.NDArray[Any]) -> Matrix:
    def sig(z: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    p_pos = sig(np.asarray(x_pos) @ w + b)
    p_neg = sig(np.asarray(x_neg) @ w + b)
    return (0.5 * (p_pos + (1.0 - p_neg))).astype(np.float32)


def ccs_predict(fit: CCSFit, restart: int, x_neg: npt.NDArray[Any], x_pos: npt.NDArray[Any]) -> Matrix:
    """P(class 1) of one restart: the average of ``p(x+)`` and ``1 - p(x-)``."""
    return _ccs_probs(fit.weights[restart], fit.bias[restart], x_neg, x_pos)


def ccs_accuracy(
    fit: CCSFit, x_neg: npt.NDArray[Any], x_pos: npt.NDArray[Any], restart: int, labels: npt.NDArray[Any]
) -> float:
    """Accuracy of one (sign-fixed) restart."""
    return float(np.mean((ccs_predict(fit, restart, x_neg, x_pos) > 0.5) == np.asarray(labels)))


def train_probe(x_neg: Matrix, x_pos: Matrix, labels: npt.NDArray[np.int64], *, seed: int = 0) -> Any:
    """Logistic regression (C=0.1) on ``x+ - x-``; returns the fitted sklearn model."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=0.1, max_iter=3000, random_state=seed)
    model.fit(x_pos - x_neg, labels)
    return model
