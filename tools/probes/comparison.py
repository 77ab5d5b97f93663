"""Probe vs CCS vs zero-shot accuracy by layer on contrast pairs from SmolLM2-135M-Instruct (or given arrays).

``run_probe_comparison`` builds contrast pairs from a text dataset's prompts (the same prompt completed with
the class-0 and the class-1 answer word), extracts last-token hidden states at each requested layer plus the
answer token's log-probability (cached by content hash), then per layer trains a supervised logistic probe and
CCS with several restarts (sign fixed on a labelled dev slice taken from the training split), and scores all of
them and the zero-shot answer comparison on a held-out test split through a host-side ``HeldoutScorer``.

Does not cover other models than SmolLM2 for extraction; ``compare_on_arrays`` takes any activations.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tools.datasets import TEXT_DATASETS, Dataset, load_dataset
from tools.errors import UserInputError
from tools.probes.ccs import ccs_predict, fit_pair_norm, normalize_pairs, train_ccs, train_probe
from tools.research.features import check_finite
from tools.research.metrics import bootstrap_summary, item_metric
from tools.research.scoring import HeldoutScorer
from tools.results import Verification, write_results
from tools.runfiles import RunFiles

log = logging.getLogger(__name__)
TOOL = "tools.probes"


class ProbeConfig(BaseModel):
    """One probe-vs-CCS comparison.

    Example:
        >>> ProbeConfig(dataset="rotten_tomatoes", layers=[4, 8], n_train=200, n_test=100).ccs_restarts
        10
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(
        description=f"Text dataset with contrast prompts: {', '.join(TEXT_DATASETS)}.",
        json_schema_extra={"enum": list(TEXT_DATASETS)},
    )
    data_root: Path | None = Field(default=None, description="BIG-bench task directory for BIG-bench datasets.")
    layers: list[int] = Field(
        default_factory=lambda: list(range(2, 31, 2)), min_length=1, description="SmolLM2 layers 0..30."
    )
    n_train: int = Field(default=600, ge=20, description="Pairs for training probes and CCS (includes the dev slice).")
    n_dev: int = Field(default=50, ge=4, description="Labelled slice of the training pairs used to fix CCS's sign.")
    n_test: int = Field(default=400, ge=10, description="Held-out pairs, scored on the host.")
    ccs_restarts: int = Field(default=10, ge=1, le=100, description="Random restarts of CCS per layer.")
    ccs_epochs: int = Field(default=1000, ge=10, description="Full-batch AdamW steps per CCS fit.")
    ccs_lr: float = Field(default=1e-2, gt=0.0, description="CCS learning rate.")
    seed: int = Field(default=0, ge=0, description="Seed for the pool, the split and CCS initialisations.")
    max_tokens: int = Field(default=96, ge=8, description="Tokens kept per prompt (left part of long texts).")
    cache_dir: Path | None = Field(default=Path(".ara/cache"), description="Activation cache; None = off.")

    @field_validator("dataset")
    @classmethod
    def _text_dataset(cls, value: str) -> str:
        if value not in TEXT_DATASETS:
            raise ValueError(f"dataset {value!r} has no contrast prompts; valid datasets: {', '.join(TEXT_DATASETS)}")
        return value

    @field_validator("layers")
    @classmethod
    def _valid_layers(cls, value: list[int]) -> list[int]:
        bad = [layer for layer in value if not 0 <= layer <= 30]
        if bad:
            raise ValueError(f"layers {bad} are out of range; SmolLM2-135M has layers 0..30")
        return sorted(set(value))


class LayerResult(BaseModel):
    """Test accuracies at one layer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layer: int
    probe_acc: float
    """Supervised logistic probe on x+ - x-."""
    ccs_acc: float
    """CCS restart with the lowest unsupervised loss (sign fixed on the dev slice)."""
    ccs_restart_accs: list[float]
    """Every restart's test accuracy (sign-fixed)."""
    ccs_mean: float
    ccs_std: float
    ccs_min: float
    ccs_max: float
    probe_correct: list[float] = Field(default_factory=list, repr=False)
    """Per held-out pair, 1.0 when the probe was right (held-out order): the item-level interval's values."""
    ccs_correct: list[float] = Field(default_factory=list, repr=False)
    """The same for the chosen CCS restart; paired with ``probe_correct`` item by item."""


