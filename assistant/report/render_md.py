"""Render a ``Report`` to Markdown (GitHub-flavoured tables; figures as relative image links).

Covers the document layout shared with the HTML renderer: status banner, question, summary, claims with
verdicts, methods, results (metrics with intervals, tables, figures not already placed in the prose),
discussion, limitations, next steps, references and provenance. Figure links are relative to the run
directory, where ``write_report`` puts ``report.md``. Does not cover HTML (``render_html``).
"""

from __future__ import annotations

from assistant.report.compose import evidence_text, prediction_text
from assistant.report.fill import Filler, figure_numbers, md_escape, metric_is_bad
from assistant.report.model import SECTION_TITLES, CheckResult, HypothesisResult, Provenance, Reference, Report
from assistant.report.results import Cell, Metric, Table, format_number
from assistant.report.tree import tree_markdown

VERDICT_LABEL = {
    "supported": "Supported",
    "refuted": "Refuted",
    "inconclusive": "Inconclusive",
    "insufficient": "Insufficient evidence",
}


def _cell(value: Cell) -> str:
    if isinstance(value, str):
        return md_escape(value) if value else " "
    return format_number(value) if not isinstance(value, bool) else str(value).lower()


def md_table(table: Table) -> str:
    """A results table as a GitHub-flavoured Markdown table."""
    head = "| " + " | ".join(md_escape(c) or " " for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    rows = ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join([head, rule, *rows])


def metrics_rows(metrics: dict[str, Metric]) -> list[list[str]]:
    """Rows of the metrics table: name, estimate, 95% CI, n, note (plain strings, unescaped)."""
    rows = []
    for name, metric in metrics.items():
        ci = f"[{format_number(metric.ci_low)}, {format_number(metric.ci_high)}]" if metric.has_ci else "none"
        note = "not a finite number" if metric_is_bad(metric, None) else ""
        if not metric.has_ci and (metric.n or 0) > 1:
            note = (note + "; " if note else "") + "no interval reported"
        rows.append([name, format_number(metric.point), ci, "" if metric.n is None else str(metric.n), note])
    return rows


def hypothesis_rows(hypotheses: list[HypothesisResult]) -> list[list[str]]:
    """Rows of the hypotheses table: id, prediction, verdict, evidence (plain strings, unescaped)."""
    return [[h.id, prediction_text(h), VERDICT_LABEL[h.verdict], evidence_text(h)] for h in hypotheses]


def reference_text(ref: Reference) -> str:
    """A reference's plain text (unescaped): authors (year). title. arXiv. anchor."""
    authors = ", ".join(ref.authors[:6]) + (" et al." if len(ref.authors) > 6 else "")
    head = f"{authors} ({ref.year})" if authors and ref.year else authors or (str(ref.year) if ref.year else "")
    bits = [b for b in (head, ref.title) if b]
    if ref.arxiv_id:
        bits.append(f"arXiv:{ref.arxiv_id}")
    if ref.anchor:
        bits.append(ref.anchor)
    return ". ".join(bits)


def _run_time(prov: Provenance) -> str | None:
    """The run's span and its cells ('2206 s from first event to last; 2 cells, 1949 s in cells, 1 not ok')."""
    if prov.run_time_s is None:
        return None
    text = f"{format_number(prov.run_time_s)} s from first event to last"
    if prov.cells_run:
        failed = f", {prov.cells_failed} not ok" if prov.cells_failed else ""
        text += f"; {prov.cells_run} cell(s), {format_number(prov.cell_time_s)} s in cells{failed}"
    return text


def provenance_rows(prov: Provenance) -> list[tuple[str, str]]:
    """Provenance as (field, value) rows; unknown fields say "not recorded"."""

    def shown(value: object) -> str:
        return "not recorded" if value in (None, "", [], {}) else str(value)

    commit = prov.workspace_commit
    if commit and prov.workspace_dirty:
        commit += " (uncommitted changes)"
    tokens = None
    if prov.prompt_tokens is not None:
        tokens = f"{prov.prompt_tokens} prompt + {prov.completion_tokens or 0} completion"
    return [
        ("Run id", prov.run_id),
        ("Tool", shown(prov.tool)),
        ("Workspace commit", shown(commit)),
        ("Model", shown(prov.model)),
        ("Endpoint", shown(prov.endpoint)),
        ("Prompt templates", shown(", ".join(f"{k} sha256:{v[:16]}" for k, v in sorted(prov.prompt_hashes.items())))),
        ("Packages", shown(", ".join(f"{k} {v}" for k, v in sorted(prov.packages.items())))),
        ("Seeds", shown(", ".join(str(s) for s in prov.seeds))),
        ("Data hash", shown(prov.data_hash)),
        (
            "Experiment wall time",
            shown(None if prov.wall_time_s is None else f"{format_number(prov.wall_time_s)} s"),
        ),
        ("Run time", shown(_run_time(prov))),
        ("LLM tokens", shown(tokens)),
        ("Cost", shown(None if prov.cost_usd is None else f"${prov.cost_usd:.4f}")),
        ("Sandbox", shown(", ".join(f"{k}={v}" for k, v in sorted(prov.sandbox.items())))),
        *[("Note", note) for note in prov.notes],
    ]


def status_text(check: CheckResult | None) -> tuple[bool, str]:
    """(verified, headline) for the status banner: what was checked, and what was not."""
    if check is None:
        return False, "UNVERIFIED: this report was never checked against its run."
    checked = "; ".join(check.checked)
    missing = f" Not checked: {'; '.join(check.not_checked)}." if check.not_checked else ""
    if check.ok:
        return True, f"Verified: {checked}.{missing}"
    return False, (
        f"UNVERIFIED: {len(check.offenders)} problem(s) found; do not rely on this report until fixed. "
        f"Checked: {checked}.{missing}"
    )


def render_markdown(report: Report) -> str:
    """The report as Markdown: numbers from results.json, prose from the model (defused), a check banner."""
    filler = Filler(report, "md")
    figures = {f.name: f for f in report.figures}
    numbering = figure_numbers(report)

    def table_md(name: str) -> str:
        return f"*Table: {md_escape(name)}*\n\n" + md_table(report.results.tables[name])

    def figure_md(name: str) -> str:
        fig = figures[name]
        caption = f"Figure {numbering[name]}: {md_escape(fig.caption)}"
        return f"![{caption}]({fig.path.replace(' ', '%20')})\n\n*{caption}*"

    filled = {where: filler.fill(getattr(report, where), table_md, figure_md) for where in SECTION_TITLES}

    out = [f"# {md_escape(report.title)}", ""]
    verified, headline = status_text(report.check)
    out.append(f"> **{headline}**")
    if report.check is not None:
        for off in report.check.offenders:
            out.append(f"> - `{off.location}` {off.kind} {md_escape(off.text[:80])!s}: {md_escape(off.message)}")
        for warning in report.check.warnings:
            out.append(f"> - warning: {md_escape(warning)}")
    out += ["", f"**Question.** {md_escape(report.question)}", ""]

    def section(name: str, body: str) -> None:
        out.extend([f"## {SECTION_TITLES[name]}", "", body.strip() or "*(not written)*", ""])

    section("summary", filled["summary"])
    if report.hypotheses:
        out += [
            "## Pre-registered hypotheses",
            "",
            "| hypothesis | prediction | verdict | evidence |",
            "|---|---|---|---|",
        ]
        out += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in hypothesis_rows(report.hypotheses)]
        out.append("")
    if report.tree is not None:
        out += tree_markdown(report.tree)
    section("methods", filled["methods"])
    out += ["## Results", ""]
    if report.results.metrics:
        out += ["| metric | estimate | 95% CI | n | note |", "|---|---|---|---|---|"]
        out += [
            "| " + " | ".join(md_escape(c) or " " for c in row) + " |" for row in metrics_rows(report.results.metrics)
        ]
        out.append("")
    for name in report.results.tables:
        if name not in filler.placed_tables:
            out += [table_md(name), ""]
    for fig in report.figures:
        if fig.name not in filler.placed_figures:
            out += [figure_md(fig.name), ""]
    if not (report.results.metrics or report.results.tables or report.figures):
        out += ["*(the run recorded no metrics, tables or figures)*", ""]
    section("results_discussion", filled["results_discussion"])
    section("limitations", filled["limitations"])
    section("next_steps", filled["next_steps"])
    out += ["## Related work", ""]
    related = report.experiment.evidence if report.experiment else []
    if related:
        out += [
            f"- `{p.key}` {md_escape(p.title)}" + (f" ({md_escape(p.anchor)})" if p.anchor else "") for p in related
        ]
    elif report.experiment is None:
        out.append("*(not recorded: this report was built from results alone)*")
    else:
        out.append("*(the literature search retrieved no passages for this run)*")
    out += ["", "## References", ""]
    if report.references:
        for ref in report.references:
            link = f" <{ref.url}>" if ref.url and ref.url.startswith(("https://", "http://")) else ""
            out.append(
                f'{ref.number}. <a id="ref-{ref.number}"></a>{md_escape(reference_text(ref))}.{link} `{ref.key}`'
            )
    else:
        out.append("*(no citations)*")
    out += ["", "## Provenance", "", "| | |", "|---|---|"]
    out += [f"| {k} | {md_escape(v)} |" for k, v in provenance_rows(report.provenance)]
    out += [
        "",
        f"*Report built {report.created_at.isoformat(timespec='seconds')}; "
        f"{'verified' if verified else 'not verified'} by ara's checker.*",
        "",
    ]
    return "\n".join(out)
