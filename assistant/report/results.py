"""Results as reports use them: loading with report errors, and number formatting.

Covers turning ``tools.results``' reader errors into the report's user-facing ``ResultsFileError`` and formatting
numbers for reports (NaN and infinities are written out, never hidden). The document model itself
(``ResultsDocument``, ``Metric``, ``Table``) and the ``ara.results/1`` constant live in ``tools.results`` only.
Does not cover statistics on results (``assistant.report.stats``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from assistant.report.errors import ResultsFileError
from tools import results
from tools.results import Cell, Metric, ResultsDocument, Table, read_config, read_results

__all__ = [
    "METRIC_FIELDS",
    "Cell",
    "Metric",
    "ResultsDocument",
    "Table",
    "format_number",
    "is_bad_number",
    "load_config",
    "load_results",
]

METRIC_FIELDS = ("value", "mean", "ci_low", "ci_high", "n", "std")
"""Numeric fields a ``{{ metric:<name>.<field> }}`` placeholder may name (plus ``ci``, the interval text)."""


def load_results(path: Path) -> ResultsDocument:
    """``tools.results.read_results`` for reports: a bad file is a ``ResultsFileError`` the CLI shows (exit 2)."""
    try:
        return read_results(path)
    except results.ResultsFileError as err:
        raise ResultsFileError(str(err)) from err


def load_config(path: Path) -> dict[str, Any]:
    """``tools.results.read_config`` for reports (absent file: ``{}``; malformed: ``ResultsFileError``)."""
    try:
        return read_config(path)
    except results.ResultsFileError as err:
        raise ResultsFileError(str(err)) from err


def format_number(x: float | int | None) -> str:
    """A number as reports show it: 4 significant digits, ints whole, ``NaN``/``+inf``/``-inf`` spelled out."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4g}"


def is_bad_number(x: float | None) -> bool:
    """True for NaN or an infinity (reports flag these visibly)."""
    return x is not None and (math.isnan(x) or math.isinf(x))
