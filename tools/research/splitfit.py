"""Split sizes fitted to the dataset on the host, before a plan is approved, with a note saying what changed.

A w2s or probe config asks for fixed numbers of examples per split (w2s defaults to 1,000 each); several datasets
are smaller (BIG-bench misconceptions has 219 statements, TruthfulQA 598), so the run would fail in its first host
step and a debug step could only repeat the config. ``fit_splits`` lowers the sizes in proportion until they fit,
keeping each split at its minimum, and returns the changed fields with a sentence for the report's methods. It
reads the dataset through ``tools.datasets.load_dataset`` (memoised). Does not choose datasets or run anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from tools.datasets import load_dataset
from tools.errors import UserInputError


class FittedSplits(NamedTuple):
    """What ``fit_splits`` changed: the new sizes (empty when the config fits) and the note for the methods."""

    changes: dict[str, int]
    note: str | None


def clamp_sizes(sizes: Mapping[str, int], available: int, minimum: Mapping[str, int]) -> dict[str, int]:
    """``sizes`` scaled down in proportion so they sum to at most ``available`` (each at least its minimum).

    Raises:
        UserInputError: even the minimum sizes need more examples than there are.

    Example:
        >>> clamp_sizes({"a": 1000, "b": 1000, "c": 1000}, 598, {})
        {'a': 199, 'b': 199, 'c': 199}
        >>> clamp_sizes({"a": 10, "b": 100, "c": 5000}, 569, {"a": 10, "b": 10, "c": 10})
        {'a': 10, 'b': 10, 'c': 548}
    """
    if sum(sizes.values()) <= available:
        return dict(sizes)
    floors = {k: minimum.get(k, 1) for k in sizes}
    if sum(floors.values()) > available:
        floor = ", ".join(f"{k} >= {v}" for k, v in floors.items())
        raise UserInputError(
            f"the splits need at least {sum(floors.values())} examples ({floor}) but the dataset has {available}; "
            "choose a larger dataset"
        )
    pinned: dict[str, int] = {}
    while True:  # scale the free splits into what the pinned ones leave; pin any that fall below its floor
        free = {k: v for k, v in sizes.items() if k not in pinned}
        room = available - sum(pinned.values())
        scaled = {k: int(v * room / sum(free.values())) for k, v in free.items()}
        low = [k for k, v in scaled.items() if v < floors[k]]
        if not low:
            fitted = {k: pinned.get(k, scaled.get(k, 0)) for k in sizes}
            break
        pinned.update({k: floors[k] for k in low})
    return fitted


def fit_splits(
    dataset: str, data_root: Path | None, sizes: Mapping[str, int], minimum: Mapping[str, int]
) -> FittedSplits:
    """The split sizes of a config on ``dataset`` fitted to its number of examples.

    Raises:
        UserInputError: the dataset cannot be loaded, or is too small even for the minimum sizes.
    """
    data = load_dataset(dataset, data_root)
    fitted = clamp_sizes(sizes, data.n, minimum)
    changes = {k: v for k, v in fitted.items() if v != sizes[k]}
    if not changes:
        return FittedSplits({}, None)
    before = " / ".join(str(sizes[k]) for k in sizes)
    after = " / ".join(str(fitted[k]) for k in sizes)
    note = (
        f"{' / '.join(sizes)} lowered on the host from {before} to {after}: dataset {dataset!r} has {data.n} "
        f"examples, fewer than the {sum(sizes.values())} asked for."
    )
    return FittedSplits(changes, note)


def size_fields(config: Any, fields: Sequence[str]) -> dict[str, int]:
    """The integer split sizes ``fields`` of a config object."""
    return {name: int(getattr(config, name)) for name in fields}
