"""The ``Dataset`` container every loader returns: texts or a feature matrix, binary labels, provenance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from tools.datasets._hash import hash_array, hash_texts
from tools.errors import UserInputError


def check_not_hidden(path: Path, name: str) -> None:
    """Raise a clear error when ``path`` (a file or a directory) is empty: the sandbox covers dataset sources
    inside ara's kernels."""
    empty = path.stat().st_size == 0 if path.is_file() else path.is_dir() and not any(path.iterdir())
    if empty:
        raise UserInputError(
            f"dataset {name!r} cannot be read here: {path} is empty. Inside ara's kernels the datasets' sources are "
            "hidden so code cannot read held-out labels; use the w2s, probes or honesty_probes recipe (the host "
            "exports the task without test labels and scores the predictions), or load the data outside the sandbox."
        )


DatasetKind = Literal["text", "tabular"]


@dataclass(frozen=True)
class Dataset:
    """A binary classification dataset.

    Attributes:
        name: Loader name (``tools.datasets.DATASETS``).
        kind: ``text`` (``texts`` set) or ``tabular`` (``features`` set).
        labels: int64 array of 0/1, one per example.
        source: Where the data came from (package file or path, licence).
        texts: The inputs of a text dataset.
        features: The float32 matrix of a tabular dataset.
        label_names: Names of class 0 and class 1.
        prompts: For text datasets, each example rendered as a prompt for contrast pairs (``{answer}`` marks
            where the candidate answer goes); empty for tabular data.
        answers: The words for class 0 and class 1 used in contrast pairs (single tokens for SmolLM2).
    """

    name: str
    kind: DatasetKind
    labels: npt.NDArray[np.int64]
    source: str
    texts: tuple[str, ...] = ()
    features: npt.NDArray[np.float32] | None = None
    label_names: tuple[str, str] = ("negative", "positive")
    prompts: tuple[str, ...] = ()
    answers: tuple[str, str] = (" negative", " positive")
    _hash: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def n(self) -> int:
        """Number of examples."""
        return int(self.labels.shape[0])

    def content_hash(self) -> str:
        """sha256 over inputs and labels (recorded in results provenance and cache keys)."""
        if not self._hash:
            inputs = hash_texts(self.texts) if self.features is None else hash_array(self.features)
            combined = hashlib.sha256(f"{self.name}|{inputs}|{hash_array(self.labels)}".encode()).hexdigest()
            self._hash.append(f"sha256:{combined}")
        return self._hash[0]