class ProbeResult(BaseModel):
    """Outcome of ``run_probe_comparison``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: ProbeConfig
    layers: list[LayerResult]
    zero_shot_acc: float
    """Answer with the higher log-probability (layer independent)."""
    zero_shot_calibrated_acc: float
    """Zero-shot with the decision threshold moved to the training median of the log-prob difference."""
    out_dir: Path
    results_path: Path
    wall_time_s: float


class LayerPredictions(NamedTuple):
    """One layer's test predictions: P(true) of the supervised probe and of every CCS restart."""

    probe: npt.NDArray[np.float32]
    ccs: list[npt.NDArray[np.float32]]
    best: int
    """The CCS restart with the lowest unsupervised loss."""


def predict_probe(
    x_neg: npt.NDArray[np.float32],
    x_pos: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int64],
    train: npt.NDArray[np.int64],
    test: npt.NDArray[np.int64],
    *,
    layer: int,
    seed: int = 0,
) -> npt.NDArray[np.float32]:
    """The supervised probe's P(true) on the ``test`` rows, fitted on ``train`` (the host's baseline)."""
    check_finite(x_neg, f"layer {layer} activations")
    check_finite(x_pos, f"layer {layer} activations")
    norm = fit_pair_norm(x_neg[train], x_pos[train])
    n_neg, n_pos = normalize_pairs(norm, x_neg, x_pos)
    probe = train_probe(n_neg[train], n_pos[train], labels[train], seed=seed)
    return np.asarray(probe.predict_proba(n_pos[test] - n_neg[test])[:, 1], dtype=np.float32)


def predict_ccs(
    x_neg: npt.NDArray[np.float32],
    x_pos: npt.NDArray[np.float32],
    dev_labels: npt.NDArray[np.int64],
    train: npt.NDArray[np.int64],
    dev: npt.NDArray[np.int64],
    test: npt.NDArray[np.int64],
    *,
    layer: int,
    restarts: int = 10,
    epochs: int = 1000,
    lr: float = 1e-2,
    seed: int = 0,
) -> tuple[list[npt.NDArray[np.float32]], int]:
    """Every CCS restart's P(true) on the ``test`` rows and the lowest-loss restart (unsupervised on ``train``).

    Labels are read only at ``dev`` (to fix each restart's sign): ``dev_labels[i]`` belongs to row ``dev[i]``.
    """
    check_finite(x_neg, f"layer {layer} activations")
    check_finite(x_pos, f"layer {layer} activations")
    norm = fit_pair_norm(x_neg[train], x_pos[train])
    n_neg, n_pos = normalize_pairs(norm, x_neg, x_pos)
    fit = train_ccs(
        n_neg[train],
        n_pos[train],
        restarts=restarts,
        epochs=epochs,
        lr=lr,
        seed=seed + layer,
        dev=(n_neg[dev], n_pos[dev], np.asarray(dev_labels)),
    )
    return [ccs_predict(fit, r, n_neg[test], n_pos[test]) for r in range(restarts)], fit.best


def predict_layer(
    x_neg: npt.NDArray[np.float32],
    x_pos: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int64],
    train: npt.NDArray[np.int64],
    dev: npt.NDArray[np.int64],
    test: npt.NDArray[np.int64],
    *,
    layer: int,
    restarts: int = 10,
    epochs: int = 1000,
    lr: float = 1e-2,
    seed: int = 0,
) -> LayerPredictions:
    """Fit the probe and CCS on ``train`` rows (CCS's sign on ``dev``) and predict the ``test`` rows.

    Reads ``labels`` only at ``train`` and ``dev``. Under the held-out protocol the two halves run apart: the host
    fits the probe (``predict_probe``), the kernel CCS (``predict_ccs``, which sees only the dev labels).
    """
    probe = predict_probe(x_neg, x_pos, labels, train, test, layer=layer, seed=seed)
    ccs, best = predict_ccs(
        x_neg, x_pos, labels[dev], train, dev, test, layer=layer, restarts=restarts, epochs=epochs, lr=lr, seed=seed
    )
    return LayerPredictions(probe=probe, ccs=ccs, best=best)


