"""The report of a question no tool of ara can test: what it needs, which tools came closest, what papers say.

Covers ``ScopeReport`` (typed, written as ``report.json``) and its Markdown rendering (``report.md``): the tools'
similarity to the question is code's, the needs and what to build are the model's words (numbers removed), and the
literature answer quotes the cited passages verbatim under their ``paper#chunk`` keys, so every statement can be
checked against what the paper says. No experiment ran, so there are no results and no verdicts. Does not cover
deciding that a question is out of scope (``assistant.toolchoice``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.report.build import atomic_write
from assistant.report.fill import md_escape

SCOPE_SCHEMA = "ara.scope/1"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolNearness(_Record):
    """How close one tool came to the question."""

    name: str
    """The tool (recipe)."""
    family: str
    """What it tests."""
    score: float
    """Similarity to the question (MiniLM cosine)."""


class Passage(_Record):
    """A retrieved passage quoted in a literature answer."""

    key: str
    """``paper_id#chunk_id``."""
    title: str
    """Paper title."""
    anchor: str = ""
    """Section and/or page."""
    text: str
    """The passage as stored in the library (untrusted text, shown as a quote)."""


class AnsweredStatement(_Record):
    """One statement of the literature answer and the passages it cites."""

    statement: str
    """The model's sentence, numbers removed."""
    keys: list[str]
    """Cited keys, every one among the retrieved passages."""


class ScopeReport(_Record):
    """Why a run ran no experiment: the question is outside what ara's tools test."""

    schema_: str = Field(default=SCOPE_SCHEMA, alias="schema")
    """``ara.scope/1``."""
    kind: Literal["out_of_scope"] = "out_of_scope"
    """Always ``out_of_scope``."""
    run_id: str
    """The run."""
    question: str
    """The question asked."""
    reason: str
    """Why no tool was chosen (the shortlist's rule, or the model's reason for choosing none)."""
    closest: list[ToolNearness]
    """Every tool, closest first."""
    needs: str
    """What an experiment answering the question would need (model text)."""
    would_build: str
    """What would have to be built (model text)."""
    answer: list[AnsweredStatement] = Field(default_factory=list)
    """A literature answer, when the retrieved passages say something."""
    passages: list[Passage] = Field(default_factory=list)
    """Every retrieved passage (the related work), cited or not."""
    dropped: list[str] = Field(default_factory=list)
    """Model statements left out, and why."""
    created_at: datetime
    """When the report was built (UTC)."""


def _quote(text: str, limit: int = 600) -> str:
    body = " ".join(text.split())
    body = body if len(body) <= limit else body[:limit] + " ..."
    return "> " + md_escape(body)


def render_scope_markdown(report: ScopeReport) -> str:
    """The scope report as Markdown."""
    out = [
        "# Out of scope: no experiment was run",
        "",
        "> **No tool of ara can test this question, so no experiment ran and no result is claimed.**",
        "",
        f"**Question.** {md_escape(report.question)}",
        "",
        f"**Why.** {md_escape(report.reason)}",
        "",
        "## Tools that came closest",
        "",
        "| tool | tests | similarity |",
        "|---|---|---|",
    ]
    out += [f"| `{t.name}` | {md_escape(t.family)} | {t.score:.2f} |" for t in report.closest]
    out += ["", "## What an experiment would need", "", md_escape(report.needs) or "*(not given)*", ""]
    out += ["## What would have to be built", "", md_escape(report.would_build) or "*(not given)*", ""]
    by_key = {p.key: p for p in report.passages}
    out += ["## What the literature says", ""]
    if report.answer:
        for item in report.answer:
            cites = ", ".join(f"`{k}`" for k in item.keys)
            out += [f"- {md_escape(item.statement)} ({cites})"]
            for key in item.keys:
                passage = by_key[key]
                where = f", {passage.anchor}" if passage.anchor else ""
                out += [
                    "",
                    f"  *{md_escape(passage.title)}{md_escape(where)}* `{key}`:",
                    "",
                    "  " + _quote(passage.text),
                ]
            out.append("")
    elif report.passages:
        out += ["*(the retrieved passages do not answer the question)*", ""]
    else:
        out += ["*(the paper library returned no passages for this question)*", ""]
    out += ["## Related work retrieved", ""]
    if report.passages:
        out += [
            f"- `{p.key}` {md_escape(p.title)}" + (f" ({md_escape(p.anchor)})" if p.anchor else "")
            for p in report.passages
        ]
    else:
        out.append("*(none)*")
    if report.dropped:
        out += ["", "## Left out", ""] + [f"- {md_escape(d)}" for d in report.dropped]
    out += ["", f"*Report built {report.created_at.isoformat(timespec='seconds')}; run `{report.run_id}`.*", ""]
    return "\n".join(out)


def write_scope_report(run_dir: Path, report: ScopeReport) -> Path:
    """Write ``report.json`` and ``report.md`` into ``run_dir``; returns the Markdown path."""
    atomic_write(run_dir / "report.json", report.model_dump_json(by_alias=True, indent=2))
    path = run_dir / "report.md"
    atomic_write(path, render_scope_markdown(report))
    return path
