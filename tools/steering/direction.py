"""Steering directions from contrast pairs, and the random control of the same norm.

A contrast pair is one item answered correctly and incorrectly (its prompt followed by the right choice, and by its
first wrong one); the activations are the last token's at the steered layer. ``direction`` is the unit vector of
``mean(correct) - mean(incorrect)`` (``mean_diff``) or of a logistic probe's weights separating them (``probe``),
fitted on a bootstrap resample of the pairs drawn by the seed; ``scale`` is the mean norm of all the pairs'
activations (``activation_scale``), so a coefficient is in units of the layer's typical activation norm. ``random_direction`` is a Gaussian unit vector
drawn by the seed: the control steered with the same coefficient and scale. Does not run the model.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from tools.steering.config import DirectionMethod

Matrix = npt.NDArray[np.float32]


class Direction(NamedTuple):
    """A unit steering direction and the activation norm its coefficients are measured in."""

    unit: npt.NDArray[np.float32]
    """Unit vector (hidden width)."""
    scale: float
    """Mean norm of the contrast activations at the layer."""

    def vector(self, coefficient: float) -> npt.NDArray[np.float32]:
        """What is added to the layer's output: ``coefficient * scale * unit``."""
        return (self.unit * np.float32(coefficient * self.scale)).astype(np.float32)


def _unit(v: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("the contrast activations give a zero direction (the two sides are identical)")
    return (v / norm).astype(np.float32)


def activation_scale(positive: Matrix, negative: Matrix) -> float:
    """Mean norm of all contrast activations: the unit a coefficient is measured in (the same for every seed)."""
    return float(np.linalg.norm(np.concatenate([positive, negative]).astype(np.float64), axis=1).mean())


def direction(positive: Matrix, negative: Matrix, method: DirectionMethod, seed: int) -> Direction:
    """The direction from ``positive`` minus ``negative`` activations (paired rows), on a resample drawn by ``seed``.

    Raises:
        ValueError: the pairs' shapes differ, fewer than two pairs, or the direction is zero.
    """
    if positive.shape != negative.shape or positive.ndim != 2 or positive.shape[0] < 2:
        raise ValueError(
            f"contrast activations must be two equal (pairs, hidden) arrays: {positive.shape} vs {negative.shape}"
        )
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, positive.shape[0], size=positive.shape[0])
    pos, neg = positive[rows].astype(np.float64), negative[rows].astype(np.float64)
    scale = activation_scale(positive, negative)
    if method == "mean_diff":
        return Direction(_unit(pos.mean(axis=0) - neg.mean(axis=0)), scale)
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([pos, neg])
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    probe = LogisticRegression(max_iter=2000, C=0.1, random_state=seed).fit((x - mean) / std, labels)
    return Direction(_unit(probe.coef_[0] / std), scale)  # the weights mapped back to the raw activation space


def random_direction(width: int, seed: int, scale: float) -> Direction:
    """A Gaussian unit direction drawn by ``seed`` (a different stream than the resample's), with ``scale``."""
    rng = np.random.default_rng([seed, 1])
    return Direction(_unit(rng.standard_normal(width)), scale)