def score_layer(layer: int, predictions: LayerPredictions, scorer: HeldoutScorer) -> LayerResult:
    """Test accuracies of one layer's predictions, scored by the host-side ``scorer``."""
    probe = scorer.score(predictions.probe, name=f"layer{layer}.probe")
    probe_acc = probe.accuracy
    scores = [scorer.score(p, name=f"layer{layer}.ccs{r}") for r, p in enumerate(predictions.ccs)]
    accs = [s.accuracy for s in scores]
    if not 0 <= predictions.best < len(accs):
        raise UserInputError(f"layer {layer}: best CCS restart {predictions.best} is not one of 0..{len(accs) - 1}")
    log.info(
        "layer %d: probe %.3f ccs %.3f (restarts %.3f±%.3f)",
        layer,
        probe_acc,
        accs[predictions.best],
        np.mean(accs),
        np.std(accs),
    )
    return LayerResult(
        layer=layer,
        probe_acc=probe_acc,
        ccs_acc=accs[predictions.best],
        ccs_restart_accs=accs,
        ccs_mean=float(np.mean(accs)),
        ccs_std=float(np.std(accs)),
        ccs_min=float(np.min(accs)),
        ccs_max=float(np.max(accs)),
        probe_correct=probe.correct,
        ccs_correct=scores[predictions.best].correct,
    )


def compare_on_arrays(
    acts_neg: dict[int, npt.NDArray[np.float32]],
    acts_pos: dict[int, npt.NDArray[np.float32]],
    labels: npt.NDArray[np.int64],
    train: npt.NDArray[np.int64],
    dev: npt.NDArray[np.int64],
    test: npt.NDArray[np.int64],
    *,
    restarts: int = 10,
    epochs: int = 1000,
    lr: float = 1e-2,
    seed: int = 0,
) -> list[LayerResult]:
    """Probe and CCS per layer on given contrast-pair activations; test labels are used only by a scorer."""
    scorer = HeldoutScorer(labels[test])
    return [
        score_layer(
            layer,
            predict_layer(
                acts_neg[layer],
                acts_pos[layer],
                labels,
                train,
                dev,
                test,
                layer=layer,
                restarts=restarts,
                epochs=epochs,
                lr=lr,
                seed=seed,
            ),
            scorer,
        )
        for layer in sorted(acts_neg)
    ]


def run_probe_comparison(config: ProbeConfig, out_dir: Path | str, *, activations: Any = None) -> ProbeResult:
    """Compare a supervised probe, CCS (with restarts) and zero-shot by layer; write results into ``out_dir``.

    Files: ``config.json``, ``results.json`` (metrics ``probe_acc.layer_<k>``, ``ccs_acc.layer_<k>``,
    ``ccs_restarts.layer_<k>`` with bootstrap CI over restarts, ``zero_shot_acc``; table ``by_layer``) and
    ``figures/by_layer.png``. ``activations`` may be a ready ``SmolLM2Activations`` (to share its loaded model).

    Example:
        >>> from tools.probes import ProbeConfig, run_probe_comparison
        >>> cfg = ProbeConfig(dataset="rotten_tomatoes", layers=[8], n_train=60, n_dev=10, n_test=40,
        ...                   ccs_restarts=3, ccs_epochs=100, cache_dir="/tmp/ara-cache")
        >>> result = run_probe_comparison(cfg, "/tmp/probes-demo")   # doctest: +SKIP
        >>> result.layers[0].probe_acc > 0.5                          # doctest: +SKIP
        True
    """
    start = time.perf_counter()
    inputs = probe_inputs(config, activations=activations)
    layer_results = inputs.compare(
        restarts=config.ccs_restarts, epochs=config.ccs_epochs, lr=config.ccs_lr, seed=config.seed
    )
    return write_probe_results(config, Path(out_dir), inputs, layer_results, started=start)


