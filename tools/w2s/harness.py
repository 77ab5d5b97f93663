"""The weak-to-strong protocol (Burns et al. 2023) on frozen features, one config at a time or over a grid.

Per seed: (1) train the weak supervisor on ground-truth split A; (2) label split B with it (soft labels);
(3) train the strong student on B's weak labels with the configured loss; (4) train the strong ceiling on B's
ground truth; (5) score weak, ceiling and student on the held-out test split through a host-side
``HeldoutScorer``. Features, weak labels and trained heads are cached by content hash, so a repeated run or an
overlapping sweep recomputes nothing it has. Writes ``config.json``, ``results.json`` (``ara.results/1``),
per-seed test predictions (no labels) and figures into the run directory.

Does not cover fine-tuning the strong model's weights (too slow on CPU): students are heads on frozen features.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from tools.datasets import Dataset, load_dataset
from tools.errors import UserInputError
from tools.research.cache import ArrayCache, content_key, hash_array
from tools.research.features import FeatureStore, fit_bow
from tools.research.heads import fit_weak, predict_head, train_head
from tools.research.metrics import Summary, agreement, bootstrap_summary, pgr
from tools.research.scoring import HeldoutScorer
from tools.results import Verification, write_results
from tools.runfiles import RunFiles
from tools.w2s.config import W2SConfig
from tools.w2s.plots import plot_pgr, plot_seed_accuracies
from tools.w2s.splits import Splits, pool_indices, split_pool

log = logging.getLogger(__name__)
TOOL = "tools.w2s"


class SeedResult(BaseModel):
    """Test-split scores of one seed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int
    weak_acc: float
    """Weak supervisor's test accuracy."""
    ceiling_acc: float
    """Strong head trained on ground-truth B."""
    w2s_acc: float
    """Strong head trained on weak labels of B with the configured loss."""
    pgr: float
    """(w2s - weak) / (ceiling - weak); NaN when ceiling <= weak."""
    agreement: float
    """Share of test examples where the student's hard label equals the supervisor's."""
    weak_label_acc: float
    """Accuracy of the weak labels on B (how noisy the student's supervision is)."""

    @classmethod
    def of(
        cls,
        seed: int,
        accuracies: tuple[float, float, float],
        *,
        weak_t: npt.NDArray[Any],
        w2s_t: npt.NDArray[Any],
        weak_b: npt.NDArray[Any],
        gt_b: npt.NDArray[Any],
    ) -> SeedResult:
        """A seed's result from its (weak, ceiling, w2s) test accuracies and the predictions behind them."""
        weak, ceiling, w2s = accuracies
        return cls(
            seed=seed,
            weak_acc=weak,
            ceiling_acc=ceiling,
            w2s_acc=w2s,
            pgr=pgr(weak, w2s, ceiling),
            agreement=agreement(w2s_t, weak_t),
            weak_label_acc=float(np.mean((np.asarray(weak_b) > 0.5) == (np.asarray(gt_b) > 0.5))),
        )


class CacheStats(BaseModel):
    """Cache counters of one run (hits, misses, corrupt entries detected and recomputed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hits: int
    misses: int
    corrupt: int


class W2SResult(BaseModel):
    """Outcome of ``run_w2s``: per-seed scores, bootstrap summaries, where the files are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: W2SConfig
    seeds: list[SeedResult]
    weak_acc: Summary
    ceiling_acc: Summary
    w2s_acc: Summary
    pgr: Summary
    """Undefined seeds (ceiling <= weak) are excluded; ``pgr.excluded`` counts them."""
    agreement: Summary
    out_dir: Path
    results_path: Path
    wall_time_s: float
    cache: CacheStats
    data_hash: str
    """Content hash of the dataset (inputs and labels)."""


