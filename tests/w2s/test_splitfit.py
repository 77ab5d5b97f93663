"""Split sizes fitted to the dataset before a plan is approved (``tools.research.splitfit``)."""

from __future__ import annotations

import pytest

from tools.errors import UserInputError
from tools.research.splitfit import clamp_sizes, fit_splits


def test_sizes_that_fit_are_left_alone() -> None:
    assert clamp_sizes({"a": 100, "b": 100}, 200, {}) == {"a": 100, "b": 100}


def test_sizes_are_lowered_in_proportion_and_never_below_their_floor() -> None:
    assert clamp_sizes({"a": 1000, "b": 1000, "c": 1000}, 598, {}) == {"a": 199, "b": 199, "c": 199}
    fitted = clamp_sizes({"a": 10, "b": 100, "c": 5000}, 569, {"a": 10, "b": 10, "c": 10})
    assert fitted == {"a": 10, "b": 10, "c": 548}
    assert sum(fitted.values()) <= 569


def test_a_dataset_too_small_even_for_the_floors_is_a_clear_error() -> None:
    with pytest.raises(
        UserInputError,
        match=r"the splits need at least 30 examples \(a >= 10, b >= 10, c >= 10\) but "
        r"the dataset has 25; choose a larger dataset",
    ):
        clamp_sizes({"a": 100, "b": 100, "c": 100}, 25, {"a": 10, "b": 10, "c": 10})


def test_fit_splits_reads_the_dataset_size_and_says_what_changed() -> None:
    fitted = fit_splits("sk_breast_cancer", None, {"n_train": 600, "n_test": 400}, {"n_train": 20, "n_test": 10})
    assert fitted.changes == {"n_train": 341, "n_test": 227}
    assert fitted.note == (
        "n_train / n_test lowered on the host from 600 / 400 to 341 / 227: dataset 'sk_breast_cancer' has 569 "
        "examples, fewer than the 1000 asked for."
    )
    assert fit_splits("sk_breast_cancer", None, {"n_train": 300, "n_test": 200}, {}) == ({}, None)