@dataclass(frozen=True)
class ContrastActivations:
    """Contrast pairs ready for probing: activations per layer, labels, the split and the zero-shot score."""

    labels: npt.NDArray[np.int64]
    acts_neg: dict[int, npt.NDArray[np.float32]]
    acts_pos: dict[int, npt.NDArray[np.float32]]
    diff: npt.NDArray[np.float32]
    """log P(positive answer) - log P(negative answer) per pair: the zero-shot score."""
    train: npt.NDArray[np.int64]
    dev: npt.NDArray[np.int64]
    test: npt.NDArray[np.int64]

    def compare(self, *, restarts: int, epochs: int, lr: float = 1e-2, seed: int = 0) -> list[LayerResult]:
        """``compare_on_arrays`` on these pairs (in one process: the test labels are at hand)."""
        return compare_on_arrays(
            self.acts_neg,
            self.acts_pos,
            self.labels,
            self.train,
            self.dev,
            self.test,
            restarts=restarts,
            epochs=epochs,
            lr=lr,
            seed=seed,
        )


def extract_contrast(
    activations: Any, neg_texts: list[str], pos_texts: list[str], layers: list[int]
) -> tuple[dict[int, npt.NDArray[np.float32]], dict[int, npt.NDArray[np.float32]], npt.NDArray[np.float32]]:
    """Last-token activations of both halves of every pair at ``layers`` and the zero-shot log-prob difference."""
    acts_neg = activations.extract(neg_texts, layers, pooling="last", last_token_logprob=True)
    acts_pos = activations.extract(pos_texts, layers, pooling="last", last_token_logprob=True)
    diff = np.asarray((acts_pos.pop(-1) - acts_neg.pop(-1))[:, 0], dtype=np.float32)
    return acts_neg, acts_pos, diff


@dataclass(frozen=True)
class ProbeInputs(ContrastActivations):
    """A probe comparison's pairs with the dataset they came from."""

    data: Dataset


def probe_inputs(config: ProbeConfig, *, activations: Any = None) -> ProbeInputs:
    """Load the dataset, draw the pool and split, build the contrast pairs and extract their activations.

    Raises:
        UserInputError: ``n_dev >= n_train``, more pairs asked for than the dataset has, one-class training pairs.
    """
    if config.n_dev >= config.n_train:
        raise UserInputError(f"n_dev={config.n_dev} must be smaller than n_train={config.n_train}")
    data = load_dataset(config.dataset, config.data_root)
    n_total = config.n_train + config.n_test
    if n_total > data.n:
        raise UserInputError(
            f"n_train + n_test = {n_total} but dataset {data.name!r} has {data.n} examples; lower them"
        )
    rng = np.random.default_rng(config.seed)
    pool = rng.permutation(data.n)[:n_total]
    labels = np.asarray(data.labels[pool], dtype=np.int64)
    if np.unique(labels[: config.n_train]).size < 2:
        raise UserInputError(f"the training pairs of {data.name!r} have one class only; raise n_train")
    if activations is None:
        from tools.research.activations import SmolLM2Activations

        activations = SmolLM2Activations(config.cache_dir, max_tokens=config.max_tokens)
    prompts = [data.prompts[i] for i in pool]
    neg_texts = [p.replace("{answer}", data.answers[0]) for p in prompts]
    pos_texts = [p.replace("{answer}", data.answers[1]) for p in prompts]
    acts_neg, acts_pos, diff = extract_contrast(activations, neg_texts, pos_texts, list(config.layers))
    idx = np.arange(n_total)
    return ProbeInputs(
        data=data,
        labels=labels,
        acts_neg=acts_neg,
        acts_pos=acts_pos,
        diff=diff,
        train=idx[: config.n_train],
        dev=idx[: config.n_dev],
        test=idx[config.n_train :],
    )


