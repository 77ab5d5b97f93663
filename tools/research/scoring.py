"""Held-out scoring: test labels stay on the host; kernel code only sees inputs and submits predictions.

Two halves:
- ``HeldoutScorer`` (host side) owns the test labels in memory. ``export_task`` writes a ``KernelTask`` into the
  kernel's directory: training inputs with the labels the experiment's subject may see (weak labels, a dev slice),
  test inputs *without* labels, nothing else. ``score_submission`` reads predictions the kernel wrote (through
  ``tools.runfiles``: no link followed, a 1-D array of exactly one probability per example) and scores them on the
  host.
- ``KernelTask`` (kernel side) is what agent code loads: it has no label attribute for the test split and its
  files hold no test labels; ``submit`` writes ``submissions/<name>.npy`` into the run directory.

Does not cover hiding the *source* of a dataset: if a kernel can read the dataset's package files it can recompute
the labels, so a sandbox that runs agent code must not mount the held-out source (``tools.kernel``'s job).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from tools.errors import UserInputError
from tools.research.metrics import accuracy
from tools.runfiles import ArraySpec, RunFiles

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
    correct: list[float] = Field(default_factory=list, repr=False)
    """Per held-out example, 1.0 when the prediction was right and 0.0 when wrong, in the held-out order: what
    item-level intervals and paired comparisons resample."""


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
        right = ((arr > 0.5).astype(np.int64) == self._labels).astype(np.float64)
        return Score(
            name=name, accuracy=accuracy(arr, self._labels), n=int(arr.size), correct=[float(v) for v in right]
        )

    def export_task(
        self,
        run_dir: Path,
        *,
        inputs: dict[str, npt.NDArray[Any]],
        train_labels: dict[str, npt.NDArray[Any]],
        test_inputs: npt.NDArray[Any],
        description: str = "",
        meta: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write the kernel-visible task into ``run_dir``: ``task.npz`` (no test labels) and ``task.json``.

        Both are written through ``tools.runfiles`` (a link the kernel left under either name is replaced, never
        written through).

        Args:
            run_dir: The kernel's directory (it may read and write there).
            inputs: Named input matrices (e.g. ``x_b_seed0``).
            train_labels: Named labels the kernel may see (weak labels, a dev slice); never the test labels.
            test_inputs: Inputs of the held-out split, in the order predictions must be submitted.
            description: What the splits are, for the agent.
            meta: More fields for ``task.json`` (no host paths: the kernel reads it).
        """
        arrays = {**inputs, **train_labels, "x_test": test_inputs}
        for name, value in train_labels.items():
            if np.asarray(value).shape == self._labels.shape and np.array_equal(
                (np.asarray(value) > 0.5).astype(np.int64), self._labels
            ):
                raise UserInputError(f"train label array {name!r} equals the held-out labels; refusing to export it")
        record = {
            "arrays": sorted(arrays),
            "n_test": int(test_inputs.shape[0]),
            "description": description,
            **(meta or {}),
        }
        with RunFiles(run_dir, create=True) as files:
            if files.kind(SUBMISSIONS) == "dir":  # an earlier cell's predictions must not be scored for this one
                for name in files.listdir(SUBMISSIONS):
                    if files.kind(f"{SUBMISSIONS}/{name}") != "dir":
                        files.unlink(f"{SUBMISSIONS}/{name}")
            path = files.save_npz(TASK_FILE, arrays)
            files.write_json(TASK_META, record)
        return path

    def load_submission(self, run_dir: Path, name: str) -> npt.NDArray[np.float64]:
        """The predictions ``KernelTask.submit`` wrote as ``<run_dir>/submissions/<name>.npy``, checked.

        Read through ``tools.runfiles``: no link is followed, and the array must be 1-D with one finite
        probability in [0, 1] per held-out example.

        Raises:
            UserInputError: missing, or not such an array (``tools.runfiles.RunFileError``, naming the file).
        """
        if not _NAME.match(name):
            raise UserInputError(f"submission name {name!r} must match {_NAME.pattern}")
        rel = f"{SUBMISSIONS}/{name}.npy"
        try:
            with RunFiles(run_dir) as files:
                return files.load_array(rel, ArraySpec(length=self.n))
        except FileNotFoundError:
            raise UserInputError(
                f"no submission {name!r} at {Path(run_dir) / rel}; call KernelTask.submit in the kernel first"
            ) from None

    def score_submission(self, run_dir: Path, name: str) -> Score:
        """Score ``run_dir/submissions/<name>.npy`` written by ``KernelTask.submit`` (see ``load_submission``)."""
        return self.score(self.load_submission(run_dir, name), name=name)


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
