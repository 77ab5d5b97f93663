"""write_report and propose_change: a Markdown report whose numbers come from results.json, then a proposal branch.

``write_report`` renders ``report.md`` in the run directory: the question, the approved plan and who approved it,
a metrics table read from the metrics dict (itself read from results.json), the model's findings with each number
filled in from that table, limitations, and the cited evidence (or a plain statement that the library had none).
``propose_change`` commits the run directory on ``ara/<run_id>/<slug>`` through the workspace, which is idempotent
per (run id, step), so a resumed run never makes a second proposal. Neither node can approve or merge: the review
functions are not reachable from the graph. Does not cover review.
"""

from __future__ import annotations

import json
import re
from typing import Any

from langgraph.runtime import Runtime

from assistant.events import ProposalCreated, ReportWritten
from assistant.graph.context import RunContext
from assistant.graph.nodes._common import Update, run_dir, traced, write_atomic
from assistant.graph.state import GraphState
from assistant.schemas import Analysis, Approval, ExperimentPlan


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "n/a" if value is None else str(value)


def _headline(metric: dict[str, Any]) -> Any:
    return metric.get("value", metric.get("mean"))


def render_report(state: GraphState) -> str:
    """The report's Markdown for a state that has a plan, metrics and an analysis."""
    plan = ExperimentPlan.model_validate(state["plan"])
    analysis = Analysis.model_validate(state["analysis"])
    approval = Approval.model_validate(state["approval"])
    metrics: dict[str, dict[str, Any]] = state.get("metrics", {})
    lines = [
        f"# {plan.title}",
        "",
        f"**Question.** {state['question']}",
        "",
        f"**Hypothesis.** {plan.hypothesis}",
        "",
        f"**Method.** {plan.method}",
        "",
        f"Recipe `{plan.recipe}`; plan approved by {approval.reviewer} ({approval.decision}).",
        "",
        "## Results",
        "",
        f"Every number below is read from `{state.get('results_path')}`.",
        "",
        "| metric | value | 95% CI | n |",
        "|---|---|---|---|",
    ]
    for name, metric in sorted(metrics.items()):
        ci = f"[{_fmt(metric['ci_low'])}, {_fmt(metric['ci_high'])}]" if "ci_low" in metric else ""
        lines.append(f"| `{name}` | {_fmt(_headline(metric))} | {ci} | {_fmt(metric.get('n', ''))} |")
    lines += ["", "## Findings", "", analysis.summary, ""]
    for finding in analysis.findings:
        value = _fmt(_headline(metrics[finding.metric]))
        lines.append(f"- `{finding.metric}` = {value}: {finding.statement}")
    lines += ["", f"Supports the hypothesis: {analysis.supports_hypothesis}.", "", "## Limitations", ""]
    lines += [f"- {text}" for text in analysis.limitations] or ["- (none stated)"]
    lines += ["", "## Evidence", ""]
    evidence = {e["key"]: e for e in state.get("evidence", [])}
    if not evidence:
        lines.append(
            "The paper library returned no passages for this question (it is empty or nothing matched), so this "
            "report cites no literature."
        )
    for key in plan.citations or list(evidence):
        item = evidence[key]
        lines.append(f"- [{key}] {item['title']}" + (f", {item['anchor']}" if item.get("anchor") else ""))
    cells = state.get("cells", [])
    lines += [
        "",
        "## Provenance",
        "",
        f"Run `{state['run_id']}`; {len(cells)} cell(s) ({', '.join(c['status'] for c in cells)}); "
        f"{state.get('tokens_used', 0)} LLM tokens; events in `events.jsonl`.",
        "",
    ]
    return "\n".join(lines)


@traced("write_report")
async def write_report(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Write ``report.md`` into the run directory."""
    path = run_dir(state) / "report.md"
    write_atomic(path, render_report(state))
    rel = str(path.relative_to(state["workspace"])) if path.is_relative_to(state["workspace"]) else str(path)
    runtime.context.runlog.append(ReportWritten(run_id=state["run_id"], path=rel))
    return {"report_path": rel}


def slug_of(title: str) -> str:
    """A branch-safe slug from a plan title."""
    return re.sub(r"[^a-z0-9]+", "-", title.casefold()).strip("-")[:40].strip("-") or "run"


@traced("propose_change")
async def propose_change(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Commit the run directory as a proposal branch (idempotent per run id and step)."""
    ctx = runtime.context
    directory = run_dir(state)
    plan = ExperimentPlan.model_validate(state["plan"])
    analysis = Analysis.model_validate(state["analysis"])
    files = sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.endswith(".tmp"))
    results = json.loads((directory / str(state["results_path"])).read_text(encoding="utf-8"))
    proposal = ctx.workspace.propose(
        state["run_id"],
        slug_of(plan.title),
        f"{plan.title}\n\n{analysis.summary}",
        files,
        directory / "report.md",
        results,
        step="propose_change",
    )
    record = {"id": proposal.id, "branch": proposal.branch, "head_commit": proposal.head_commit}
    ctx.runlog.append(
        ProposalCreated(
            run_id=state["run_id"], proposal_id=str(proposal.id), branch=proposal.branch, commit=proposal.head_commit
        )
    )
    return {"proposal": record, "status": "done"}
