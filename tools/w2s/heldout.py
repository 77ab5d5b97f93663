"""Weak-to-strong with the baselines and the test labels on the host: the kernel trains only the student.

The same protocol as ``run_w2s`` split at the sandbox boundary, so code running in a kernel can neither read the
labels it is scored on nor fake the baselines PGR is measured against:

1. ``export_w2s_task(config, kernel_dir)`` (host): loads the dataset, draws the pool, computes the frozen features,
   and per seed trains the weak supervisor on split A's ground truth and the strong ceiling on split B's ground
   truth (trusted code, cached by content). Into the kernel's directory it writes only what a student may see:
   ``task.npz`` with each seed's strong features of B (``x_b_seed<k>``) and the weak supervisor's soft labels on
   them (``weak_b_seed<k>``), and the held-out inputs ``x_test`` without labels; ``task.json`` holds the config
   with no host path in it.
2. ``train_w2s_task(kernel_dir)`` (kernel): trains, per seed, the student on the weak labels with the configured
   loss and submits its test predictions (``submissions/seed<k>.w2s.npy``). That is all it returns.
3. ``score_w2s_task(config, kernel_dir, out_dir)`` (host): rebuilds the labels and the baselines (the cache makes
   this cheap), reads the student's predictions through ``tools.runfiles`` (no link followed; 1-D, finite, one
   probability per test example), scores weak, ceiling and student with a ``HeldoutScorer``, raises red flags
   (``tools.research.redflags``: student equal to the ceiling, beating it beyond chance, agreeing with its
   supervisor nowhere) and writes ``results.json``, ``config.json`` and the figure into ``out_dir``, a directory
   the kernel cannot write.

Unlike ``run_w2s``, the test split is fixed across seeds (chosen by ``data_seed``): re-splitting the pool per
seed would put one seed's test examples, with their labels, in another seed's training data. Seeds vary the A/B
split and the training. ``run_w2s_heldout`` runs the three steps in one process (tests, hosts without kernels).

Does not cover hiding the dataset's source files from the kernel: the sandbox does that (``tools.kernel``'s
``hidden_paths``; ``tools.datasets.heldout_sources`` lists them).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from tools.datasets import Dataset, load_dataset
from tools.errors import UserInputError
from tools.research.cache import ArrayCache, hash_array
from tools.research.heads import predict_head, train_head
from tools.research.metrics import item_metric
from tools.research.redflags import beats_reference, equals_reference, no_agreement, out_of_range
from tools.research.scoring import SUBMISSIONS, TASK_META, HeldoutScorer, KernelTask
from tools.results import RedFlag, Verification
from tools.w2s.config import W2SConfig
from tools.w2s.harness import CacheStats, SeedResult, W2SResult, _Context, _head, _weak_probs, summarise_w2s
from tools.w2s.splits import Index, Splits, pool_indices

log = logging.getLogger(__name__)

TASK_KIND = "ara.w2s-student-task/1"
STUDENT = "w2s"
"""The one role the kernel submits: ``submissions/seed<k>.w2s.npy``."""


def heldout_splits(config: W2SConfig, seed: int) -> Splits:
    """Pool positions of A, B and test for ``seed``: test is the same for every seed, A/B are re-drawn."""
    n = config.n_total
    order = np.random.default_rng(20_000 + config.data_seed).permutation(n).astype(np.int64)
    test = np.sort(order[: config.n_test])
    rest = np.random.default_rng(10_000 + seed).permutation(order[config.n_test :]).astype(np.int64)
    return Splits(rest[: config.n_weak_train], rest[config.n_weak_train :], test)


def train_positions(config: W2SConfig) -> Index:
    """Pool positions outside the test split."""
    test = heldout_splits(config, 0).test
    return np.setdiff1d(np.arange(config.n_total, dtype=np.int64), test)


def _dataset(config: W2SConfig) -> tuple[Dataset, Index, npt.NDArray[np.int64]]:
    data = load_dataset(config.dataset, config.data_root)
    pool = pool_indices(data, config.n_total, config.data_seed)
    labels = np.asarray(data.labels[pool], dtype=np.int64)
    classes = np.unique(labels)
    if classes.size < 2 or not set(classes.tolist()) <= {0, 1}:
        raise UserInputError(
            f"dataset {data.name!r} needs labels 0 and 1 in its pool; found {classes.tolist()}: "
            "weak-to-strong needs both classes"
        )
    return data, pool, labels


def _seed_name(seed: int) -> str:
    return f"seed{seed}"


class _Baselines(NamedTuple):
    """One seed's host-side view: its splits, the weak supervisor's and the ceiling's predictions."""

    splits: Splits
    weak_b: npt.NDArray[np.float32]
    weak_t: npt.NDArray[np.float32]
    ceiling_t: npt.NDArray[np.float32]


