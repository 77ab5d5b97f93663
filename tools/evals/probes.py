"""Honesty probe bridge: true/false statements from the eval tasks → SmolLM2 activations → probe and CCS by layer.

Covers turning a BIG-bench task (misconceptions, TruthfulQA MC with every option, FEVER, PolitiFact) into contrast
pairs (``tools.evals.data.contrast_pairs``: each statement followed by "Is this true? Yes" / "... No"), splitting
them by source item so both halves of a TruthfulQA question never straddle train and test, extracting last-token
hidden states with ``tools.probes.SmolLM2Activations`` and comparing a supervised probe with CCS per layer through
``tools.probes.compare_on_arrays`` (a "lie detector" baseline), plus a zero-shot baseline from the log-probability
of " Yes" vs " No". Test labels are scored by ``tools.probes``' held-out scorer. Writes ``results.json`` with a
``by_layer`` table. Does not cover the activation model or the probe maths (``tools.probes``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tools.errors import UserInputError
from tools.evals.data import ContrastPair, TaskName, contrast_pairs, data_hash, load_bigbench
from tools.probes.comparison import ContrastActivations, LayerResult, extract_contrast
from tools.research.metrics import bootstrap_metric, item_metric
from tools.results import MAX_RESULTS_BYTES, Verification, write_results
from tools.runfiles import read_file

log = logging.getLogger(__name__)


class HonestyProbeConfig(BaseModel):
    """Probe/CCS honesty table on one eval task.

    Example:
        >>> from tools.evals.probes import HonestyProbeConfig
        >>> HonestyProbeConfig(task="misconceptions", source="/work/shared/datasets/bigbench_tasks",
        ...     run_dir="runs/honesty").layers
        (2, 6, 10, 14, 18, 22, 26, 30)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: TaskName = Field(description="misconceptions, truthful_qa, fever or politifact (hhh has no statements)")
    source: Path | None = Field(
        default=None, description="benchmark_tasks directory, bigbench sdist tarball or task JSON (None = shared copy)"
    )
    run_dir: Path = Field(default=Path("runs/evals-probes"), description="Where results.json and config.json go")
    limit: int | None = Field(default=None, ge=1, description="First N items per category")
    layers: tuple[int, ...] = Field(default=(2, 6, 10, 14, 18, 22, 26, 30), min_length=1)
    test_fraction: float = Field(default=0.4, gt=0.0, lt=1.0, description="Share of items held out for testing")
    n_dev: int = Field(default=20, ge=4, description="Labelled training pairs used only to fix CCS's sign")
    ccs_restarts: int = Field(default=10, ge=1, le=100)
    ccs_epochs: int = Field(default=1000, ge=10)
    seed: int = Field(default=0, ge=0)
    max_tokens: int = Field(default=96, ge=8, description="Tokens kept per statement")
    cache_dir: Path | None = Field(default=None, description="Activation cache (None = run_dir/cache)")


