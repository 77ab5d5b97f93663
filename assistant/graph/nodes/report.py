"""write_report and propose_change: a checked write-up whose numbers come from results.json, then a proposal branch.

``write_report`` turns the model's ``Analysis`` (claims naming their evidence), the critic's look and the approved
plan into a ``ReportDraft`` and hands it to ``assistant.report`` with the run's ``ExperimentRecord``: code computes
the hypotheses' verdicts, checks every claim (a dropped claim is listed and logged as ``ClaimRejected``), renders
the summary, methods and discussion, fills every number from results.json, resolves citations against the paper
library and writes report.md, report.html and report.json into the run directory. With ``report_draft="model"`` the
model first writes its own ``ReportDraft`` (claims, rationale, limitations); it is kept only when the built report
passes every check, otherwise the analysis draft is used and the rationale says why.
``propose_change`` commits the host's files of the run directory (its run log, cell records, host-scored results,
report; not the kernel's ``work/``) on ``ara/<run_id>/<slug>`` through the workspace, which is idempotent per
(run id, step), so a resumed run never makes a second proposal. Neither node can approve or merge: the review
functions are not reachable from the graph. Does not cover review.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from assistant.errors import StructuredOutputError
from assistant.events import ClaimRejected, ProposalCreated, ReportWritten
from assistant.graph.context import RunContext
from assistant.graph.nodes._common import Update, ask, remove_run_file, run_dir, traced, write_atomic
from assistant.graph.nodes.analysis import verdict_lines
from assistant.graph.prompts import quote_data
from assistant.graph.record import experiment_record, tree_view
from assistant.graph.state import GraphState, analysis_of, critique_of, plan_of
from assistant.graph.treeresults import tree_report
from assistant.report import (
    CitationResolver,
    ExperimentRecord,
    Report,
    ReportDraft,
    build_report,
    load_results,
    placeholder_guide,
)
from assistant.report import write_report as build_write_report
from assistant.report.build import evaluate_hypotheses
from tools.results import read_results
from tools.runfiles import KERNEL_DIR, RunFiles

log = logging.getLogger(__name__)

METRICS_FIGURE = "metrics_ci"
"""The figure ``build_report`` draws from metrics with intervals (``assistant.report.figures``)."""
REQUIRED_SECTIONS = ("rationale", "limitations")
"""Sections a model-written draft must fill to be used (a reviewer needs each; next steps are optional)."""
REJECTED_DRAFT = "report_draft_rejected.json"
"""Written into the run when the model's own draft fails the checks: the draft and what failed, for reviewers."""


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {text}" for text in items if text.strip())


def draft_from(state: GraphState, note: str = "") -> ReportDraft:
    """The ``ReportDraft`` of a finished experiment, from the model's ``Analysis``, the critic and the plan.

    No number is typed here or by the model: claims name hypotheses and metrics; code fills numbers and verdicts.
    ``note`` is added to the rationale (why the model's own draft was not used).
    """
    plan = plan_of(state)
    analysis = analysis_of(state)
    review = critique_of(state)
    limitations = list(analysis.limitations)
    next_steps: list[str] = []
    if review is not None:
        if review.tests_question != "yes":
            verdict = "only partly tests" if review.tests_question == "partly" else "does not test"
            limitations.append(f"The critic judged that this experiment {verdict} the question asked: {review.why}")
        limitations += [f"Confound: {c}" for c in review.confounds]
        next_steps += review.follow_ups
    if not state.get("evidence"):
        limitations.append(
            "The paper library returned no passages for this question (it is empty or nothing matched), so this "
            "report cites no literature."
        )
    rationale = plan.method + (f"\n\n{note}" if note else "")
    return ReportDraft(
        claims=list(analysis.claims),
        rationale=rationale,
        limitations=_bullets(limitations),
        next_steps=_bullets(next_steps),
        cited_keys=list(plan.citations),
    )