def write_probe_results(
    config: ProbeConfig,
    out: Path,
    inputs: ProbeInputs,
    layer_results: list[LayerResult],
    *,
    started: float,
    verification: Verification | None = None,
) -> ProbeResult:
    """Score the zero-shot baselines, draw the by-layer figure and write ``config.json`` + ``results.json``.

    ``verification`` (host scoring and its red flags) goes into ``results.json``.
    """
    labels, diff, train, test = inputs.labels, inputs.diff, inputs.train, inputs.test
    scorer = HeldoutScorer(labels[test])
    zero = scorer.score((diff[test] > 0).astype(np.float32), name="zero_shot")
    threshold = float(np.median(diff[train]))
    cal = scorer.score((diff[test] > threshold).astype(np.float32), name="zero_shot_cal")
    zero_shot, calibrated = zero.accuracy, cal.accuracy
    figure = _plot(out, "figures/by_layer.png", layer_results, zero_shot, calibrated, config)
    wall = time.perf_counter() - started
    metrics: dict[str, dict[str, Any]] = {
        "zero_shot_acc": item_metric(zero.correct, seed=config.seed),
        "zero_shot_calibrated_acc": item_metric(cal.correct, seed=config.seed),
    }
    rows = []
    for r in layer_results:
        metrics[f"probe_acc.layer_{r.layer}"] = item_metric(r.probe_correct, seed=config.seed)
        metrics[f"ccs_acc.layer_{r.layer}"] = item_metric(r.ccs_correct, seed=config.seed)
        metrics[f"ccs_restarts.layer_{r.layer}"] = bootstrap_summary(r.ccs_restart_accs).as_metric()
        rows.append([r.layer, r.probe_acc, r.ccs_acc, r.ccs_mean, r.ccs_std, r.ccs_min, r.ccs_max, zero_shot])
    data = inputs.data
    results_path = write_results(
        out,
        tool=TOOL,
        title=f"Probe vs CCS vs zero-shot by layer: {config.dataset} (SmolLM2-135M-Instruct)",
        config=config.model_dump(mode="json"),
        metrics=metrics,
        tables={
            "by_layer": {
                "columns": ["layer", "probe_acc", "ccs_acc", "ccs_mean", "ccs_std", "ccs_min", "ccs_max", "zero_shot"],
                "rows": rows,
            }
        },
        figures={"by_layer": str(figure.relative_to(out))},
        provenance={
            "data_hash": data.content_hash(),
            "seeds": [config.seed],
            "wall_time_s": round(wall, 3),
            "data_source": data.source,
            "answers": list(data.answers),
        },
        verification=verification,
    )
    return ProbeResult(
        config=config,
        layers=layer_results,
        zero_shot_acc=zero_shot,
        zero_shot_calibrated_acc=calibrated,
        out_dir=out,
        results_path=results_path,
        wall_time_s=wall,
    )


def _plot(
    out: Path, rel: str, rows: list[LayerResult], zero_shot: float, calibrated: float, config: ProbeConfig
) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 3.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    layers = [r.layer for r in rows]
    axes.plot(layers, [r.probe_acc for r in rows], marker="o", label="supervised probe")
    axes.plot(layers, [r.ccs_acc for r in rows], marker="s", label="CCS (lowest-loss restart)")
    axes.fill_between(
        layers, [r.ccs_min for r in rows], [r.ccs_max for r in rows], alpha=0.2, label="CCS restarts min-max"
    )
    axes.axhline(zero_shot, color="grey", linestyle="--", label="zero-shot")
    axes.axhline(calibrated, color="black", linestyle=":", label="zero-shot (calibrated)")
    axes.axhline(0.5, color="red", linewidth=0.6)
    axes.set_xlabel("SmolLM2-135M layer")
    axes.set_ylabel("test accuracy")
    axes.set_title(f"{config.dataset}: probe vs CCS vs zero-shot", fontsize=9)
    axes.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    with RunFiles(out, create=True) as files:
        return files.write_bytes(rel, buffer.getvalue())