class _Host(NamedTuple):
    data: Dataset
    labels: npt.NDArray[np.int64]
    strong: npt.NDArray[np.float32]
    seeds: dict[int, _Baselines]
    ctx: _Context


def _host_side(config: W2SConfig) -> _Host:
    """Features and, per seed, the baselines trained on the host (cached by content in ``config.cache_dir``)."""
    data, pool, labels = _dataset(config)
    ctx = _Context(config.cache_dir)
    strong = ctx.store.features(data, config.strong_features, pool)
    strong_hash = hash_array(strong)
    seeds: dict[int, _Baselines] = {}
    for seed in config.seeds:
        splits = heldout_splits(config, seed)
        if np.unique(labels[splits.weak_train]).size < 2:
            raise UserInputError(
                f"seed {seed}: the weak training split of {data.name!r} has one class only; raise n_weak_train"
            )
        weak_b, weak_t = _weak_probs(config, data, pool, splits, seed, ctx)
        gt_b = labels[splits.strong_train].astype(np.float32)
        ceiling_t = _head(config, strong, strong_hash, splits, gt_b, "xent", seed, ctx)
        seeds[seed] = _Baselines(splits, weak_b, weak_t, ceiling_t)
    return _Host(data, labels, strong, seeds, ctx)


def kernel_config(config: W2SConfig) -> dict[str, Any]:
    """The config as the kernel sees it in ``task.json``: no host path (cache, data root) in it."""
    return config.model_copy(update={"cache_dir": None, "data_root": None}).model_dump(mode="json")


def export_w2s_task(config: W2SConfig, kernel_dir: Path | str) -> Path:
    """Host step: train the baselines here and write the student's task into ``kernel_dir``; returns ``task.npz``.

    ``config`` should come from ``tools.research.hostconfig.host_config`` (its ``cache_dir`` caches features,
    weak labels and heads on the host).

    Raises:
        UserInputError: unknown or missing dataset, split sizes larger than the data, one-class splits.
    """
    host = _host_side(config)
    arrays: dict[str, npt.NDArray[Any]] = {}
    for seed, base in host.seeds.items():
        arrays[f"x_b_{_seed_name(seed)}"] = host.strong[base.splits.strong_train]
        arrays[f"weak_b_{_seed_name(seed)}"] = np.asarray(base.weak_b, dtype=np.float32)
    test = heldout_splits(config, 0).test
    path = HeldoutScorer(host.labels[test]).export_task(
        Path(kernel_dir),
        inputs={k: v for k, v in arrays.items() if k.startswith("x_")},
        train_labels={k: v for k, v in arrays.items() if k.startswith("weak_")},
        test_inputs=host.strong[test],
        description=(
            f"weak-to-strong student task {config.slug()}: per seed, strong features of split B (x_b_seed<k>) with the "
            "weak supervisor's soft labels (weak_b_seed<k>); x_test = strong features of the held-out split. The "
            "weak supervisor, the ceiling and every label stay on the host"
        ),
        meta={"kind": TASK_KIND, "config": kernel_config(config), "data_hash": host.data.content_hash()},
    )
    log.info("exported the w2s student task %s (%d test rows) to %s", config.slug(), test.size, kernel_dir)
    return path


def _head_kwargs(config: W2SConfig) -> dict[str, Any]:
    return {
        "head": config.strong_head,
        "epochs": config.epochs,
        "lr": config.lr,
        "batch_size": config.batch_size,
        "hidden": config.hidden,
        "aux_coef": config.aux_coef,
        "warmup_frac": config.warmup_frac,
    }


def train_w2s_task(kernel_dir: Path | str = ".") -> list[str]:
    """Kernel step: train the student per seed on the weak labels; submit its test predictions.

    Returns the names of the submissions written (``seed<k>.w2s``), for the host to score.
    """
    root = Path(kernel_dir)
    task = KernelTask.load(root)
    meta = json.loads((root / TASK_META).read_text(encoding="utf-8"))
    if meta.get("kind") != TASK_KIND:
        raise UserInputError(f"{root / TASK_META} is not a weak-to-strong student task (kind={meta.get('kind')!r})")
    config = W2SConfig.model_validate(meta["config"])
    submitted: list[str] = []
    for seed in config.seeds:
        name = _seed_name(seed)
        x_b, weak_b = task.arrays[f"x_b_{name}"], task.arrays[f"weak_b_{name}"].astype(np.float32)
        student = train_head(x_b, weak_b, loss=config.loss, seed=seed, **_head_kwargs(config))
        task.submit(f"{name}.{STUDENT}", predict_head(student, task.x_test))
        submitted.append(f"{name}.{STUDENT}")
        print(f"seed {seed}: submitted the student's test predictions", flush=True)
    return submitted


