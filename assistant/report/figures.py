"""Figures: drawing one from the results with matplotlib (Agg), and reading figure files safely for embedding.

Covers the generated "metrics with 95% intervals" figure and the checks a figure file must pass before it is
embedded (inside the run directory, a real image by its magic bytes, not too large). Does not cover the figures
research tools draw themselves; those are only read.
"""

from __future__ import annotations

import io
import logging
import math
from pathlib import Path
from typing import NamedTuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from assistant.report.model import FigureRef
from assistant.report.results import ResultsDocument
from tools.runfiles import RunFileError, RunFiles

logger = logging.getLogger(__name__)

MAX_FIGURE_BYTES = 20 * 1024 * 1024
MAX_PLOTTED_METRICS = 40
GENERATED_DIR = "report_figures"
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class FigureData(NamedTuple):
    """A figure file read for embedding, or the reason it cannot be."""

    mime: str | None
    """``image/png`` etc.; None when unusable."""
    data: bytes
    """File content (empty when unusable)."""
    error: str | None
    """Why it cannot be embedded."""


def read_figure(run_dir: Path, rel_path: str) -> FigureData:
    """Read ``rel_path`` (relative to ``run_dir``) for embedding, refusing paths outside the run directory.

    Through ``tools.runfiles``: no component of the path may be a link, and only a regular file of at most
    ``MAX_FIGURE_BYTES`` is read.
    """
    rel = Path(rel_path)
    if rel.is_absolute() or ".." in rel.parts:
        return FigureData(None, b"", f"path {rel_path!r} leaves the run directory; figures must live inside it")
    try:
        with RunFiles(run_dir) as files:
            data = files.read_bytes(rel, limit=MAX_FIGURE_BYTES)
    except FileNotFoundError:
        return FigureData(None, b"", f"file {rel_path!r} does not exist in the run directory")
    except RunFileError as err:
        return FigureData(None, b"", f"{rel_path!r} cannot be embedded: {err}")
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return FigureData(mime, data, None)
    if data[:12].startswith(b"RIFF") and data[8:12] == b"WEBP":
        return FigureData("image/webp", data, None)
    return FigureData(None, b"", f"{rel_path!r} is not a PNG, JPEG, GIF or WebP image (unreadable or corrupt)")


def draw_metrics_figure(results: ResultsDocument, run_dir: Path) -> FigureRef | None:
    """Draw every metric that has a 95% interval as a point with error bars; None when no metric has one.

    Metrics whose mean or interval is NaN/infinite are left out of the plot and named in the caption.
    """
    rows: list[tuple[str, float, float, float]] = []
    skipped: list[str] = []
    for name, metric in results.metrics.items():
        if not metric.has_ci or metric.point is None:
            continue
        assert metric.ci_low is not None
        assert metric.ci_high is not None
        if not all(math.isfinite(x) for x in (metric.point, metric.ci_low, metric.ci_high)):
            skipped.append(name)
            continue
        rows.append((name, metric.point, metric.ci_low, metric.ci_high))
    if not rows:
        return None
    shown = rows[:MAX_PLOTTED_METRICS]
    fig = Figure(figsize=(6.4, 0.45 * len(shown) + 1.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ys = list(range(len(shown)))[::-1]
    means = [r[1] for r in shown]
    lows = [r[1] - r[2] for r in shown]
    highs = [r[3] - r[1] for r in shown]
    ax.errorbar(means, ys, xerr=[lows, highs], fmt="o", color="#1f4e79", ecolor="#6d8fb3", capsize=4)
    ax.set_yticks(ys, [r[0] for r in shown])
    ax.set_ylim(-0.6, len(shown) - 0.4)
    ax.axvline(0.0, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_xlabel("mean with 95% interval")
    ax.grid(axis="x", alpha=0.3)
    longest = max(len(r[0]) for r in shown)
    fig.subplots_adjust(left=min(0.6, 0.04 + 0.0135 * longest), right=0.97, bottom=0.75 / fig.get_figheight(), top=0.98)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    with RunFiles(run_dir, create=True) as files:
        out = files.write_bytes(f"{GENERATED_DIR}/metrics_ci.png", buffer.getvalue(), fsync=False)
    caption = "Metrics with 95% confidence intervals, drawn from results.json."
    if len(rows) > len(shown):
        caption += f" First {len(shown)} of {len(rows)} shown."
    if skipped:
        caption += " Not plotted (NaN or infinite): " + ", ".join(skipped) + "."
    logger.debug("drew %s with %d metrics", out, len(shown))
    return FigureRef(name="metrics_ci", path=f"{GENERATED_DIR}/metrics_ci.png", caption=caption, origin="generated")
