"""Tabular datasets bundled inside scikit-learn (no download): breast cancer and digit parity.

- ``sk_breast_cancer``: 569 tumours x 30 features, label 1 = benign (sklearn's ``load_breast_cancer``).
- ``sk_digits_parity``: 1,797 8x8 handwritten digits x 64 pixels, label 1 = odd digit (``load_digits``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from tools.datasets._base import Dataset, check_not_hidden


def sklearn_data_file(name: str) -> Path:
    """Path of a data file bundled in ``sklearn/datasets/data`` (whether or not it exists)."""
    spec = importlib.util.find_spec("sklearn")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0] if locations else ".") / "datasets" / "data" / name


def load_breast_cancer() -> Dataset:
    """Wisconsin diagnostic breast cancer data bundled with scikit-learn (label 1 = benign)."""
    from sklearn.datasets import load_breast_cancer as sk_load

    check_not_hidden(sklearn_data_file("breast_cancer.csv"), "sk_breast_cancer")
    bunch = sk_load()
    return Dataset(
        name="sk_breast_cancer",
        kind="tabular",
        features=np.asarray(bunch.data, dtype=np.float32),
        labels=np.asarray(bunch.target, dtype=np.int64),
        source="sklearn.datasets.load_breast_cancer (bundled with scikit-learn, BSD-3)",
        label_names=("malignant", "benign"),
    )


def load_digits_parity() -> Dataset:
    """Handwritten digits bundled with scikit-learn, labelled by parity (1 = odd)."""
    from sklearn.datasets import load_digits

    check_not_hidden(sklearn_data_file("digits.csv.gz"), "sk_digits_parity")
    bunch = load_digits()
    return Dataset(
        name="sk_digits_parity",
        kind="tabular",
        features=np.asarray(bunch.data, dtype=np.float32),
        labels=np.asarray(bunch.target % 2, dtype=np.int64),
        source="sklearn.datasets.load_digits (bundled with scikit-learn, BSD-3), label = digit is odd",
        label_names=("even", "odd"),
    )
