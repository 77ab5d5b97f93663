"""Probe / CCS comparisons with the test labels kept on the host: export pairs, fit in a kernel, score on the host.

The split of ``compare_on_arrays`` at the sandbox boundary, shared by ``tools.probes``' comparison and the honesty
probes of ``tools.evals``:

1. ``export_pair_task`` (host): writes ``task.npz`` + ``task.json``: every layer's contrast-pair activations
   (training rows first, then the held-out rows), the training labels, the dev slice (positions within the
   training rows) and the fitting settings. The held-out rows' labels are not written.
2. ``train_pair_task`` (kernel): per layer fits the supervised probe and CCS (every restart, sign fixed on the dev
   slice) and submits test predictions (``submissions/layer<k>.probe.npy``, ``layer<k>.ccs<r>.npy``) and
   ``submissions/ccs_best.json`` (the lowest-loss restart per layer).
3. ``score_pair_task`` (host): scores the submissions against labels the host rebuilt, returning ``LayerResult``s.

``export_probe_task`` / ``score_probe_task`` are the host steps for ``run_probe_comparison``'s config (the
``probes`` recipe). Does not cover building pairs or extracting activations (``tools.probes.comparison``,
``tools.evals.probes``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tools.errors import UserInputError
from tools.probes.comparison import (
    ContrastActivations,
    LayerPredictions,
    LayerResult,
    ProbeConfig,
    ProbeResult,
    predict_layer,
    probe_inputs,
    score_layer,
    write_probe_results,
)
from tools.research.scoring import SUBMISSIONS, TASK_META, HeldoutScorer, KernelTask

TASK_KIND = "ara.pair-task/1"
BEST_FILE = "ccs_best.json"
UNLABELLED = -1


def export_pair_task(
    run_dir: Path | str,
    pairs: ContrastActivations,
    *,
    restarts: int,
    epochs: int,
    lr: float,
    seed: int,
    description: str,
) -> Path:
    """Host step: write the kernel-visible pair task (no held-out labels) into ``run_dir``; returns ``task.npz``.

    ``pairs.train``, ``.dev`` and ``.test`` index the activation rows; ``dev`` must lie within ``train``.
    """
    root = Path(run_dir)
    acts_neg, acts_pos, labels = pairs.acts_neg, pairs.acts_pos, pairs.labels
    train, dev, test = pairs.train, pairs.dev, pairs.test
    where = {int(i): k for k, i in enumerate(train)}
    missing = [int(i) for i in dev if int(i) not in where]
    if missing:
        raise UserInputError(f"dev rows {missing[:5]} are not training rows; the dev slice must come from train")
    rows = np.concatenate([train, test])
    inputs: dict[str, npt.NDArray[Any]] = {"dev": np.array([where[int(i)] for i in dev], dtype=np.int64)}
    for layer in sorted(acts_neg):
        inputs[f"neg_layer{layer}"] = np.asarray(acts_neg[layer][rows], dtype=np.float32)
        inputs[f"pos_layer{layer}"] = np.asarray(acts_pos[layer][rows], dtype=np.float32)
    path = HeldoutScorer(labels[test]).export_task(
        root,
        inputs=inputs,
        train_labels={"y_train": np.asarray(labels[train], dtype=np.int64)},
        test_inputs=np.arange(test.size, dtype=np.int64),
        description=(
            f"{description}: rows of neg_layer<k>/pos_layer<k> are {train.size} training pairs (labels y_train) "
            f"then {test.size} held-out pairs (x_test numbers them; their labels stay on the host)"
        ),
    )
    meta = json.loads((root / TASK_META).read_text(encoding="utf-8"))
    meta.update(
        kind=TASK_KIND,
        layers=sorted(acts_neg),
        n_train=int(train.size),
        restarts=restarts,
        epochs=epochs,
        lr=lr,
        seed=seed,
    )
    (root / TASK_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return path


def train_pair_task(run_dir: Path | str = ".") -> list[str]:
    """Kernel step: fit probe and CCS per layer on the exported pairs; submit test predictions; return their names."""
    root = Path(run_dir)
    task = KernelTask.load(root)
    meta = json.loads((root / TASK_META).read_text(encoding="utf-8"))
    if meta.get("kind") != TASK_KIND:
        raise UserInputError(f"{root / TASK_META} is not a contrast-pair task (kind={meta.get('kind')!r})")
    arrays = task.arrays
    n_train, n_test = int(meta["n_train"]), int(task.x_test.shape[0])
    labels = np.concatenate([arrays["y_train"], np.full(n_test, UNLABELLED, dtype=np.int64)])
    train, test = np.arange(n_train), np.arange(n_train, n_train + n_test)
    submitted: list[str] = []
    best: dict[str, int] = {}
    for layer in meta["layers"]:
        predictions = predict_layer(
            arrays[f"neg_layer{layer}"],
            arrays[f"pos_layer{layer}"],
            labels,
            train,
            arrays["dev"],
            test,
            layer=layer,
            restarts=int(meta["restarts"]),
            epochs=int(meta["epochs"]),
            lr=float(meta["lr"]),
            seed=int(meta["seed"]),
        )
        task.submit(f"layer{layer}.probe", predictions.probe)
        submitted.append(f"layer{layer}.probe")
        for r, probs in enumerate(predictions.ccs):
            task.submit(f"layer{layer}.ccs{r}", probs)
            submitted.append(f"layer{layer}.ccs{r}")
        best[str(layer)] = predictions.best
        print(f"layer {layer}: submitted probe and {len(predictions.ccs)} CCS restarts", flush=True)
    (root / SUBMISSIONS / BEST_FILE).write_text(json.dumps(best), encoding="utf-8")
    return submitted


def score_pair_task(
    run_dir: Path | str, test_labels: npt.NDArray[np.int64], layers: list[int], restarts: int
) -> list[LayerResult]:
    """Host step: score every layer's submissions against ``test_labels`` (rebuilt by the host, never read back).

    Raises:
        UserInputError: a submission or ``ccs_best.json`` is missing or malformed (the kernel step did not finish).
    """
    root = Path(run_dir)
    best_path = root / SUBMISSIONS / BEST_FILE
    try:
        best = json.loads(best_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise UserInputError(f"{best_path} is missing or not JSON ({err}); the kernel step did not finish") from err
    scorer = HeldoutScorer(test_labels)
    results = []
    for layer in sorted(set(layers)):
        chosen = best.get(str(layer)) if isinstance(best, dict) else None
        if not isinstance(chosen, int) or isinstance(chosen, bool):
            raise UserInputError(f"{best_path} gives no best restart for layer {layer}")
        predictions = LayerPredictions(
            probe=_submission(root, f"layer{layer}.probe"),
            ccs=[_submission(root, f"layer{layer}.ccs{r}") for r in range(restarts)],
            best=chosen,
        )
        results.append(score_layer(layer, predictions, scorer))
    return results


def _submission(root: Path, name: str) -> npt.NDArray[np.float32]:
    path = root / SUBMISSIONS / f"{name}.npy"
    if not path.is_file():
        raise UserInputError(f"no submission {name!r} at {path}; the kernel step train_pair_task did not finish")
    return np.asarray(np.load(path, allow_pickle=False), dtype=np.float32)


def export_probe_task(config: ProbeConfig, run_dir: Path | str, *, activations: Any = None) -> Path:
    """Host step of ``run_probe_comparison``'s held-out form: build the pairs, extract, export (no test labels)."""
    return export_pair_task(
        run_dir,
        probe_inputs(config, activations=activations),
        restarts=config.ccs_restarts,
        epochs=config.ccs_epochs,
        lr=config.ccs_lr,
        seed=config.seed,
        description=f"probe vs CCS on {config.dataset} contrast pairs",
    )


def score_probe_task(config: ProbeConfig, run_dir: Path | str, *, activations: Any = None) -> ProbeResult:
    """Host step: score the kernel's submissions, add the zero-shot baselines, write ``results.json``.

    The pairs and labels are rebuilt from ``config`` (activations come from the host's cache); of what the kernel
    wrote only its own outputs are read: the predictions and which CCS restart had the lowest loss.
    """
    start = time.perf_counter()
    inputs = probe_inputs(config, activations=activations)
    layers = score_pair_task(run_dir, inputs.labels[inputs.test], list(config.layers), config.ccs_restarts)
    return write_probe_results(config, Path(run_dir), inputs, layers, started=start)