def _red_flags(
    seed: int, scores: dict[str, float], student: npt.NDArray[Any], base: _Baselines, truth: Any
) -> list[RedFlag]:
    where = f"seed {seed}"
    return [
        *out_of_range(where, scores),
        *equals_reference(where, "student", student, "ceiling", base.ceiling_t),
        *beats_reference(where, "student", student, "ceiling", base.ceiling_t, truth),
        *no_agreement(where, "student", student, "weak supervisor", base.weak_t),
    ]


def score_w2s_task(
    config: W2SConfig, kernel_dir: Path | str, out_dir: Path | str | None = None, *, started: float | None = None
) -> W2SResult:
    """Host step: score the student's submissions and the host's baselines; write results into ``out_dir``.

    ``config`` must be the one the task was exported with (``tools.research.hostconfig.host_config``).
    ``results.json``, ``config.json`` and ``figures/seed_accuracies.png`` go to ``out_dir`` (default
    ``kernel_dir``, for in-process runs); in the research loop that is the host's run directory, which the
    kernel cannot write. Of the kernel's files only ``submissions/seed<k>.w2s.npy`` is read.

    Raises:
        UserInputError: a submission is missing, a link or special file, or not one finite probability per test
            example (``tools.runfiles.RunFileError`` names the file).
    """
    start = time.perf_counter() if started is None else started
    root = Path(kernel_dir)
    out = Path(out_dir) if out_dir is not None else root
    host = _host_side(config)
    test = heldout_splits(config, 0).test
    truth = host.labels[test]
    scorer = HeldoutScorer(truth)
    seed_results: list[SeedResult] = []
    flags: list[RedFlag] = []
    per_item: dict[str, list[list[float]]] = {"weak": [], "ceiling": [], "student": []}
    for seed, base in host.seeds.items():
        student = scorer.load_submission(root, f"{_seed_name(seed)}.{STUDENT}")
        scored = {
            "weak": scorer.score(base.weak_t, name="weak"),
            "ceiling": scorer.score(base.ceiling_t, name="ceiling"),
            "student": scorer.score(student, name=f"{_seed_name(seed)}.{STUDENT}"),
        }
        scores = {k: v.accuracy for k, v in scored.items()}
        for k, v in scored.items():
            per_item[k].append(v.correct)
        flags += _red_flags(seed, scores, student, base, truth)
        seed_results.append(
            SeedResult.of(
                seed,
                (scores["weak"], scores["ceiling"], scores["student"]),
                weak_t=base.weak_t,
                w2s_t=student,
                weak_b=base.weak_b,
                gt_b=host.labels[base.splits.strong_train],
            )
        )
    for flag in flags:
        log.warning("w2s %s: red flag %s: %s", config.slug(), flag.code, flag.detail)
    return summarise_w2s(
        config,
        seed_results,
        out,
        cache=host.ctx.cache if config.cache_dir is not None else ArrayCache(None),
        stats=lambda: CacheStats(hits=0, misses=0, corrupt=0),
        data_hash=host.data.content_hash(),
        started=start,
        provenance={
            "data_source": host.data.source,
            "scoring": (
                "host: test labels never left the host; the host trained and scored the weak supervisor and the "
                "ceiling, the kernel submitted only the student's predictions"
            ),
            "test_split": f"fixed across seeds ({config.n_test} examples chosen by data_seed {config.data_seed})",
        },
        verification=Verification.host(flags),
        item_metrics=item_metrics(per_item, seed=config.data_seed),
    )


def item_metrics(per_item: dict[str, list[list[float]]], *, seed: int = 0) -> dict[str, dict[str, Any]]:
    """``weak_acc.items``, ``w2s_acc.items`` and ``ceiling_acc.items``: per test item the share of seeds that got it
    right, with a bootstrap interval over the (fixed) test items; paired item by item across the three."""
    names = {"weak": "weak_acc.items", "student": "w2s_acc.items", "ceiling": "ceiling_acc.items"}
    return {
        names[k]: item_metric(np.asarray(rows, dtype=np.float64).mean(axis=0).tolist(), seed=seed)
        for k, rows in per_item.items()
        if rows
    }


def run_w2s_heldout(config: W2SConfig, out_dir: Path | str) -> W2SResult:
    """Export, train and score in this process (the kernel step runs here): the held-out protocol without a kernel."""
    start = time.perf_counter()
    export_w2s_task(config, out_dir)
    train_w2s_task(out_dir)
    return score_w2s_task(config, out_dir, started=start)


__all__ = [
    "STUDENT",
    "SUBMISSIONS",
    "TASK_KIND",
    "export_w2s_task",
    "heldout_splits",
    "item_metrics",
    "kernel_config",
    "run_w2s_heldout",
    "score_w2s_task",
    "train_positions",
    "train_w2s_task",
]
