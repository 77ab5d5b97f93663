"""Scanning model-written prose: placeholders (``{{ metric:x.mean }}``) and bare numerals, with locations.

Covers finding placeholders, citations inside them, and every numeral the model typed itself, each with its
``line:column``; and tracing a numeral to the run's numbers by the precision it was written with. Does not
cover filling placeholders (``assistant.report.fill``) or deciding pass/fail (``assistant.report.check``).

What counts as a numeral: a decimal number (``0.71``, ``1,000``, ``-3``, ``1e-3``, ``71%``) that is not glued
to a preceding letter (``L6``, ``v2``, ``GPT-2``, ``x86_64`` are names) nor followed by a model-size unit
(``135M``, ``1.5B``, ``32K``) or an ordinal suffix (``3rd``); ``2x`` is a number (a ratio). Not scanned: placeholders, URLs and
link targets, ``arXiv:<id>`` mentions (checked as arXiv ids instead) and ordered-list markers. Spelled-out
numbers ("ten seeds") are not detected. A numeral traces to a known number when that number rounds to it at
the precision written (``0.68`` or ``68%`` for 0.682); with fewer than two significant digits (``0.7``, ``5%``)
or no decimals (``3``) it must match exactly, so coarse numbers cannot ride on coincidences.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Iterator
from typing import Literal, NamedTuple

PlaceholderKind = Literal["metric", "table", "figure", "cite"]
PLACEHOLDER_RE = re.compile(r"\{\{\s*(?P<body>[^{}]*?)\s*\}\}")
_TYPED_RE = re.compile(r"^(?P<kind>metric|table|figure|cite)\s*:\s*(?P<arg>\S(?:.*\S)?)$", re.DOTALL)
_URL_RE = re.compile(r"(?:https?|ftp)://[^\s)>\]]+|\]\([^)\s]*\)")
ARXIV_MENTION_RE = re.compile(r"\barXiv\s*:\s*(?P<id>[A-Za-z0-9./-]+[0-9](?:v\d+)?)", re.IGNORECASE)
_LIST_MARKER_RE = re.compile(r"^(?P<indent>[ \t]*)\d{1,3}[.)](?=[ \t])", re.MULTILINE)
NUMERAL_RE = re.compile(
    r"(?<![\w.])(?<![A-Za-z]-)(?<![A-Za-z][-:/])"
    r"(?P<sign>(?<![\d)])[-+\u2212])?"
    r"(?P<int>\d{1,3}(?:,\d{3})+(?!\d)|\d+)"
    r"(?P<frac>\.\d+)?"
    r"(?P<exp>[eE][-+]?\d+)?"
    r"(?![\w.]\d)"
    r"(?![0-9_])(?![MBKT](?![a-z]))(?!(?:st|nd|rd|th)\b)"
    r"(?P<pct>\s?%)?"
)


class Placeholder(NamedTuple):
    """One ``{{ ... }}`` in prose."""

    kind: PlaceholderKind | None
    """None for a malformed placeholder."""
    arg: str
    """What follows ``kind:``; for a malformed one, the whole body."""
    start: int
    """Offset of ``{{``."""
    end: int
    """Offset after ``}}``."""


class Numeral(NamedTuple):
    """A number the model typed, with its value and the tolerance its precision implies."""

    text: str
    """As written."""
    value: float
    """Parsed value (a percentage already divided by 100)."""
    tolerance: float
    """Half a unit in the last written digit; 0 (exact match) for integers and one-significant-digit numbers."""
    percent: bool
    """Written with ``%``."""
    start: int
    """Offset in the text."""


def placeholders(text: str) -> Iterator[Placeholder]:
    """Every ``{{ ... }}`` in ``text``, typed when well formed."""
    for match in PLACEHOLDER_RE.finditer(text):
        typed = _TYPED_RE.match(match.group("body"))
        if typed:
            kind: PlaceholderKind = typed.group("kind")  # type: ignore[assignment]
            yield Placeholder(kind, typed.group("arg"), match.start(), match.end())
        else:
            yield Placeholder(None, match.group("body"), match.start(), match.end())


def cite_keys(arg: str) -> list[str]:
    """Keys of a ``cite:`` placeholder (comma-separated allowed)."""
    return [k.strip() for k in arg.split(",") if k.strip()]


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset``."""
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


class LineIndex:
    """Fast offset -> (line, column) for one text (newline offsets found once)."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of ``offset``."""
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


def _blank(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


def masked(text: str) -> str:
    """``text`` with placeholders, URLs, arXiv mentions and list markers blanked (offsets kept)."""
    spans = [(p.start, p.end) for p in placeholders(text)]
    spans += [m.span() for m in _URL_RE.finditer(text)]
    spans += [m.span() for m in ARXIV_MENTION_RE.finditer(text)]
    spans += [(m.end("indent"), m.end()) for m in _LIST_MARKER_RE.finditer(text)]
    return _blank(text, spans)


def numerals(text: str) -> Iterator[Numeral]:
    """Every numeral the model typed in ``text`` (see the module docstring for what counts)."""
    for match in NUMERAL_RE.finditer(masked(text)):
        digits = match.group("int").replace(",", "") + (match.group("frac") or "")
        exp = match.group("exp") or ""
        sign = -1.0 if match.group("sign") in ("-", "\u2212") else 1.0
        try:
            value = sign * float(digits + exp)
        except ValueError:
            continue
        decimals = len(match.group("frac") or "") - 1 if match.group("frac") else 0
        exponent = int(exp[1:]) if exp else 0
        significant = len(digits.replace(".", "").lstrip("0"))
        rounded = (decimals > 0 or exp) and significant >= 2
        tolerance = 0.5 * 10 ** (exponent - decimals) if rounded else 0.0
        percent = bool(match.group("pct"))
        if percent:
            value, tolerance = value / 100, (tolerance or (0.5 if significant >= 2 else 0.0)) / 100
        yield Numeral(match.group(0).strip(), value, tolerance, percent, match.start())


class NumberSet:
    """Sorted finite numbers a numeral may be traced to (results, config values, cited years)."""

    def __init__(self, values: Iterable[float]) -> None:
        self._sorted = sorted({float(v) for v in values if math.isfinite(v)})

    def __len__(self) -> int:
        return len(self._sorted)

    def traces(self, numeral: Numeral) -> bool:
        """True when a known number rounds to the numeral at the precision it was written with."""
        candidates = [numeral.value]
        if numeral.percent:
            candidates.append(numeral.value * 100)
        for value in candidates:
            tol = numeral.tolerance if value == numeral.value else numeral.tolerance * 100
            eps = 1e-9 * max(1.0, abs(value))
            i = bisect.bisect_left(self._sorted, value - tol - eps)
            if i < len(self._sorted) and self._sorted[i] <= value + tol + eps:
                return True
        return False
