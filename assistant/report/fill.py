"""Filling placeholders in model prose for one output format, and formatting code-made values.

Covers the substitution itself: ``{{ metric:... }}`` becomes the number from results.json, ``{{ cite:... }}``
a numbered link to the reference list, ``{{ table:... }}``/``{{ figure:... }}`` a block; anything unresolved
becomes a visible marker, never silence. Model text is also defused: tag-like ``<`` is escaped for Markdown
viewers (the HTML renderer additionally disables raw HTML). Does not cover page layout (``render_md``,
``render_html``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Literal

from assistant.report.check import split_metric_ref
from assistant.report.model import Report
from assistant.report.prose import cite_keys, placeholders
from assistant.report.results import Metric, format_number, is_bad_number

Format = Literal["md", "html"]
_TAGLIKE_RE = re.compile(r"<(?=[A-Za-z/!?])")
_MD_SPECIAL_RE = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def md_escape(text: str) -> str:
    """Escape Markdown specials so ``text`` renders literally."""
    return _MD_SPECIAL_RE.sub(r"\\\1", text.replace("\n", " "))


def defuse_markdown(text: str) -> str:
    """Escape tag-like ``<`` and image syntax so viewers show model-written HTML as text and load no images."""
    return _TAGLIKE_RE.sub(r"\\<", text).replace("![", "!\\[")


def metric_text(metric: Metric, field: str | None) -> str:
    """The text a metric placeholder becomes: one field, the interval, or the full summary."""
    if field == "ci":
        return f"[{format_number(metric.ci_low)}, {format_number(metric.ci_high)}]"
    if field is not None:
        value = metric.field(field)
        if field == "n" and value is not None and value == int(value):
            return str(int(value))
        return format_number(value)
    point = format_number(metric.point)
    if not metric.has_ci:
        return point
    extra = f", n = {metric.n}" if metric.n is not None else ""
    return f"{point} (95% CI {format_number(metric.ci_low)} to {format_number(metric.ci_high)}{extra})"


def metric_is_bad(metric: Metric, field: str | None) -> bool:
    """True when the value shown would be NaN or infinite."""
    fields = [field] if field and field != "ci" else ["mean", "value", "ci_low", "ci_high"]
    return any(is_bad_number(metric.field(f)) for f in fields)


def figure_numbers(report: Report) -> dict[str, int]:
    """Figure numbers in reading order: placed in summary/claims/methods, then the rest in Results, then later."""
    names = {f.name for f in report.figures}

    def placed(texts: list[str]) -> list[str]:
        found = []
        for text in texts:
            found += [p.arg for p in placeholders(text) if p.kind == "figure" and p.arg in names]
        return found

    early = placed([report.summary, report.methods])
    late = placed([report.results_discussion, report.limitations, report.next_steps])
    results = [f.name for f in report.figures if f.name not in early and f.name not in late]
    order: dict[str, int] = {}
    for name in early + results + late:
        order.setdefault(name, len(order) + 1)
    return order


class Filler:
    """Fills one report's placeholders for one format, collecting what was placed inline.

    In ``html`` mode values that need markup (numbers with their source, tables, figures) are left as opaque
    tokens (random per render, so model text cannot forge them) that ``render_html`` swaps for HTML after
    Markdown rendering; ``tokens`` maps each to its kind and argument.
    """

    def __init__(self, report: Report, fmt: Format) -> None:
        self.report, self.fmt = report, fmt
        self.numbers = {ref.key: ref.number for ref in report.references}
        self.nonce = secrets.token_hex(8)
        self.tokens: dict[str, tuple[str, str]] = {}
        self.placed_tables: set[str] = set()
        self.placed_figures: set[str] = set()

    def token(self, kind: str, arg: str) -> str:
        """A fresh opaque token standing for ``kind``/``arg``."""
        tok = f"ARA{self.nonce}T{len(self.tokens)}Z"
        self.tokens[tok] = (kind, arg)
        return tok

    def _metric(self, arg: str) -> str:
        ref = split_metric_ref(arg, self.report.results.metrics)
        if ref is None:
            return self._unresolved(f"metric:{arg}")
        if self.fmt == "html":
            return self.token("metric", arg)
        name, field = ref
        metric = self.report.results.metrics[name]
        text = metric_text(metric, field)
        return f"**{text}**" if metric_is_bad(metric, field) else text

    def _cite(self, arg: str) -> str:
        parts = []
        for key in cite_keys(arg):
            number = self.numbers.get(key)
            parts.append(f"[{number}](#ref-{number})" if number else self._unresolved(f"cite:{key}"))
        return "[" + ", ".join(parts) + "]" if parts else self._unresolved("cite:")

    def _block(self, kind: str, arg: str, known: bool, placed: set[str], render: Callable[[str], str]) -> str:
        if not known:
            return self._unresolved(f"{kind}:{arg}")
        placed.add(arg)
        body = self.token(kind, arg) if self.fmt == "html" else render(arg)
        return f"\n\n{body}\n\n"

    def _unresolved(self, what: str) -> str:
        if self.fmt == "html":
            return self.token("unresolved", what)
        return f"**[unresolved: {md_escape(what)}]**"

    def fill(self, text: str, md_table: Callable[[str], str], md_figure: Callable[[str], str]) -> str:
        """``text`` with every placeholder replaced (see the class docstring)."""
        out: list[str] = []
        pos = 0
        figure_names = {f.name for f in self.report.figures}
        for ph in placeholders(text):
            out.append(defuse_markdown(text[pos : ph.start]))
            pos = ph.end
            if ph.kind == "metric":
                out.append(self._metric(ph.arg))
            elif ph.kind == "cite":
                out.append(self._cite(ph.arg))
            elif ph.kind == "table":
                known = ph.arg in self.report.results.tables
                out.append(self._block("table", ph.arg, known, self.placed_tables, md_table))
            elif ph.kind == "figure":
                out.append(self._block("figure", ph.arg, ph.arg in figure_names, self.placed_figures, md_figure))
            else:
                out.append(self._unresolved(ph.arg))
        out.append(defuse_markdown(text[pos:]))
        return "".join(out)