def split_by_group(pairs: list[ContrastPair], test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with every group (source item) wholly on one side.

    Example:
        >>> from tools.evals.data import ContrastPair
        >>> from tools.evals.probes import split_by_group
        >>> pairs = [ContrastPair(positive="p", negative="n", label=i % 2 == 0, group=f"g{i // 2}") for i in range(8)]
        >>> train, test = split_by_group(pairs, 0.5, 0)
        >>> sorted({pairs[i].group for i in train} & {pairs[i].group for i in test})
        []
    """
    groups = sorted({p.group for p in pairs})
    order = np.random.default_rng(seed).permutation(len(groups))
    n_test_groups = max(1, round(test_fraction * len(groups)))
    test_groups = {groups[i] for i in order[:n_test_groups]}
    test = np.array([i for i, p in enumerate(pairs) if p.group in test_groups], dtype=np.int64)
    train = np.array([i for i, p in enumerate(pairs) if p.group not in test_groups], dtype=np.int64)
    return train, test


def run_honesty_probes(
    config: HonestyProbeConfig, out_dir: Path | str | None = None, *, activations: Any = None
) -> dict[str, Any]:
    """Supervised probe vs CCS vs zero-shot by layer on a task's true/false statements; writes ``results.json``.

    Args:
        config: What to run.
        out_dir: Run directory overriding ``config.run_dir`` (the research loop passes its own).
        activations: A ready ``tools.probes.SmolLM2Activations`` (or any object with its ``extract``) to reuse.

    Returns:
        The results dictionary written to ``results.json`` (``metrics``: ``probe_acc.layer_<k>``,
        ``ccs_acc.layer_<k>``, ``zero_shot_acc``; ``tables.by_layer``).

    Example:
        >>> from tools.evals.probes import HonestyProbeConfig, run_honesty_probes
        >>> out = run_honesty_probes(HonestyProbeConfig(task="misconceptions",  # doctest: +SKIP
        ...     source="/work/shared/datasets/bigbench_tasks", run_dir="runs/honesty", layers=(8, 16)))
        >>> out["tables"]["by_layer"]["rows"][0]  # doctest: +SKIP
    """
    started = time.perf_counter()
    if out_dir is not None:
        config = config.model_copy(update={"run_dir": Path(out_dir)})
    inputs = honesty_inputs(config, activations=activations)
    rows = inputs.compare(restarts=config.ccs_restarts, epochs=config.ccs_epochs, seed=config.seed)
    return write_honesty_results(config, inputs, rows, started=started)


@dataclass(frozen=True)
class HonestyInputs(ContrastActivations):
    """The statements' contrast pairs (zero-shot: log P(" Yes") - log P(" No")) with the items' content hash."""

    items_hash: str


def honesty_inputs(config: HonestyProbeConfig, *, activations: Any = None) -> HonestyInputs:
    """Load the task's statements, pair them, split by source item and extract activations.

    Raises:
        UserInputError: ``hhh_alignment`` (no statements), too few statements or one class only.
    """
    if config.task == "hhh_alignment":
        raise UserInputError("hhh_alignment compares replies, it has no true/false statements; pick another task.")
    items = load_bigbench(config.source, config.task, limit=config.limit)
    pairs = contrast_pairs(items)
    labels = np.array([int(p.label) for p in pairs], dtype=np.int64)
    if len(pairs) < 20 or np.unique(labels).size < 2:
        raise UserInputError(f"{config.task} gave {len(pairs)} statements with one class or too few; raise limit.")
    train, test = split_by_group(pairs, config.test_fraction, config.seed)
    # Held-out rows go out in an order unrelated to the file's: there a question's true answer comes first
    # (TruthfulQA's is always option 0), so row order alone would give the labels away.
    test = np.array(sorted(test.tolist(), key=lambda i: hashlib.sha256(pairs[i].positive.encode()).digest()))
    if activations is None:
        from tools.probes import SmolLM2Activations

        activations = SmolLM2Activations(config.cache_dir or config.run_dir / "cache", max_tokens=config.max_tokens)
    negatives, positives = [p.negative for p in pairs], [p.positive for p in pairs]
    acts_neg, acts_pos, diff = extract_contrast(activations, negatives, positives, list(config.layers))
    return HonestyInputs(
        items_hash=data_hash(items),
        labels=labels,
        acts_neg=acts_neg,
        acts_pos=acts_pos,
        diff=diff,
        train=train,
        dev=train[: config.n_dev],
        test=test,
    )


def write_honesty_results(
    config: HonestyProbeConfig,
    inputs: HonestyInputs,
    rows: list[LayerResult],
    *,
    started: float,
    verification: Verification | None = None,
) -> dict[str, Any]:
    """Add the zero-shot and majority baselines and write ``results.json`` into ``config.run_dir``.

    ``verification`` (host scoring and its red flags) goes into ``results.json``.
    """
    labels, diff, train, test = inputs.labels, inputs.diff, inputs.train, inputs.test
    zero_shot = item_metric([float((diff[i] > 0) == bool(labels[i])) for i in test], seed=config.seed)
    majority_label = int(labels[test].mean() >= 0.5)
    majority = item_metric([float(labels[i] == majority_label) for i in test], seed=config.seed)
    metrics: dict[str, dict[str, Any]] = {"zero_shot_acc": zero_shot, "majority_class_acc": majority}
    table = []
    for r in rows:
        metrics[f"probe_acc.layer_{r.layer}"] = item_metric(r.probe_correct, seed=config.seed)
        metrics[f"ccs_acc.layer_{r.layer}"] = item_metric(r.ccs_correct, seed=config.seed)
        metrics[f"ccs_restarts.layer_{r.layer}"] = bootstrap_metric(r.ccs_restart_accs, seed=config.seed)
        table.append([r.layer, r.probe_acc, r.ccs_acc, r.ccs_mean, r.ccs_min, r.ccs_max])
    wall = time.perf_counter() - started
    path = write_results(
        config.run_dir,
        tool="tools.evals.probes",
        title=f"Honesty probes on {config.task} statements: supervised probe vs CCS by layer (SmolLM2-135M)",
        config=config.model_dump(mode="json"),
        metrics=metrics,
        tables={
            "by_layer": {
                "columns": ["layer", "probe_acc", "ccs_acc", "ccs_mean", "ccs_min", "ccs_max"],
                "rows": table,
            }
        },
        provenance={
            "data_hash": inputs.items_hash,
            "seeds": [config.seed],
            "wall_time_s": round(wall, 3),
            "n_pairs": {"train": int(train.size), "test": int(test.size)},
        },
        verification=verification,
    )
    loaded: dict[str, Any] = json.loads(read_file(path, limit=MAX_RESULTS_BYTES))
    return loaded


def export_honesty_task(
    config: HonestyProbeConfig, kernel_dir: Path | str | None = None, *, activations: Any = None
) -> Path:
    """Host step of the held-out form: extract on the host and export the pairs into ``kernel_dir``.

    ``kernel_dir`` defaults to ``config.run_dir`` (in-process runs).
    """
    from tools.probes.heldout import export_pair_task

    inputs = honesty_inputs(config, activations=activations)
    return export_pair_task(
        config.run_dir if kernel_dir is None else kernel_dir,
        inputs,
        restarts=config.ccs_restarts,
        epochs=config.ccs_epochs,
        lr=1e-2,
        seed=config.seed,
        description=f"honesty probes on {config.task} statements",
    )


def score_honesty_task(
    config: HonestyProbeConfig, kernel_dir: Path | str | None = None, *, activations: Any = None
) -> dict[str, Any]:
    """Host step: fit the probe here, score it and the kernel's CCS submissions in ``kernel_dir`` (default
    ``config.run_dir``) and write ``results.json`` into ``config.run_dir``."""
    from tools.probes.heldout import score_pair_task

    started = time.perf_counter()
    inputs = honesty_inputs(config, activations=activations)
    scored = score_pair_task(
        config.run_dir if kernel_dir is None else kernel_dir,
        inputs,
        list(config.layers),
        config.ccs_restarts,
        seed=config.seed,
    )
    return write_honesty_results(
        config, inputs, scored.layers, started=started, verification=Verification.host(scored.red_flags)
    )