@traced("write_report", budgeted=False)
async def write_report(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Build, check and write report.md/.html/.json with ``assistant.report``."""
    ctx = runtime.context
    directory = run_dir(state)
    resolver: CitationResolver | None = ctx.library
    record = experiment_record(ctx, state)
    tree = tree_view(ctx, state)
    extra: dict[str, Any] = {}
    if tree.several:
        built = tree_report(tree.nodes, tree.per_node, tree.found, tree.compared, state.get("followup_stop") or "")
        extra = {"tree": built, "verdicts": tree.found.verdicts}
    elif state.get("followup_stop") and record.hypotheses:
        extra = {"tree": tree_report(tree.nodes, tree.per_node, tree.found, [], state.get("followup_stop") or "")}
    report, note = None, ""
    budget = ctx.budget
    spent = state.get("wall_used_s", 0.0) >= budget.wall_s or (
        budget.tokens is not None and state.get("tokens_used", 0) >= budget.tokens
    )
    if ctx.report_draft == "model" and spent:
        # the report of what ran is written even on a spent budget, but without another model call
        note = "The run's budget was spent; this report was assembled from its analysis without a model draft."
    elif ctx.report_draft == "model":
        report, note = await _model_report(ctx, state, directory, resolver, record, extra)
    if report is None:
        report = build_report(
            directory, draft_from(state, note), resolver, question=state["question"], experiment=record, **extra
        )
    for checked in report.claims:
        if not checked.accepted:
            ctx.runlog.append(
                ClaimRejected(run_id=state["run_id"], claim=checked.claim.statement[:500], reason=checked.reason)
            )
    paths = build_write_report(directory, report)
    workspace = Path(state["workspace"])
    path = paths.markdown
    rel = str(path.relative_to(workspace)) if path.is_relative_to(workspace) else str(path)
    check = report.check
    problems = [f"{o.location}: {o.message}" for o in check.offenders][:20] if check else []
    ctx.runlog.append(
        ReportWritten(run_id=state["run_id"], path=rel, verified=check.ok if check else None, problems=problems)
    )
    return {"report_path": rel}


async def _model_report(
    ctx: RunContext,
    state: GraphState,
    directory: Path,
    resolver: CitationResolver | None,
    record: ExperimentRecord,
    extra: dict[str, Any],
) -> tuple[Report | None, str]:
    """The report built from the model's own draft when it fills the required sections and passes every check;
    else None and why not (the rejected draft is saved in the run)."""
    remove_run_file(directory, REJECTED_DRAFT)  # left by an earlier attempt of this node (a resume)
    results = load_results(directory / str(state["results_path"]))
    keys = [e["key"] for e in state.get("evidence", [])]
    drawn = [METRICS_FIGURE] if any(metric.has_ci for metric in results.metrics.values()) else []
    guide = placeholder_guide(results, keys, drawn)
    try:
        draft = await ask(
            ctx,
            state,
            node="write_report",
            prompt="write_report.draft",
            schema=ReportDraft,
            question=state["question"],
            plan=plan_of(state).model_dump_json(indent=1),
            verdicts=quote_data(
                verdict_lines(extra.get("verdicts") or evaluate_hypotheses(results, record)), source="computed verdicts"
            ),
            analysis=quote_data(json.dumps(state["analysis"], indent=1), source="analyse_results"),
            placeholders=quote_data(guide, source=str(state["results_path"])),
        )
    except StructuredOutputError as err:
        log.warning("run %s: the model wrote no valid report draft: %s", state["run_id"], err)
        return None, "The model returned no valid report draft; this report was assembled from its analysis."
    empty = [name for name in REQUIRED_SECTIONS if not getattr(draft, name).strip()]
    if empty:
        why, found = f"left {', '.join(empty)} empty", [{"kind": "empty_section", "location": name} for name in empty]
    else:
        report = build_report(directory, draft, resolver, question=state["question"], experiment=record, **extra)
        if report.check is not None and report.check.ok:
            return report, ""
        why = "failed the report checks"
        found = [o.model_dump(mode="json") for o in (report.check.offenders if report.check else [])]
    rejected = {"draft": draft.model_dump(mode="json"), "offenders": found}
    write_atomic(directory / REJECTED_DRAFT, json.dumps(rejected, indent=1))
    log.warning("run %s: the model's report draft %s; see %s", state["run_id"], why, REJECTED_DRAFT)
    # no numbers in the note: the checker would take them for figures the report must trace to results.json
    return None, (
        f"The model's own draft {why} (its text and what failed are in `{REJECTED_DRAFT}`); this report was "
        "assembled from its analysis instead."
    )


def host_files(directory: Path) -> list[str]:
    """The run's files a proposal carries: the host's records, never the kernel's scratch directory (``work/``)
    and never a link or special file (``tools.runfiles`` walks without following them)."""
    with RunFiles(directory) as files:
        found = files.walk_files()
    return sorted(rel for rel in found if rel.split("/", 1)[0] != KERNEL_DIR and not rel.endswith(".tmp"))


def slug_of(title: str) -> str:
    """A branch-safe slug from a plan title."""
    return re.sub(r"[^a-z0-9]+", "-", title.casefold()).strip("-")[:40].strip("-") or "run"


@traced("propose_change", budgeted=False)
async def propose_change(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Commit the run directory as a proposal branch (idempotent per run id and step)."""
    ctx = runtime.context
    directory = run_dir(state)
    plan = plan_of(state)
    analysis = analysis_of(state)
    files = [directory / rel for rel in host_files(directory)]
    results = read_results(directory / str(state["results_path"]), below=directory).model_dump(
        mode="json", by_alias=True, exclude_unset=True
    )
    accepted = [c.statement for c in analysis.claims][:3]
    proposal = ctx.workspace.propose(
        state["run_id"],
        slug_of(plan.title),
        "\n\n".join([plan.title, *accepted]),
        files,
        directory / "report.md",
        results,
        step="propose_change",
        parent_id=state.get("revises"),
    )
    record = {"id": proposal.id, "branch": proposal.branch, "head_commit": proposal.head_commit}
    ctx.runlog.append(
        ProposalCreated(
            run_id=state["run_id"], proposal_id=str(proposal.id), branch=proposal.branch, commit=proposal.head_commit
        )
    )
    return {"proposal": record, "status": "done"}
