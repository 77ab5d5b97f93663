"""Weak-to-strong with the test labels kept on the host: export a task, train in a kernel, score on the host.

The same protocol as ``run_w2s`` split at the sandbox boundary, so code running in a kernel never holds the labels
it is scored on:

1. ``export_w2s_task(config, run_dir)`` (host): loads the dataset, draws the pool, computes the frozen features
   and writes ``task.npz`` + ``task.json`` into the run directory: training inputs with ground truth (the weak
   supervisor's split A and the ceiling's split B are training data), held-out test inputs *without* labels, and
   each seed's A/B positions. For ``bow`` weak features it writes the texts instead (the vocabulary is fitted on
   each seed's split A inside the kernel).
2. ``train_w2s_task(run_dir)`` (kernel): trains, per seed, the weak supervisor on A, the ceiling on B's ground
   truth and the student on B's weak labels with the configured loss, and submits each one's test predictions
   (``submissions/seed<k>.<weak|ceiling|w2s>.npy``) plus the weak labels it gave B (``seed<k>.weak_b``).
3. ``score_w2s_task(config, run_dir)`` (host): rebuilds the labels from the dataset, scores the submissions with a
   ``HeldoutScorer`` and writes ``results.json`` and the figure itself, over anything the kernel wrote.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tools.datasets import Dataset, load_dataset
from tools.errors import UserInputError
from tools.research.cache import ArrayCache
from tools.research.features import FeatureStore, fit_bow
from tools.research.heads import fit_weak, predict_head, train_head
from tools.research.scoring import SUBMISSIONS, TASK_META, HeldoutScorer, KernelTask
from tools.w2s.config import W2SConfig
from tools.w2s.harness import CacheStats, SeedResult, W2SResult, summarise_w2s
from tools.w2s.splits import Index, Splits, pool_indices

log = logging.getLogger(__name__)

TASK_KIND = "ara.w2s-task/1"
TEXTS_FILE = "task_texts.json"
ROLES = ("weak", "ceiling", "w2s")


def heldout_splits(config: W2SConfig, seed: int) -> Splits:
    """Pool positions of A, B and test for ``seed``: test is the same for every seed, A/B are re-drawn."""
    n = config.n_total
    order = np.random.default_rng(20_000 + config.data_seed).permutation(n).astype(np.int64)
    test = np.sort(order[: config.n_test])
    rest = np.random.default_rng(10_000 + seed).permutation(order[config.n_test :]).astype(np.int64)
    return Splits(rest[: config.n_weak_train], rest[config.n_weak_train :], test)


def train_positions(config: W2SConfig) -> Index:
    """Pool positions outside the test split, in the row order of the exported training arrays."""
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


def export_w2s_task(config: W2SConfig, run_dir: Path | str) -> Path:
    """Host step: write the kernel-visible task (no test labels) into ``run_dir``; returns ``task.npz``.

    ``config`` should come from ``tools.research.hostconfig.host_config`` (its ``cache_dir`` caches the features on the host).

    Raises:
        UserInputError: unknown or missing dataset, split sizes larger than the data, one-class splits.
    """
    root = Path(run_dir)
    data, pool, labels = _dataset(config)
    train_pos = train_positions(config)
    where = {int(p): i for i, p in enumerate(train_pos)}
    arrays: dict[str, npt.NDArray[Any]] = {"y_train": labels[train_pos]}
    for seed in config.seeds:
        splits = heldout_splits(config, seed)
        if np.unique(labels[splits.weak_train]).size < 2:
            raise UserInputError(
                f"seed {seed}: the weak training split of {data.name!r} has one class only; raise n_weak_train"
            )
        arrays[f"a_{_seed_name(seed)}"] = np.array([where[int(p)] for p in splits.weak_train], dtype=np.int64)
        arrays[f"b_{_seed_name(seed)}"] = np.array([where[int(p)] for p in splits.strong_train], dtype=np.int64)
    test_pos = heldout_splits(config, 0).test
    store = FeatureStore(config.cache_dir)
    strong = store.features(data, config.strong_features, pool)
    arrays["x_strong_train"], arrays["x_strong_test"] = strong[train_pos], strong[test_pos]
    if config.weak_features == "bow":
        texts = [data.texts[i] for i in pool]
        payload = {"train": [texts[i] for i in train_pos], "test": [texts[i] for i in test_pos]}
        (root / TEXTS_FILE).parent.mkdir(parents=True, exist_ok=True)
        (root / TEXTS_FILE).write_text(json.dumps(payload), encoding="utf-8")
    else:
        weak = store.features(data, config.weak_features, pool)
        arrays["x_weak_train"], arrays["x_weak_test"] = weak[train_pos], weak[test_pos]
    scorer = HeldoutScorer(labels[test_pos])
    path = scorer.export_task(
        root,
        inputs={k: v for k, v in arrays.items() if k != "y_train" and k != "x_strong_test"},
        train_labels={"y_train": arrays["y_train"]},
        test_inputs=arrays["x_strong_test"],
        description=(
            f"weak-to-strong task {config.slug()}: x_test = strong features of the held-out split (labels stay "
            "on the host); train rows carry ground truth y_train; a_<seed>/b_<seed> index the train rows"
        ),
    )
    meta = json.loads((root / TASK_META).read_text(encoding="utf-8"))
    meta.update(kind=TASK_KIND, config=config.model_dump(mode="json"), data_hash=data.content_hash())
    (root / TASK_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    log.info(
        "exported w2s task %s (%d train rows, %d test rows) to %s", config.slug(), train_pos.size, test_pos.size, root
    )
    return path


@dataclass(frozen=True)
class _KernelView:
    task: KernelTask
    config: W2SConfig
    texts: dict[str, list[str]] | None


def _load_view(run_dir: Path) -> _KernelView:
    task = KernelTask.load(run_dir)
    meta = json.loads((run_dir / TASK_META).read_text(encoding="utf-8"))
    if meta.get("kind") != TASK_KIND:
        raise UserInputError(f"{run_dir / TASK_META} is not a weak-to-strong task (kind={meta.get('kind')!r})")
    config = W2SConfig.model_validate(meta["config"])
    texts = None
    if config.weak_features == "bow":
        texts = json.loads((run_dir / TEXTS_FILE).read_text(encoding="utf-8"))
    return _KernelView(task=task, config=config, texts=texts)


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


def train_w2s_task(run_dir: Path | str = ".") -> list[str]:
    """Kernel step: train weak, ceiling and student per seed on the exported task; submit test predictions.

    Returns the names of the submissions written (``seed<k>.weak`` ...), for the host to score.
    """
    root = Path(run_dir)
    view = _load_view(root)
    config, arrays = view.config, view.task.arrays
    y_train = arrays["y_train"]
    x_strong, x_test = arrays["x_strong_train"], view.task.x_test
    submitted: list[str] = []
    for seed in config.seeds:
        name = _seed_name(seed)
        a, b = arrays[f"a_{name}"], arrays[f"b_{name}"]
        if view.texts is not None:
            train_texts = view.texts["train"]
            xa, xb, xt = fit_bow([train_texts[i] for i in a], [train_texts[i] for i in b], view.texts["test"])
        else:
            xa, xb, xt = arrays["x_weak_train"][a], arrays["x_weak_train"][b], arrays["x_weak_test"]
        weak_b, weak_t = fit_weak(xa, y_train[a], [xb, xt], head=config.weak_head, seed=seed)
        gt_b = y_train[b].astype(np.float32)
        kwargs = _head_kwargs(config)
        ceiling_t = predict_head(train_head(x_strong[b], gt_b, loss="xent", seed=seed, **kwargs), x_test)
        student = train_head(x_strong[b], weak_b.astype(np.float32), loss=config.loss, seed=seed, **kwargs)
        w2s_t = predict_head(student, x_test)
        for role, probs in zip(ROLES, (weak_t, ceiling_t, w2s_t), strict=True):
            view.task.submit(f"{name}.{role}", probs)
            submitted.append(f"{name}.{role}")
        np.save(root / SUBMISSIONS / f"{name}.weak_b.npy", np.asarray(weak_b, dtype=np.float32))
        print(f"seed {seed}: submitted weak, ceiling and w2s test predictions", flush=True)
    return submitted


def _weak_b(run_dir: Path, name: str, n_b: int) -> npt.NDArray[np.float32]:
    path = run_dir / SUBMISSIONS / f"{name}.weak_b.npy"
    if not path.is_file():
        raise UserInputError(f"no weak labels for split B at {path}; the kernel step train_w2s_task did not finish")
    values = np.asarray(np.load(path, allow_pickle=False), dtype=np.float32).reshape(-1)
    if values.size != n_b or not np.all(np.isfinite(values)):
        raise UserInputError(f"{path} must hold {n_b} finite weak-label probabilities; it has {values.size}")
    return values


def score_w2s_task(config: W2SConfig, run_dir: Path | str, *, started: float | None = None) -> W2SResult:
    """Host step: score the kernel's submissions against labels rebuilt from the dataset; write ``results.json``.

    ``config`` must be the one the task was exported with (``tools.research.hostconfig.host_config``); ``results.json``, ``config.json`` and
    ``figures/seed_accuracies.png`` are written here, replacing anything the kernel wrote under those names.

    Raises:
        UserInputError: a submission is missing, has the wrong length, or holds NaN/inf.
    """
    start = time.perf_counter() if started is None else started
    root = Path(run_dir)
    data, _, labels = _dataset(config)
    scorer = HeldoutScorer(labels[heldout_splits(config, 0).test])
    seed_results: list[SeedResult] = []
    for seed in config.seeds:
        name = _seed_name(seed)
        scores = {role: scorer.score_submission(root, f"{name}.{role}") for role in ROLES}
        probs = {role: np.load(root / SUBMISSIONS / f"{name}.{role}.npy", allow_pickle=False) for role in ROLES}
        b = heldout_splits(config, seed).strong_train
        gt_b = labels[b]
        weak_b = _weak_b(root, name, b.size)
        accuracies = (scores["weak"].accuracy, scores["ceiling"].accuracy, scores["w2s"].accuracy)
        seed_results.append(
            SeedResult.of(seed, accuracies, weak_t=probs["weak"], w2s_t=probs["w2s"], weak_b=weak_b, gt_b=gt_b)
        )
    return summarise_w2s(
        config,
        seed_results,
        root,
        cache=ArrayCache(None),
        stats=lambda: CacheStats(hits=0, misses=0, corrupt=0),
        data_hash=data.content_hash(),
        started=start,
        provenance={
            "data_source": data.source,
            "scoring": "host: test labels never left the host; the kernel submitted predictions",
            "test_split": f"fixed across seeds ({config.n_test} examples chosen by data_seed {config.data_seed})",
        },
    )


def run_w2s_heldout(config: W2SConfig, out_dir: Path | str) -> W2SResult:
    """Export, train and score in this process (the kernel step runs here): the held-out protocol without a kernel."""
    start = time.perf_counter()
    export_w2s_task(config, out_dir)
    train_w2s_task(out_dir)
    return score_w2s_task(config, out_dir, started=start)
