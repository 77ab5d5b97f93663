"""Held-out scoring: test labels stay on the host; kernel code only sees inputs and submits predictions.

Two halves:
- ``HeldoutScorer`` (host side) owns the test labels in memory. ``export_task`` writes a ``KernelTask`` into a
  run directory: training inputs with their labels, test inputs *without* labels, nothing else.
  ``score_submission`` reads predictions the kernel wrote and scores them on the host.
- ``KernelTask`` (kernel side) is what agent code loads: it has no label attribute for the test split and its
  files hold no test labels; ``submit`` writes ``submissions/<name>.npy`` into the run directory.

Does not cover hiding the *source* of a dataset: if a kernel can read the dataset's package files it can recompute
the labels, so a sandbox that runs agent code must not mount the held-out source (``tools.kernel``'s job).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from tools.errors import UserInputError
from tools.research.metrics import accuracy

TASK_FILE = "task.npz"
TASK_META = "task.json"
SUBMISSIONS = "submissions"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Score(BaseModel):
    """A host-side score of one submission."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Submission name."""
    accuracy: float
    """Accuracy against the held-out labels."""
    n: int
    """Number of scored predictions."""


class HeldoutScorer:
    """Host-side owner of held-out labels; scores predictions, never writes the labels anywhere.

    Example:
        >>> scorer = HeldoutScorer(np.array([0, 1, 1]))
        >>> scorer.score(np.array([0.2, 0.9, 0.4]), name="demo").accuracy
        0.6666666666666666
    """

    __slots__ = ("_labels",)

    def __init__(self, labels: npt.NDArray[np.int64]) -> None:
        self._labels = np.asarray(labels, dtype=np.int64).copy()
        self._labels.setflags(write=False)

    def __repr__(self) -> str:
        return f"HeldoutScorer(n={self._labels.size})"

    def __reduce__(self) -> Any:
        raise TypeError("HeldoutScorer holds held-out labels and cannot be pickled or sent to a kernel")

    @property
    def n(self) -> int:
        """Number of held-out examples."""
        return int(self._labels.size)

    def score(self, probs: npt.ArrayLike, *, name: str = "predictions") -> Score:
        """Accuracy of P(class 1) predictions ``probs`` (one per held-out example)."""
        arr = np.asarray(probs, dtype=np.float64).reshape(-1)
        if arr.size != self._labels.size:
            raise UserInputError(f"submission {name!r} has {arr.size} predictions; expected {self._labels.size}")
        if not np.all(np.isfinite(arr)):
            raise UserInputError(f"submission {name!r} contains NaN/inf predictions")
        return Score(name=name, accuracy=accuracy(arr, self._labels), n=int(arr.size))

    def export_task(
        self,
        run_dir: Path,
        *,
        inputs: dict[str, npt.NDArray[Any]],
        train_labels: dict[str, npt.NDArray[Any]],
        test_inputs: npt.NDArray[Any],
        description: str = "",
    ) -> Path:
        """Write the kernel-visible task into ``run_dir``: ``task.npz`` (no test labels) and ``task.json``.

        Args:
            run_dir: The run directory the kernel may read and write.
            inputs: Named training input matrices (e.g. ``x_weak_train``).
            train_labels: Named training labels (ground truth or weak labels); never the test labels.
            test_inputs: Inputs of the held-out split, in the order predictions must be submitted.
            description: What the splits are, for the agent.
        """
        arrays = {**inputs, **train_labels, "x_test": test_inputs}
        for name, value in train_labels.items():
            if np.asarray(value).shape == self._labels.shape and np.array_equal(
                (np.asarray(value) > 0.5).astype(np.int64), self._labels
            ):
                raise UserInputError(f"train label array {name!r} equals the held-out labels; refusing to export it")
        run_dir.mkdir(parents=True, exist_ok=True)
        np.savez(run_dir / TASK_FILE, **arrays)  # type: ignore[arg-type]
        meta = {"arrays": sorted(arrays), "n_test": int(test_inputs.shape[0]), "description": description}
        (run_dir / TASK_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return run_dir / TASK_FILE

    def score_submission(self, run_dir: Path, name: str) -> Score:
        """Score ``run_dir/submissions/<name>.npy`` written by ``KernelTask.submit``."""
        path = Path(run_dir) / SUBMISSIONS / f"{name}.npy"
        if not path.is_file():
            raise UserInputError(f"no submission {name!r} at {path}; call KernelTask.submit in the kernel first")
        return self.score(np.load(path, allow_pickle=False), name=name)


@dataclass(frozen=True)
class KernelTask:
    """Kernel-side view of a task: training arrays, test inputs, and ``submit``; no test labels anywhere.

    Example (inside a kernel, after the host ran ``HeldoutScorer.export_task(run_dir, ...)``):
        >>> task = KernelTask.load(run_dir)                                  # doctest: +SKIP
        >>> task.submit("my_probe", my_model.predict_proba(task.x_test)[:, 1])  # doctest: +SKIP
    """

    run_dir: Path
    arrays: dict[str, npt.NDArray[Any]]
    description: str

    @classmethod
    def load(cls, run_dir: Path | str) -> KernelTask:
        """Read ``task.npz`` / ``task.json`` from ``run_dir``."""
        root = Path(run_dir)
        if not (root / TASK_FILE).is_file():
            raise UserInputError(f"{root / TASK_FILE} not found; the host must export the task first")
        with np.load(root / TASK_FILE, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        meta = json.loads((root / TASK_META).read_text(encoding="utf-8"))
        return cls(run_dir=root, arrays=arrays, description=str(meta.get("description", "")))

    @property
    def x_test(self) -> npt.NDArray[Any]:
        """Held-out inputs; submit one P(class 1) per row, in this order."""
        return self.arrays["x_test"]

    def submit(self, name: str, probs: npt.ArrayLike) -> Path:
        """Write predictions (P(class 1) per test row) to ``submissions/<name>.npy`` for the host to score."""
        if not _NAME.match(name):
            raise UserInputError(f"submission name {name!r} must match {_NAME.pattern}")
        arr = np.asarray(probs, dtype=np.float32).reshape(-1)
        if arr.size != self.x_test.shape[0]:
            raise UserInputError(f"submission has {arr.size} predictions; the test split has {self.x_test.shape[0]}")
        out = self.run_dir / SUBMISSIONS
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / f"{name}.npy", arr)
        return out / f"{name}.npy"
