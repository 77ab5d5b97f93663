"""Render a ``Report`` to one self-contained HTML file: inline CSS, figures as data URIs, no script, offline.

Covers the HTML page: model prose through markdown-it-py with raw HTML disabled (tags in model text are shown
as text), numbers wrapped with their results.json source on hover, styled tables, embedded figures (a visible
error box where a figure cannot be read), and a Content-Security-Policy that forbids scripts and every network
load. Does not cover Markdown output (``render_md``) or PDF (``pdf``).
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from markdown_it import MarkdownIt

from assistant.report.check import split_metric_ref
from assistant.report.figures import read_figure
from assistant.report.fill import Filler, figure_numbers, metric_is_bad, metric_text
from assistant.report.model import SECTION_TITLES, Report
from assistant.report.render_md import (
    hypothesis_rows,
    metrics_rows,
    provenance_rows,
    reference_text,
    status_text,
)
from assistant.report.results import Table, format_number
from assistant.report.tree import tree_html

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
CSS = """
:root { --fg:#1d2329; --muted:#5b6670; --line:#d6dce1; --accent:#1f4e79; --ok:#1e6b3a; --bad:#a11d2b; }
* { box-sizing: border-box; }
body { font: 16px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg);
  max-width: 960px; margin: 2rem auto; padding: 0 1.25rem; background: #fff; }
h1 { font-size: 1.9rem; line-height: 1.2; margin: 0 0 .75rem; }
h2 { font-size: 1.3rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; margin-top: 2rem; }
.status { border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0; border: 1px solid; }
.status.ok { background: #eef8f1; border-color: #9fd1b0; color: var(--ok); }
.status.bad { background: #fdf0f1; border-color: #e5a2aa; color: var(--bad); }
.status ul { margin: .5rem 0 0; padding-left: 1.25rem; color: var(--fg); font-size: .9rem; }
.status code { background: rgba(0,0,0,.05); }
.question { font-size: 1.05rem; background: #f4f7fa; border-left: 4px solid var(--accent); padding: .6rem 1rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .92rem; width: auto; max-width: 100%; }
th, td { border: 1px solid var(--line); padding: .35rem .65rem; text-align: left; vertical-align: top; }
thead th { background: #eef2f6; font-weight: 600; }
tbody tr:nth-child(even) { background: #f9fbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.caption { font-style: italic; color: var(--muted); margin-bottom: .25rem; }
.num { font-variant-numeric: tabular-nums; }
.nonfinite { color: var(--bad); font-weight: 700; }
.unresolved { color: var(--bad); font-weight: 700; background: #fdf0f1; padding: 0 .2rem; }
figure { margin: 1.25rem 0; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .35rem; }
.figure-error { border: 1px dashed var(--bad); color: var(--bad); padding: .75rem; margin: 1rem 0; }
.verdict { font-weight: 700; padding: 0 .35rem; border-radius: 3px; }
.verdict.supported { background: #e3f4e8; color: var(--ok); }
.verdict.inconclusive { background: #fff4d6; color: #7a5600; }
.verdict.contradicted { background: #fde3e6; color: var(--bad); }
.evidence { color: var(--muted); font-size: .9rem; }
ol.refs li { margin: .3rem 0; } .key { color: var(--muted); font-size: .85rem; }
.prov th { width: 12rem; background: #f4f7fa; }
footer { color: var(--muted); font-size: .85rem; margin: 2.5rem 0 1rem; }
pre, code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em; }
pre { background: #f4f7fa; padding: .75rem; overflow-x: auto; }
"""

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"]).disable("image")


_NONFINITE = ("NaN", "+inf", "-inf")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def html_table(table: Table, caption: str | None = None) -> str:
    """A results table as an HTML table; numeric cells right-aligned, every cell escaped."""
    parts = [f'<div class="caption">{_e(caption)}</div>' if caption else "", "<table><thead><tr>"]
    parts += [f"<th>{_e(c)}</th>" for c in table.columns]
    parts.append("</tr></thead><tbody>")
    for row in table.rows:
        parts.append("<tr>")
        for cell in row:
            if isinstance(cell, int | float) and not isinstance(cell, bool):
                shown = format_number(cell)
                cls = "num nonfinite" if shown in _NONFINITE else "num"
                parts.append(f'<td class="{cls}">{_e(shown)}</td>')
            elif cell in _NONFINITE:
                parts.append(f'<td class="nonfinite">{_e(cell)}</td>')
            else:
                parts.append(
                    f"<td>{_e('' if cell is None else cell if isinstance(cell, str) else str(cell).lower())}</td>"
                )
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


class _Figures:
    def __init__(self, report: Report, run_dir: Path | None) -> None:
        self.report, self.run_dir = report, run_dir
        self.by_name = {f.name: f for f in report.figures}
        self.number = figure_numbers(report)

    def html(self, name: str) -> str:
        fig = self.by_name[name]
        caption = f"Figure {self.number[name]}: {fig.caption}"
        if self.run_dir is None:
            return f'<div class="figure-error">{_e(caption)}: not embedded (no run directory given)</div>'
        data = read_figure(self.run_dir, fig.path)
        if data.error or data.mime is None:
            return f'<div class="figure-error">{_e(caption)}: could not be embedded: {_e(data.error)}</div>'
        b64 = base64.b64encode(data.data).decode("ascii")
        return (
            f'<figure id="fig-{_e(name)}"><img alt="{_e(fig.caption)}" src="data:{data.mime};base64,{b64}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )


def _swap_tokens(rendered: str, filler: Filler, report: Report, figures: _Figures) -> str:
    def value(tok: str) -> str:
        kind, arg = filler.tokens[tok]
        if kind == "metric":
            ref = split_metric_ref(arg, report.results.metrics)
            assert ref is not None
            metric = report.results.metrics[ref[0]]
            cls = "num nonfinite" if metric_is_bad(metric, ref[1]) else "num"
            return (
                f'<span class="{cls}" title="results.json: metrics.{_e(arg)}">{_e(metric_text(metric, ref[1]))}</span>'
            )
        if kind == "table":
            return html_table(report.results.tables[arg], f"Table: {arg}")
        if kind == "figure":
            return figures.html(arg)
        return f'<span class="unresolved">[unresolved: {_e(arg)}]</span>'

    pattern = re.compile(rf"<p>(ARA{filler.nonce}T\d+Z)</p>|(ARA{filler.nonce}T\d+Z)")
    return pattern.sub(lambda m: value(m.group(1) or m.group(2)), rendered)


def render_html(report: Report, run_dir: Path | None = None) -> str:
    """The report as one self-contained HTML page (figures read from ``run_dir`` and embedded).

    Args:
        report: The report.
        run_dir: Its run directory; figures are read from here (without it they show as not embedded).
    """
    filler = Filler(report, "html")
    figures = _Figures(report, run_dir)

    def md(text: str) -> str:
        rendered: str = _MD.render(text)
        return rendered

    filled = {where: md(filler.fill(getattr(report, where), str, str)) for where in SECTION_TITLES}
    verified, headline = status_text(report.check)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(report.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(report.title)}</h1>",
        f'<div class="status {"ok" if verified else "bad"}"><strong>{_e(headline)}</strong>',
    ]
    if report.check is not None and (report.check.offenders or report.check.warnings):
        out.append("<ul>")
        out += [
            f"<li><code>{_e(o.location)}</code> {_e(o.kind)} <code>{_e(o.text[:80])}</code>: {_e(o.message)}</li>"
            for o in report.check.offenders
        ]
        out += [f"<li>warning: {_e(w)}</li>" for w in report.check.warnings]
        out.append("</ul>")
    out += ["</div>", f'<p class="question"><strong>Question.</strong> {_e(report.question)}</p>']

    def section(name: str) -> None:
        body = filled[name] if getattr(report, name).strip() else "<p><em>(not written)</em></p>"
        out.extend([f'<section id="{name}"><h2>{SECTION_TITLES[name]}</h2>', body, "</section>"])

    section("summary")
    if report.hypotheses:
        out.append('<section id="hypotheses"><h2>Pre-registered hypotheses</h2>')
        cols = ["hypothesis", "prediction", "verdict", "evidence"]
        out.append(html_table(Table(columns=cols, rows=list(hypothesis_rows(report.hypotheses)))))
        out.append("</section>")
    if report.tree is not None:
        out.append(tree_html(report.tree))
    section("methods")
    out.append('<section id="results"><h2>Results</h2>')
    if report.results.metrics:
        cols = ["metric", "estimate", "95% CI", "n", "note"]
        out.append(html_table(Table(columns=cols, rows=list(metrics_rows(report.results.metrics)))))
    for name, table in report.results.tables.items():
        if name not in filler.placed_tables:
            out.append(html_table(table, f"Table: {name}"))
    for fig in report.figures:
        if fig.name not in filler.placed_figures:
            out.append(figures.html(fig.name))
    if not (report.results.metrics or report.results.tables or report.figures):
        out.append("<p><em>(the run recorded no metrics, tables or figures)</em></p>")
    out.append("</section>")
    for name in ("results_discussion", "limitations", "next_steps"):
        section(name)
    out.append('<section id="related"><h2>Related work</h2>')
    related = report.experiment.evidence if report.experiment else []
    if related:
        out.append("<ul>")
        out += [
            f'<li><span class="key">{_e(p.key)}</span> {_e(p.title)}'
            + (f" ({_e(p.anchor)})" if p.anchor else "")
            + "</li>"
            for p in related
        ]
        out.append("</ul>")
    elif report.experiment is None:
        out.append("<p><em>(not recorded: this report was built from results alone)</em></p>")
    else:
        out.append("<p><em>(the literature search retrieved no passages for this run)</em></p>")
    out.append('</section><section id="references"><h2>References</h2>')
    if report.references:
        out.append('<ol class="refs">')
        for ref in report.references:
            link = ""
            if ref.url and ref.url.startswith(("https://", "http://")):
                link = f' <a href="{_e(ref.url)}">link</a>'
            out.append(
                f'<li id="ref-{ref.number}" value="{ref.number}">{_e(reference_text(ref))}.{link} '
                f'<span class="key">{_e(ref.key)}</span></li>'
            )
        out.append("</ol>")
    else:
        out.append("<p><em>(no citations)</em></p>")
    out.append('</section><section id="provenance"><h2>Provenance</h2><table class="prov"><tbody>')
    out += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in provenance_rows(report.provenance)]
    out.append("</tbody></table></section>")
    out.append(
        f"<footer>Report built {_e(report.created_at.isoformat(timespec='seconds'))}; "
        f"{'verified' if verified else 'not verified'} by ara's checker. Numbers in the model's words come from "
        "results.json through placeholders (hover one to see its source); verdicts and their intervals are "
        "computed by ara from the results.</footer></body></html>"
    )
    return _swap_tokens("\n".join(out), filler, report, figures) + "\n"
