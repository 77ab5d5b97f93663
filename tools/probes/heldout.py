"""Probe / CCS comparisons with the labels and the supervised baseline on the host: the kernel fits only CCS.

The split of ``compare_on_arrays`` at the sandbox boundary, shared by ``tools.probes``' comparison and the honesty
probes of ``tools.evals``. CCS is the method under study; the supervised probe and the zero-shot score are the
baselines it is judged against, so the host computes them with trusted code and the kernel cannot fake them:

1. ``export_pair_task`` (host): writes ``task.npz`` + ``task.json`` into the kernel's directory: every layer's
   contrast-pair activations (training rows first, then the held-out rows), the dev slice (positions within the
   training rows) with its labels ``y_dev`` (CCS needs them to fix its sign) and the fitting settings. No other
   label is written: not the training rows' (the supervised probe is the host's), not the held-out rows'.
2. ``train_pair_task`` (kernel): per layer fits CCS (every restart, sign fixed on the dev slice) and submits test
   predictions (``submissions/layer<k>.ccs<r>.npy``) and ``submissions/ccs_best.json`` (the lowest-loss restart
   per layer, chosen without any held-out label).
3. ``score_pair_task`` (host): fits the supervised probe per layer on the training rows, reads the CCS
   submissions through ``tools.runfiles`` (no link followed; 1-D, one probability per held-out pair; the best-restart
   file capped and type-checked), scores everything against labels the host rebuilt, and raises red flags
   (``tools.research.redflags``: CCS equal to the probe, or beating it beyond chance).

``export_probe_task`` / ``score_probe_task`` are the host steps for ``run_probe_comparison``'s config (the
``probes`` recipe). Does not cover building pairs or extracting activations (``tools.probes.comparison``,
``tools.evals.probes``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from tools.errors import UserInputError
from tools.probes.comparison import (
    ContrastActivations,
    LayerPredictions,
    LayerResult,
    ProbeConfig,
    ProbeResult,
    predict_ccs,
    predict_probe,
    probe_inputs,
    score_layer,
    write_probe_results,
)
from tools.research.redflags import beats_reference, equals_reference, out_of_range
from tools.research.scoring import SUBMISSIONS, TASK_META, HeldoutScorer, KernelTask
from tools.results import RedFlag, Verification
from tools.runfiles import RunFiles

TASK_KIND = "ara.ccs-task/1"
BEST_FILE = "ccs_best.json"
MAX_BEST_BYTES = 64 * 1024


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
    """Host step: write the kernel-visible CCS task (dev labels only) into ``run_dir``; returns ``task.npz``.

    ``pairs.train``, ``.dev`` and ``.test`` index the activation rows; ``dev`` must lie within ``train``.
    """
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
    return HeldoutScorer(labels[test]).export_task(
        Path(run_dir),
        inputs=inputs,
        train_labels={"y_dev": np.asarray(labels[dev], dtype=np.int64)},
        test_inputs=np.arange(test.size, dtype=np.int64),
        description=(
            f"{description}: rows of neg_layer<k>/pos_layer<k> are {train.size} training pairs then {test.size} "
            "held-out pairs (x_test numbers them); y_dev labels the dev rows only, to fix CCS's sign. The "
            "supervised probe and every other label stay on the host"
        ),
        meta={
            "kind": TASK_KIND,
            "layers": sorted(acts_neg),
            "n_train": int(train.size),
            "restarts": restarts,
            "epochs": epochs,
            "lr": lr,
            "seed": seed,
        },
    )


def train_pair_task(run_dir: Path | str = ".") -> list[str]:
    """Kernel step: fit CCS per layer on the exported pairs; submit test predictions; return their names."""
    root = Path(run_dir)
    task = KernelTask.load(root)
    meta = json.loads((root / TASK_META).read_text(encoding="utf-8"))
    if meta.get("kind") != TASK_KIND:
        raise UserInputError(f"{root / TASK_META} is not a CCS task (kind={meta.get('kind')!r})")
    arrays = task.arrays
    n_train, n_test = int(meta["n_train"]), int(task.x_test.shape[0])
    train, test = np.arange(n_train), np.arange(n_train, n_train + n_test)
    submitted: list[str] = []
    best: dict[str, int] = {}
    for layer in meta["layers"]:
        ccs, chosen = predict_ccs(
            arrays[f"neg_layer{layer}"],
            arrays[f"pos_layer{layer}"],
            arrays["y_dev"],
            train,
            arrays["dev"],
            test,
            layer=layer,
            restarts=int(meta["restarts"]),
            epochs=int(meta["epochs"]),
            lr=float(meta["lr"]),
            seed=int(meta["seed"]),
        )
        for r, probs in enumerate(ccs):
            task.submit(f"layer{layer}.ccs{r}", probs)
            submitted.append(f"layer{layer}.ccs{r}")
        best[str(layer)] = chosen
        print(f"layer {layer}: submitted {len(ccs)} CCS restarts", flush=True)
    (root / SUBMISSIONS / BEST_FILE).write_text(json.dumps(best), encoding="utf-8")
    return submitted


def _best(root: Path) -> dict[str, Any]:
    where = root / SUBMISSIONS / BEST_FILE
    try:
        with RunFiles(root) as files:
            best = files.read_json(f"{SUBMISSIONS}/{BEST_FILE}", limit=MAX_BEST_BYTES)
    except (FileNotFoundError, UserInputError) as err:
        raise UserInputError(f"{where} is missing or not JSON ({err}); the kernel step did not finish") from err
    if not isinstance(best, dict):
        raise UserInputError(f"{where} must map layers to restart numbers, not {type(best).__name__}")
    return best


class ScoredLayers(NamedTuple):
    """``score_pair_task``'s outcome: each layer's accuracies and the red flags raised."""

    layers: list[LayerResult]
    red_flags: list[RedFlag]


def score_pair_task(
    run_dir: Path | str, pairs: ContrastActivations, layers: list[int], restarts: int, *, seed: int = 0
) -> ScoredLayers:
    """Host step: fit the probe here, score it and every layer's CCS submissions against the held-out labels.

    Raises:
        UserInputError: a submission or ``ccs_best.json`` is missing or malformed (the kernel step did not finish),
            a link or special file, or not one probability per held-out pair.
    """
    root = Path(run_dir)
    best = _best(root)
    labels, train, test = pairs.labels, pairs.train, pairs.test
    scorer = HeldoutScorer(labels[test])
    results: list[LayerResult] = []
    flags: list[RedFlag] = []
    for layer in sorted(set(layers)):
        chosen = best.get(str(layer))
        if not isinstance(chosen, int) or isinstance(chosen, bool):
            raise UserInputError(f"{root / SUBMISSIONS / BEST_FILE} gives no best restart for layer {layer}")
        probe = predict_probe(pairs.acts_neg[layer], pairs.acts_pos[layer], labels, train, test, layer=layer, seed=seed)
        ccs = [
            np.asarray(scorer.load_submission(root, f"layer{layer}.ccs{r}"), dtype=np.float32) for r in range(restarts)
        ]
        result = score_layer(layer, LayerPredictions(probe=probe, ccs=ccs, best=chosen), scorer)
        where = f"layer {layer}"
        flags += out_of_range(where, {"probe": result.probe_acc, "CCS": result.ccs_acc})
        for r, probs in enumerate(ccs):
            flags += equals_reference(f"{where} restart {r}", "ccs", probs, "probe", probe)
        flags += beats_reference(where, "ccs", ccs[chosen], "probe", probe, labels[test])
        results.append(result)
    return ScoredLayers(results, flags)


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


def score_probe_task(
    config: ProbeConfig, run_dir: Path | str, out_dir: Path | str | None = None, *, activations: Any = None
) -> ProbeResult:
    """Host step: fit and score the probe, score the kernel's CCS, add the zero-shot baselines, write results.

    The pairs and labels are rebuilt from ``config`` (activations come from the host's cache); of what the kernel
    wrote only its own outputs are read: the CCS predictions and which restart had the lowest loss. Results go to
    ``out_dir`` (default ``run_dir``, for in-process runs).
    """
    start = time.perf_counter()
    inputs = probe_inputs(config, activations=activations)
    scored = score_pair_task(run_dir, inputs, list(config.layers), config.ccs_restarts, seed=config.seed)
    out = Path(out_dir) if out_dir is not None else Path(run_dir)
    return write_probe_results(
        config, out, inputs, scored.layers, started=start, verification=Verification.host(scored.red_flags)
    )
