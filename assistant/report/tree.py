"""The experiment tree as the report records it: every experiment a run ran, which result answered which hypothesis.

Covers the typed records ``report.json`` carries under ``tree`` (``ExperimentTreeReport``: nodes with their config,
role, parent and verdicts; cross-experiment comparisons; the follow-up count; ``answered_by``) and their Markdown
(``tree_markdown``). The loop fills them (``assistant.graph.treeresults``); nothing here computes a statistic.
Does not import ``assistant.report.model`` (the ``Report`` there holds one of these).
"""

from __future__ import annotations

import html
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["supported", "refuted", "inconclusive", "insufficient"]


class _Rec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")


class NodeVerdict(_Rec):
    """A hypothesis as tested on one experiment of the tree."""

    hypothesis: str
    """Hypothesis id (``H1``...)."""
    metric: str
    """The metric tested, as named in the run's results (prefixed ``<node>/`` for nodes other than ``e1``)."""
    verdict: Verdict
    """Computed by ``assistant.report.stats``."""
    estimate: float | None = None
    """The effect's estimate."""
    ci_low: float | None = None
    """Lower end of its interval."""
    ci_high: float | None = None
    """Upper end of its interval."""
    n: int = 0
    """Seeds or items behind it."""


class TreeNode(_Rec):
    """One experiment of the run."""

    id: str
    """``e1`` (main), ``e2``... (the plan's further experiments), ``f1``... (follow-ups)."""
    parent: str | None = None
    """The experiment a follow-up continues."""
    depth: int = 0
    """Follow-up depth (0 for the plan's own experiments)."""
    name: str
    """Short name."""
    role: str
    """``main``, ``condition``, ``ablation``, ``control`` or ``follow_up``."""
    kind: str | None = None
    """For a follow-up: what it changes (``more_seeds``, ``larger_n``)."""
    reason: str = ""
    """Why it ran."""
    status: str
    """``done``, ``pending``, ``failed`` or ``rejected`` (a follow-up the researcher declined)."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Its frozen config."""
    results: str | None = None
    """Its own results file, relative to the run directory."""
    verdicts: list[NodeVerdict] = Field(default_factory=list)
    """The hypotheses tested on it (the main experiment and its follow-ups)."""
    score: float | None = None
    """For a follow-up: its best-first score when it was chosen."""


class Comparison(_Rec):
    """A metric of one experiment against the same metric of another (paired by seed or item where both have it)."""

    metric: str
    """The metric compared (its name in each experiment's own results)."""
    experiment: str
    """The experiment whose value is first (effect = experiment - baseline)."""
    baseline: str
    """The experiment subtracted."""
    estimate: float | None = None
    """Mean difference."""
    ci_low: float | None = None
    """Lower end of the 95% interval."""
    ci_high: float | None = None
    """Upper end."""
    n: int = 0
    """Pairs (or the smaller sample when unpaired)."""
    paired: bool = False
    """True when the values were paired by seed or item."""
    method: str
    """How the interval was computed, or why there is none."""


class ExperimentTreeReport(_Rec):
    """The run's experiments, follow-ups and which result answered which hypothesis."""

    nodes: list[TreeNode]
    """Every experiment, in the order it was added."""
    followups: int = 0
    """Follow-up experiments the loop added (rejected ones not counted)."""
    answered_by: dict[str, str] = Field(default_factory=dict)
    """For each hypothesis: the experiment whose result gives its verdict in this report."""
    comparisons: list[Comparison] = Field(default_factory=list)
    """The plan's further experiments against the main one."""
    stopped: str = ""
    """Why the loop added no further follow-up (all settled, budget, depth, a person declined)."""


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def tree_markdown(tree: ExperimentTreeReport) -> list[str]:
    """The tree as Markdown lines: one bullet per experiment (indented under its parent), then comparisons."""
    lines = [
        "## Experiments and follow-ups",
        "",
        f"{len(tree.nodes)} experiment(s), {tree.followups} follow-up(s). {tree.stopped}".strip(),
        "",
    ]
    for node in tree.nodes:
        indent = "  " * node.depth
        what = node.kind or node.role
        head = f"{indent}- **{node.id}** {node.name} ({what}, {node.status})"
        if node.parent:
            head += f", follows up {node.parent}"
        if node.reason:
            head += f": {node.reason}"
        lines.append(head)
        for v in node.verdicts:
            answered = " (answers it in this report)" if tree.answered_by.get(v.hypothesis) == node.id else ""
            lines.append(
                f"{indent}  - {v.hypothesis} on `{v.metric}`: **{v.verdict}**, estimate {_num(v.estimate)}, "
                f"95% CI [{_num(v.ci_low)}, {_num(v.ci_high)}], n = {v.n}{answered}"
            )
    if tree.comparisons:
        lines += ["", "| comparison | estimate | 95% CI | n | method |", "|---|---|---|---|---|"]
        for c in tree.comparisons:
            lines.append(
                f"| `{c.metric}`: {c.experiment} - {c.baseline} | {_num(c.estimate)} | "
                f"[{_num(c.ci_low)}, {_num(c.ci_high)}] | {c.n} | {c.method} |"
            )
    lines.append("")
    return lines


def tree_html(tree: ExperimentTreeReport) -> str:
    """The tree as an HTML section (every text escaped): nested lists of experiments with their verdicts."""
    e = html.escape
    out = [
        '<section id="experiments"><h2>Experiments and follow-ups</h2>',
        f"<p>{e(f'{len(tree.nodes)} experiment(s), {tree.followups} follow-up(s). {tree.stopped}'.strip())}</p><ul>",
    ]
    for node in tree.nodes:
        head = f"{node.id} {node.name} ({node.kind or node.role}, {node.status})"
        if node.parent:
            head += f", follows up {node.parent}"
        if node.reason:
            head += f": {node.reason}"
        items = "".join(
            f"<li>{e(v.hypothesis)} on <code>{e(v.metric)}</code>: <strong>{e(v.verdict)}</strong>, estimate "
            f"{e(_num(v.estimate))}, 95% CI [{e(_num(v.ci_low))}, {e(_num(v.ci_high))}], n = {v.n}"
            f"{e(' (answers it in this report)') if tree.answered_by.get(v.hypothesis) == node.id else ''}</li>"
            for v in node.verdicts
        )
        indent = f' style="margin-left:{2 * node.depth}em"' if node.depth else ""
        out.append(f"<li{indent}><strong>{e(head)}</strong>{f'<ul>{items}</ul>' if items else ''}</li>")
    out.append("</ul>")
    for c in tree.comparisons:
        out.append(
            f"<p><code>{e(c.metric)}</code>: {e(c.experiment)} - {e(c.baseline)} = {e(_num(c.estimate))}, 95% CI "
            f"[{e(_num(c.ci_low))}, {e(_num(c.ci_high))}], n = {c.n} ({e(c.method)})</p>"
        )
    out.append("</section>")
    return "".join(out)