class _Context:
    """Run-scoped state shared by the runs of a sweep (one feature store, one cache)."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.store = FeatureStore(cache_dir)
        self.cache = ArrayCache(cache_dir)

    def stats(self) -> tuple[int, int, int]:
        caches = [*self.store.caches(), self.cache]
        return (
            sum(c.hits for c in caches),
            sum(c.misses for c in caches),
            sum(c.corrupt for c in caches),
        )


def _weak_probs(
    config: W2SConfig, data: Dataset, pool: npt.NDArray[np.int64], splits: Splits, seed: int, ctx: _Context
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    labels = data.labels[pool]
    key = content_key(
        "weak",
        data=data.content_hash(),
        pool=hash_array(pool),
        features=config.weak_features,
        head=config.weak_head,
        seed=seed,
        a=hash_array(splits.weak_train),
        b=hash_array(splits.strong_train),
        t=hash_array(splits.test),
    )

    def compute() -> dict[str, npt.NDArray[np.float32]]:
        y_a = labels[splits.weak_train]
        if config.weak_features == "bow":
            texts = [data.texts[i] for i in pool]
            a_t, b_t, t_t = ([texts[i] for i in idx] for idx in splits)
            x_a, x_b, x_t = fit_bow(a_t, b_t, t_t)
        else:
            x = ctx.store.features(data, config.weak_features, pool)
            x_a, x_b, x_t = x[splits.weak_train], x[splits.strong_train], x[splits.test]
        b, t = fit_weak(x_a, y_a, [x_b, x_t], head=config.weak_head, seed=seed)
        return {"b": b, "test": t}

    arrays = ctx.cache.get_or_compute(key, compute, {"config": config.slug(), "seed": seed})
    return arrays["b"], arrays["test"]


def _head(
    config: W2SConfig,
    x: npt.NDArray[np.float32],
    x_hash: str,
    splits: Splits,
    target: npt.NDArray[np.float32],
    loss: str,
    seed: int,
    ctx: _Context,
) -> npt.NDArray[np.float32]:
    params = {
        "head": config.strong_head,
        "loss": loss,
        "epochs": config.epochs,
        "lr": config.lr,
        "batch_size": config.batch_size,
        "hidden": config.hidden,
        "aux_coef": config.aux_coef if loss != "xent" else None,
        "warmup_frac": config.warmup_frac if loss != "xent" else None,
    }
    key = content_key(
        "head", x=x_hash, b=hash_array(splits.strong_train), target=hash_array(target), seed=seed, **params
    )

    def compute() -> dict[str, npt.NDArray[Any]]:
        return train_head(
            x[splits.strong_train],
            target,
            head=config.strong_head,
            loss=loss,  # type: ignore[arg-type]
            seed=seed,
            epochs=config.epochs,
            lr=config.lr,
            batch_size=config.batch_size,
            hidden=config.hidden,
            aux_coef=config.aux_coef,
            warmup_frac=config.warmup_frac,
        )

    arrays = ctx.cache.get_or_compute(key, compute, {"loss": loss, "seed": seed})
    return predict_head(arrays, x[splits.test])


def _cached_figure(cache: ArrayCache, out: Path, rel: str, data: dict[str, Any], draw: Callable[[Path], Path]) -> Path:
    """Draw a figure, or copy its PNG from the cache when the plotted data are identical (drawing is slow).

    It is drawn in a private temporary folder and written to ``out/rel`` through ``tools.runfiles`` (a link planted
    under the figure's name or folder is never written through).
    """

    def compute() -> dict[str, npt.NDArray[np.uint8]]:
        with tempfile.TemporaryDirectory(prefix="ara-figure-") as tmp:
            drawn = draw(Path(tmp) / Path(rel).name)
            return {"png": np.frombuffer(drawn.read_bytes(), dtype=np.uint8)}

    arrays = cache.get_or_compute(content_key("fig", **data), compute)
    with RunFiles(out, create=True) as files:
        return files.write_bytes(rel, arrays["png"].tobytes())


def _check_labels(data: Dataset, pool: npt.NDArray[np.int64]) -> None:
    classes = np.unique(data.labels[pool])
    if classes.size < 2 or not set(classes.tolist()) <= {0, 1}:
        raise UserInputError(
            f"dataset {data.name!r} needs labels 0 and 1 in its pool; found {classes.tolist()}: "
            "weak-to-strong needs both classes"
        )


def run_w2s(config: W2SConfig, out_dir: Path | str, *, _ctx: _Context | None = None) -> W2SResult:
    """Run the weak-to-strong protocol for every seed in ``config``; write results into ``out_dir``.

    Returns per-seed weak / ceiling / w2s test accuracy, PGR and student-supervisor agreement, each summarised as
    mean with a 95% bootstrap CI over seeds. Files: ``config.json``, ``results.json`` (metrics named ``weak_acc``,
    ``ceiling_acc``, ``w2s_acc``, ``pgr``, ``agreement``), ``predictions/seed_<k>.npz`` (test predictions, no
    labels), ``figures/seed_accuracies.png``.

    Raises:
        UserInputError: Split sizes larger than the data, one-class labels, NaN features, bad names.

    Example:
        >>> from tools.w2s import W2SConfig, run_w2s
        >>> cfg = W2SConfig(dataset="sk_breast_cancer", weak_features="tab_coarse", strong_features="tab_raw",
        ...                 strong_head="mlp", n_weak_train=150, n_strong_train=150, n_test=150, seeds=[0, 1],
        ...                 cache_dir=None)
        >>> result = run_w2s(cfg, "/tmp/w2s-demo")
        >>> round(result.ceiling_acc.mean, 2) >= round(result.weak_acc.mean, 2) - 0.1
        True
    """
    start = time.perf_counter()
    out = Path(out_dir)
    ctx = _ctx or _Context(config.cache_dir)
    before = ctx.stats()
    data = load_dataset(config.dataset, config.data_root)
    pool = pool_indices(data, config.n_total, config.data_seed)
    _check_labels(data, pool)
    labels = data.labels[pool]
    strong_x = ctx.store.features(data, config.strong_features, pool)
    x_hash = hash_array(strong_x)
    seed_results: list[SeedResult] = []
    (out / "predictions").mkdir(parents=True, exist_ok=True)
    for seed in config.seeds:
        splits = split_pool(config.n_weak_train, config.n_strong_train, config.n_test, seed)
        if np.unique(labels[splits.weak_train]).size < 2:
            raise UserInputError(
                f"seed {seed}: the weak training split of {data.name!r} has one class only; raise n_weak_train"
            )
        weak_b, weak_t = _weak_probs(config, data, pool, splits, seed, ctx)
        gt_b = labels[splits.strong_train].astype(np.float32)
        ceiling_t = _head(config, strong_x, x_hash, splits, gt_b, "xent", seed, ctx)
        w2s_t = _head(config, strong_x, x_hash, splits, weak_b.astype(np.float32), config.loss, seed, ctx)
        scorer = HeldoutScorer(labels[splits.test])
        weak_acc = scorer.score(weak_t, name="weak").accuracy
        ceiling_acc = scorer.score(ceiling_t, name="ceiling").accuracy
        w2s_acc = scorer.score(w2s_t, name="w2s").accuracy
        np.savez(out / "predictions" / f"seed_{seed}.npz", weak=weak_t, ceiling=ceiling_t, w2s=w2s_t)
        seed_results.append(
            SeedResult.of(seed, (weak_acc, ceiling_acc, w2s_acc), weak_t=weak_t, w2s_t=w2s_t, weak_b=weak_b, gt_b=gt_b)
        )
        log.info("w2s %s seed %d: %s", config.slug(), seed, seed_results[-1])

    def stats() -> CacheStats:
        after = ctx.stats()
        return CacheStats(hits=after[0] - before[0], misses=after[1] - before[1], corrupt=after[2] - before[2])

    return summarise_w2s(
        config,
        seed_results,
        out,
        cache=ctx.cache,
        stats=stats,
        data_hash=data.content_hash(),
        started=start,
        provenance={"data_source": data.source},
    )


def summarise_w2s(
    config: W2SConfig,
    seed_results: list[SeedResult],
    out: Path,
    *,
    cache: ArrayCache,
    stats: Callable[[], CacheStats],
    data_hash: str,
    started: float,
    provenance: dict[str, Any],
    verification: Verification | None = None,
    item_metrics: dict[str, dict[str, Any]] | None = None,
) -> W2SResult:
    """Bootstrap summaries over seeds, the per-seed figure and ``results.json`` (shared by every w2s protocol).

    ``item_metrics`` (the held-out protocol's accuracies with intervals over its fixed test items) are written
    beside the per-seed ones.

    ``stats`` is read after the figure is drawn or copied from ``cache``, so its hits and misses count it;
    ``started`` is the run's ``time.perf_counter()`` at its start; ``verification`` (host scoring) goes into
    ``results.json``.
    """
    summaries = {
        name: bootstrap_summary([getattr(r, name) for r in seed_results])
        for name in ("weak_acc", "ceiling_acc", "w2s_acc", "pgr", "agreement")
    }
    series = {
        "weak": [r.weak_acc for r in seed_results],
        "w2s": [r.w2s_acc for r in seed_results],
        "ceiling": [r.ceiling_acc for r in seed_results],
    }
    title = f"{config.slug()} (PGR mean {summaries['pgr'].mean:.2f})"
    seeds = [r.seed for r in seed_results]
    figure = _cached_figure(
        cache,
        out,
        "figures/seed_accuracies.png",
        {"figure": "seeds", "seeds": seeds, "series": series, "title": title},
        lambda path: plot_seed_accuracies(path, seeds, series, title),
    )
    cache_stats = stats()
    wall_time_s = time.perf_counter() - started
    table = {
        "columns": ["seed", "weak_acc", "ceiling_acc", "w2s_acc", "pgr", "agreement", "weak_label_acc"],
        "rows": [
            [r.seed, r.weak_acc, r.ceiling_acc, r.w2s_acc, r.pgr, r.agreement, r.weak_label_acc] for r in seed_results
        ],
    }
    results_path = write_results(
        out,
        tool=TOOL,
        title=f"Weak-to-strong: {config.slug()}",
        config=config.model_dump(mode="json"),
        metrics={**{name: s.as_metric() for name, s in summaries.items()}, **(item_metrics or {})},
        tables={"per_seed": table},
        figures={"seed_accuracies": str(figure.relative_to(out))},
        provenance={
            "data_hash": data_hash,
            "seeds": list(config.seeds),
            "wall_time_s": round(wall_time_s, 3),
            **provenance,
            "cache": cache_stats.model_dump(),
        },
        verification=verification,
    )
    return W2SResult(
        config=config,
        seeds=seed_results,
        out_dir=out,
        results_path=results_path,
        wall_time_s=wall_time_s,
        cache=cache_stats,
        data_hash=data_hash,
        **summaries,
    )


class SweepResult(BaseModel):
    """Outcome of ``run_sweep``: one ``W2SResult`` per grid point plus the sweep-level files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    runs: list[W2SResult]
    results_path: Path
    wall_time_s: float
    cache: CacheStats


def run_sweep(base: W2SConfig, grid: dict[str, list[Any]], out_dir: Path | str) -> SweepResult:
    """Run ``run_w2s`` for every combination of ``grid`` values applied to ``base``; one subdirectory each.

    ``grid`` maps W2SConfig field names to lists of values (e.g. ``{"loss": ["xent", "aux_conf"]}``).
    Features and model caches are shared across the sweep. Writes a sweep-level ``results.json`` with a
    ``summary`` table (one row per run) and ``figures/pgr.png`` (PGR by loss and weak/strong pair, 95% CIs).

    Example:
        >>> from tools.w2s import W2SConfig, run_sweep
        >>> base = W2SConfig(dataset="sk_digits_parity", weak_features="tab_coarse", strong_features="tab_raw",
        ...                  strong_head="mlp", n_weak_train=300, n_strong_train=300, n_test=300, seeds=[0, 1],
        ...                  cache_dir=None)
        >>> sweep = run_sweep(base, {"loss": ["xent", "aux_conf"]}, "/tmp/w2s-sweep")
        >>> [r.config.loss for r in sweep.runs]
        ['xent', 'aux_conf']
    """
    start = time.perf_counter()
    out = Path(out_dir)
    unknown = sorted(set(grid) - set(W2SConfig.model_fields))
    if unknown:
        raise UserInputError(f"grid keys {unknown} are not W2SConfig fields; valid: {sorted(W2SConfig.model_fields)}")
    ctx = _Context(base.cache_dir)
    before = ctx.stats()
    runs: list[W2SResult] = []
    names = list(grid)
    for values in itertools.product(*(grid[name] for name in names)):
        config = W2SConfig.model_validate({**base.model_dump(), **dict(zip(names, values, strict=True))})
        runs.append(run_w2s(config, out / config.slug(), _ctx=ctx))
    rows = []
    pgr_rows: list[tuple[str, str, float, float, float]] = []
    for run in runs:
        c = run.config
        pair = f"{c.dataset}:\n{c.weak_features}/{c.weak_head} -> {c.strong_features}/{c.strong_head}"
        rows.append(
            [
                c.dataset,
                f"{c.weak_features}/{c.weak_head}",
                f"{c.strong_features}/{c.strong_head}",
                c.loss,
                run.weak_acc.mean,
                run.ceiling_acc.mean,
                run.w2s_acc.mean,
                run.pgr.mean,
                run.pgr.ci_low,
                run.pgr.ci_high,
                run.pgr.n,
                run.pgr.excluded,
                run.agreement.mean,
                str(run.out_dir.relative_to(out)),
            ]
        )
        pgr_rows.append((pair, c.loss, run.pgr.mean, run.pgr.ci_low, run.pgr.ci_high))
    figure = _cached_figure(
        ctx.cache,
        out,
        "figures/pgr.png",
        {"figure": "pgr", "rows": pgr_rows},
        lambda path: plot_pgr(path, pgr_rows, "PGR by weak/strong pair and loss"),
    )
    after = ctx.stats()
    stats = CacheStats(hits=after[0] - before[0], misses=after[1] - before[1], corrupt=after[2] - before[2])
    wall = time.perf_counter() - start
    metrics = {f"{r[0]}.{r[1]}.{r[2]}.{r[3]}.pgr": run.pgr.as_metric() for r, run in zip(rows, runs, strict=True)}
    results_path = write_results(
        out,
        tool=TOOL,
        title="Weak-to-strong sweep",
        config={"base": base.model_dump(mode="json"), "grid": grid},
        metrics=metrics,
        tables={
            "summary": {
                "columns": [
                    "dataset",
                    "weak",
                    "strong",
                    "loss",
                    "weak_acc",
                    "ceiling_acc",
                    "w2s_acc",
                    "pgr",
                    "pgr_ci_low",
                    "pgr_ci_high",
                    "pgr_n",
                    "pgr_excluded",
                    "agreement",
                    "run_dir",
                ],
                "rows": rows,
            }
        },
        figures={"pgr": str(figure.relative_to(out))},
        provenance={
            "data_hash": ",".join(sorted({run.data_hash for run in runs})),
            "seeds": list(base.seeds),
            "wall_time_s": round(wall, 3),
            "cache": stats.model_dump(),
        },
    )
    return SweepResult(runs=runs, results_path=results_path, wall_time_s=wall, cache=stats)
