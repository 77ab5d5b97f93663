"""A self-contained weak-to-strong smoke test on ``sklearn.datasets.make_classification`` (numpy + scikit-learn).

Covers ``SyntheticW2SConfig`` and ``run_synthetic_w2s``: per seed a weak logistic regression on the first
``weak_features`` informative columns (``make_classification`` without shuffling puts the informative features first,
so the weak supervisor is weaker but informative, never a coin flip) labels a training split, a student (logistic regression or a small MLP) learns from those
labels, a ceiling learns from ground truth, and all three are scored on a test split; PGR per seed with a
bootstrap interval over seeds, a per-seed table and an accuracy-by-seed figure, written through
``tools.results.write_results``. Fast and offline, so it is the loop's smoke test, not a research result: it runs
inside a kernel and scores itself (no held-out protocol). Does not cover real data (``tools.w2s.harness``).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tools.results import write_results

TOOL = "recipes.synthetic_w2s"


class SyntheticW2SConfig(BaseModel):
    """Weak-to-strong generalization on a synthetic classification task (numpy + scikit-learn only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_samples: int = Field(default=4000, ge=200, le=20_000, description="Examples in the task.")
    n_features: int = Field(default=20, ge=4, le=500, description="Input features.")
    weak_features: int = Field(
        default=3, ge=1, le=100, description="Informative features the weak supervisor sees (fewer = weaker)."
    )
    strong_model: Literal["logreg", "mlp"] = Field(default="mlp", description="The student trained on weak labels.")
    seeds: list[int] = Field(
        default=[0, 1, 2, 3, 4], min_length=1, max_length=10, description="Random seeds (at least 5 for a claim)."
    )


def _summary(values: list[float]) -> dict[str, Any]:
    """Mean and bootstrap interval over the defined values; ``values`` keeps every seed (NaN where undefined), so
    metrics stay paired by seed position."""
    defined = [v for v in values if v == v]
    if not defined:
        return {"value": None, "over": "seeds"}
    arr = np.asarray(defined, dtype=float)
    if len(arr) < 2:  # one seed has no interval; a [x, x] CI would read as certainty
        return {
            "mean": float(arr.mean()),
            "ci_low": None,
            "ci_high": None,
            "n": len(arr),
            "values": [float(v) for v in values],
            "ci": "none: fewer than 2 seeds",
            "over": "seeds",
        }
    rng = np.random.default_rng(0)
    boots = [float(rng.choice(arr, size=len(arr)).mean()) for _ in range(1000)]
    return {
        "mean": float(arr.mean()),
        "ci_low": float(np.percentile(boots, 2.5)),
        "ci_high": float(np.percentile(boots, 97.5)),
        "n": len(arr),
        "values": [float(v) for v in values],
        "ci": "bootstrap95",
        "over": "seeds",
    }


def _plot(rows: list[list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # a file, not an inline display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    width = 0.27
    for offset, column, label in ((-width, 1, "weak"), (0.0, 2, "weak-to-strong"), (width, 3, "ceiling")):
        ax.bar([i + offset for i in range(len(rows))], [r[column] for r in rows], width, label=label)
    ax.set_xticks(range(len(rows)), [str(int(r[0])) for r in rows])
    low = max(0.0, min(min(r[1], r[2], r[3]) for r in rows) - 0.05)
    ax.set(
        xlabel="seed",
        ylabel="test accuracy",
        xlim=(-0.6, len(rows) - 0.4),
        ylim=(low, 1.0),
        title="Accuracy by seed",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def run_synthetic_w2s(config: SyntheticW2SConfig, out_dir: Path | str) -> dict[str, Any]:
    """Run every seed and write ``config.json``, ``results.json`` and ``figures/`` into ``out_dir``.

    Returns:
        The PGR metric record (mean, interval, per-seed values).
    """
    from sklearn.datasets import make_classification
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    out = Path(out_dir)
    started = time.time()

    def student() -> Any:
        if config.strong_model == "mlp":
            return MLPClassifier(hidden_layer_sizes=(64,), max_iter=300, random_state=0)
        return LogisticRegression(max_iter=1000)

    rows: list[list[float]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the small MLP stops at its iteration cap by design
        for seed in config.seeds:
            informative = max(2, config.n_features // 2)
            x, y = make_classification(
                n_samples=config.n_samples,
                n_features=config.n_features,
                n_informative=informative,
                n_redundant=0,
                shuffle=False,  # informative columns first: the weak supervisor's columns carry signal
                random_state=seed,
            )
            x_sup, x_rest, y_sup, y_rest = train_test_split(x, y, test_size=0.66, random_state=seed)
            x_tr, x_te, y_tr, y_te = train_test_split(x_rest, y_rest, test_size=0.5, random_state=seed)
            k = min(config.weak_features, informative)
            weak = LogisticRegression(max_iter=1000).fit(x_sup[:, :k], y_sup)
            weak_acc = float(weak.score(x_te[:, :k], y_te))
            weak_labels = weak.predict(x_tr[:, :k])
            w2s_acc = float(student().fit(x_tr, weak_labels).score(x_te, y_te))
            ceiling_acc = float(student().fit(x_tr, y_tr).score(x_te, y_te))
            gap = ceiling_acc - weak_acc
            pgr = (w2s_acc - weak_acc) / gap if gap > 1e-9 else float("nan")
            rows.append([float(seed), weak_acc, w2s_acc, ceiling_acc, pgr])

    _plot(rows, out / "figures" / "accuracy_by_seed.png")
    metrics = {
        "accuracy.weak": _summary([r[1] for r in rows]),
        "accuracy.w2s": _summary([r[2] for r in rows]),
        "accuracy.ceiling": _summary([r[3] for r in rows]),
        "pgr": _summary([r[4] for r in rows]),
    }
    write_results(
        out,
        tool=TOOL,
        title="Weak-to-strong generalization on a synthetic task",
        config=config.model_dump(mode="json"),
        metrics=metrics,
        tables={
            "per_seed": {
                "columns": ["seed", "weak_acc", "w2s_acc", "ceiling_acc", "pgr"],
                "rows": [[int(r[0]), r[1], r[2], r[3], r[4]] for r in rows],
            }
        },
        figures={"accuracy_by_seed": "figures/accuracy_by_seed.png"},
        provenance={
            "data_hash": "synthetic:make_classification",
            "seeds": list(config.seeds),
            "wall_time_s": round(time.time() - started, 3),
        },
        packages=("numpy", "scikit-learn", "matplotlib"),
    )
    return metrics["pgr"]
