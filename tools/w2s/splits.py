"""The example pool and its per-seed split into A (weak ground truth), B (student) and test.

The pool (``n_weak_train + n_strong_train + n_test`` examples chosen by ``data_seed``) is the same for every seed,
so features are computed once; each seed then shuffles the pool into the three splits.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from tools.datasets import Dataset
from tools.errors import UserInputError

Index = npt.NDArray[np.int64]


class Splits(NamedTuple):
    """Positions into the pool (not dataset indices) of each split."""

    weak_train: Index
    strong_train: Index
    test: Index


def pool_indices(data: Dataset, n_total: int, data_seed: int) -> Index:
    """Dataset indices of the pool, or ``UserInputError`` when the split sizes exceed the data."""
    if n_total > data.n:
        raise UserInputError(
            f"split sizes need {n_total} examples but dataset {data.name!r} has {data.n}; "
            "lower n_weak_train / n_strong_train / n_test"
        )
    return np.random.default_rng(data_seed).permutation(data.n)[:n_total].astype(np.int64)


def split_pool(n_weak: int, n_strong: int, n_test: int, seed: int) -> Splits:
    """Shuffle pool positions with ``seed`` and cut them into A, B and test."""
    order = np.random.default_rng(10_000 + seed).permutation(n_weak + n_strong + n_test).astype(np.int64)
    return Splits(order[:n_weak], order[n_weak : n_weak + n_strong], order[n_weak + n_strong :])
