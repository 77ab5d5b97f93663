"""Standard w2s figures drawn with matplotlib's Agg canvas (no pyplot state, safe inside kernels).

Covers per-seed accuracies of one run and PGR by loss and weak/strong pair with 95% CIs for a sweep.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot(1, 1, 1)


def plot_seed_accuracies(path: Path, seeds: list[int], series: dict[str, list[float]], title: str) -> Path:
    """Per-seed test accuracy of each predictor (weak, ceiling, w2s) as grouped bars."""
    figure, axes = _figure(max(5.0, 0.5 * len(seeds) + 3), 3.4)
    width = 0.8 / max(1, len(series))
    x = np.arange(len(seeds))
    for offset, (name, values) in enumerate(series.items()):
        axes.bar(x + offset * width, values, width, label=name)
    low = min(min(v) for v in series.values())
    axes.set_ylim(max(0.0, low - 0.05), 1.0)
    axes.set_xticks(x + width * (len(series) - 1) / 2, [str(s) for s in seeds])
    axes.set_xlabel("seed")
    axes.set_ylabel("test accuracy")
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=8, loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path)
    return path


def plot_pgr(path: Path, rows: list[tuple[str, str, float, float, float]], title: str) -> Path:
    """PGR mean with 95% CI per (pair, loss): ``rows`` are ``(pair, loss, mean, ci_low, ci_high)``."""
    pairs = sorted({row[0] for row in rows}, key=[row[0] for row in rows].index)
    losses = sorted({row[1] for row in rows}, key=[row[1] for row in rows].index)
    figure, axes = _figure(max(5.0, 1.6 * len(pairs) + 2), 4.2)
    width = 0.8 / max(1, len(losses))
    for j, loss in enumerate(losses):
        xs: list[float] = []
        means: list[float] = []
        errs: list[list[float]] = [[], []]
        for i, pair in enumerate(pairs):
            match = [row for row in rows if row[0] == pair and row[1] == loss]
            if not match or np.isnan(match[0][2]):
                continue
            _, _, mean, low, high = match[0]
            xs.append(i + j * width)
            means.append(mean)
            errs[0].append(mean - low)
            errs[1].append(high - mean)
        axes.bar(xs, means, width, yerr=errs, capsize=3, label=loss)
    axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_xticks(np.arange(len(pairs)) + width * (len(losses) - 1) / 2, pairs, fontsize=6)
    axes.set_ylabel("PGR (mean, 95% CI)")
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path)
    return path
