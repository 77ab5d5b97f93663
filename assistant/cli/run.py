"""``ara run "question"``, ``ara resume RUN_ID`` and ``ara runs list``: the research loop from the command line.

Covers mapping settings and flags onto a ``RunContext`` (the LLM from ``connect_llm``, a sandboxed
``tools.kernel.KernelPool``, the paper library under ``<workspace>/.ara/papers`` when it has papers, the
``tools.vcs`` workspace, the budget), progress lines (node, cell, tokens) from the run log, the approval prompt
when a person is at the terminal, and Ctrl-C as a clean, resumable stop. Does not contain loop logic
(``assistant.graph``; runs start and resume through ``assistant.graph.session.RunSession``). Exit codes: 0 ok
(finished, paused for an approval, plans rejected, or out of scope), 2 a failed run or a user error, 130
interrupted.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, cast

import click
from pydantic import ValidationError

from assistant.budget import Budget, budget_from_settings
from assistant.cli.common import echo_json, settings_from
from assistant.errors import AssistantError
from assistant.events import (
    ApprovalRequested,
    BudgetExhausted,
    CellExecuted,
    Event,
    NodeFinished,
    NodeStarted,
    RunFailed,
    RunFinished,
    RunStarted,
)
from assistant.graph.session import RunSession, SessionDeps, code_mode_for
from assistant.runlog import read_events
from assistant.schemas import Approval, CodeMode, ExperimentPlan, RunOutcome, RunStatus, RunSummary
from assistant.settings import Settings
from tools.vcs import RunDir


def _progress(to_stderr: bool) -> Callable[[Event], None]:
    def show(event: Event) -> None:
        line: str | None = None
        if isinstance(event, NodeStarted):
            line = f"▸ {event.node}"
        elif isinstance(event, NodeFinished):
            line = f"  {event.node} done in {event.duration_s:.1f}s, {event.tokens} tokens"
        elif isinstance(event, CellExecuted):
            reused = " (reused)" if event.reused else ""
            error = f": {event.error}" if event.error else ""
            line = f"  cell {event.index} {event.status}{reused} in {event.duration_s:.1f}s{error}"
        if line is not None:
            click.echo(line, err=to_stderr)

    return show


def show_plans(plans: Sequence[ExperimentPlan], notes: Sequence[Sequence[str]] = ()) -> None:
    """Print the plans waiting for approval: what will run, exactly, and what it predicts."""
    for number, plan in enumerate(plans, start=1):
        click.echo(f"\nPlan {number}: {plan.title}  [recipe {plan.recipe}]")
        click.echo(f"  hypothesis: {plan.hypothesis}")
        click.echo(f"  method: {plan.method}")
        click.echo(f"  config (frozen; this is what runs): {json.dumps(plan.config, sort_keys=True)}")
        if plan.open_fields:
            click.echo(f"  the loop may change on failure: {', '.join(plan.open_fields)}")
        for h in plan.hypotheses:
            effect = h.metric if h.baseline is None else f"{h.metric} - {h.baseline}"
            side = ">" if h.predicted == "increase" else "<"
            edge = h.null + h.min_effect if h.predicted == "increase" else h.null - h.min_effect
            click.echo(f"  {h.id}: {h.statement}  [predicts {effect} {side} {edge:g}]")
        if not plan.hypotheses:
            click.echo("  no pre-registered hypothesis: the report will state no verdict")
        for note in notes[number - 1] if number - 1 < len(notes) else ():
            click.echo(f"  note: {note}")
        if plan.citations:
            click.echo(f"  cites: {', '.join(plan.citations)}")


def read_plan_file(path: Path) -> ExperimentPlan:
    """An edited plan from a JSON file.

    Raises:
        AssistantError: missing, not JSON, or not a valid plan (the fields named).
    """
    try:
        return ExperimentPlan.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise AssistantError(f"cannot read the plan file {path}: {err.strerror}", title="Bad plan file") from err
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in err.errors())
        raise AssistantError(
            f"{path} is not a valid experiment plan ({problems}); start from the JSON that 'ara resume RUN_ID "
            "--json' prints under plans",
            title="Bad plan file",
        ) from err


def _edit_plan(plan: ExperimentPlan) -> ExperimentPlan | None:
    edited = click.edit(plan.model_dump_json(indent=2), extension=".json")
    if edited is None:
        return None
    try:
        return ExperimentPlan.model_validate_json(edited)
    except ValidationError as err:
        click.echo(f"the edited plan is not valid: {err.errors()[0]['msg']} at {err.errors()[0]['loc']}", err=True)
        return None


def _ask_approval(plans: Sequence[ExperimentPlan], notes: Sequence[Sequence[str]] = ()) -> Approval | None:
    show_plans(plans, notes)
    answer = click.prompt(
        "\nApprove which plan? (number, 'eN' to edit plan N first, 'r' to reject, 'l' to decide later)",
        default="1",
        show_default=True,
    ).strip()
    if answer.lower() == "l":
        return None
    reviewer = click.prompt("Your name", default="user")
    if answer.lower() == "r":
        return Approval(decision="reject", reviewer=reviewer, comment=click.prompt("Why", default=""))
    if answer.lower().startswith("e") and answer[1:].isdigit() and 1 <= int(answer[1:]) <= len(plans):
        edited = _edit_plan(plans[int(answer[1:]) - 1])
        if edited is None:
            return None
        return Approval(decision="modify", reviewer=reviewer, plan=edited, comment="edited before approval")
    if not answer.isdigit() or not 1 <= int(answer) <= len(plans):
        raise click.BadParameter(f"{answer!r} is not a plan number between 1 and {len(plans)}")
    return Approval(decision="approve", reviewer=reviewer, plan_index=int(answer) - 1)


async def _drive(
    settings: Settings,
    deps: SessionDeps | None,
    *,
    run: RunDir | None,
    question: str | None,
    run_id: str,
    budget: Budget,
    auto_approve: bool,
    code_mode: CodeMode,
    quiet: bool,
    approval: Approval | None = None,
) -> RunOutcome:
    async with RunSession(
        settings,
        deps=deps,
        approval_policy="auto-approve" if auto_approve else "ask",
        code_mode=code_mode,
        budget=budget,
        listeners=[_progress(to_stderr=quiet)],
    ) as session:
        if run is not None and question is not None:
            outcome = await session.start(run, question)
        else:
            outcome = await session.resume(run_id, approval)
        interactive = not quiet and sys.stdin.isatty()
        while outcome.status == "awaiting_approval" and interactive:
            answer = _ask_approval(outcome.plans, outcome.plan_notes)
            if answer is None:
                break
            outcome = await session.resume(run_id, answer)
        return outcome


def _finish(outcome: RunOutcome, as_json: bool) -> None:
    if as_json:
        echo_json(outcome.model_dump(mode="json"))
        return
    run_id = outcome.run_id
    click.echo(f"\nrun {run_id}: {outcome.status} ({outcome.tokens} tokens, {outcome.cells} cells)")
    if outcome.status == "awaiting_approval":
        click.echo(f"waiting for a plan approval: ara resume {run_id} --approve 1 (or --reject)")
    if outcome.failure:
        click.echo(f"stopped: {outcome.failure}")
    if outcome.status == "awaiting_approval" and outcome.plans:
        show_plans(outcome.plans, outcome.plan_notes)
    if outcome.report_path:
        click.echo(f"report: {outcome.report_path}")
    if outcome.proposal_id:
        click.echo(f"proposal: {outcome.proposal_id} (review it with: ara review show {outcome.proposal_id})")


def _exit_code(outcome: RunOutcome) -> int:
    """0 for a finished, paused, rejected or out-of-scope run; 2 for one that failed or ran out of budget."""
    return 2 if outcome.status in ("failed", "budget_exhausted") else 0


def _deps(ctx: click.Context) -> SessionDeps | None:
    """Dependencies injected through ``assistant.cli.main(..., deps=...)`` (tests); None = from settings."""
    deps = (ctx.find_root().obj or {}).get("session_deps")
    return deps if isinstance(deps, SessionDeps) else None


def _run_async(run_id: str, coro: Coroutine[Any, Any, RunOutcome]) -> RunOutcome:
    # This process now runs the agent: the review gate refuses approvals from it (assistant.review.approve).
    os.environ["ARA_ROLE"] = "agent"
    try:
        result = asyncio.run(coro)
    except KeyboardInterrupt:
        click.echo(f"\nstopped; the run is checkpointed. Resume with: ara resume {run_id}", err=True)
        sys.exit(130)
    return result


@click.command()
@click.argument("question")
@click.option("--auto-approve-plans", is_flag=True, help="Let the unattended policy approve the first plan.")
@click.option("--budget", "budget_spec", default=None, help="tokens=N,cells=N,wall=SECONDS,debug=N")
@click.option("--code-mode", type=click.Choice(["recipe", "free"]), default=None, help="Default: settings.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON (progress goes to stderr).")
@click.pass_context
def run(
    ctx: click.Context,
    question: str,
    auto_approve_plans: bool,
    budget_spec: str | None,
    code_mode: str | None,
    as_json: bool,
) -> None:
    """Research QUESTION: plan, run sandboxed experiments, write a report and propose it for review."""
    settings = settings_from(ctx)
    budget = budget_from_settings(settings.run, settings.llm.token_budget).with_overrides(budget_spec)
    run_dir = RunSession(settings).new_run(question)
    if not as_json:
        click.echo(f"run {run_dir.run_id} in {run_dir.path}")
    outcome = _run_async(
        run_dir.run_id,
        _drive(
            settings,
            _deps(ctx),
            run=run_dir,
            question=question,
            run_id=run_dir.run_id,
            budget=budget,
            auto_approve=auto_approve_plans,
            code_mode=code_mode_for(settings, code_mode),
            quiet=as_json,
        ),
    )
    _finish(outcome, as_json)
    sys.exit(_exit_code(outcome))


@click.command()
@click.argument("run_id")
@click.option("--auto-approve-plans", is_flag=True, help="Let the unattended policy approve a pending plan.")
@click.option("--approve", "approve_plan", type=click.IntRange(1), default=None, help="Approve plan N.")
@click.option("--reject", "reject_comment", default=None, help="Reject the pending plans with this comment.")
@click.option(
    "--modify",
    "modify_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Approve this edited plan (a JSON ExperimentPlan, e.g. one from --json's plans) instead.",
)
@click.option("--reviewer", default="user", show_default=True, help="Who approves or rejects.")
@click.option("--budget", "budget_spec", default=None, help="New limits: tokens=N,cells=N,wall=SECONDS,debug=N")
@click.option("--code-mode", type=click.Choice(["recipe", "free"]), default=None, help="Default: settings.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
def resume(
    ctx: click.Context,
    run_id: str,
    auto_approve_plans: bool,
    approve_plan: int | None,
    reject_comment: str | None,
    modify_file: Path | None,
    reviewer: str,
    budget_spec: str | None,
    code_mode: str | None,
    as_json: bool,
) -> None:
    """Continue RUN_ID from its last checkpoint (after a crash, Ctrl-C, a budget stop or an approval pause)."""
    settings = settings_from(ctx)
    RunSession(settings).run_dir(run_id)  # an unknown run is refused before anything starts
    approval = None
    if sum(x is not None for x in (approve_plan, reject_comment, modify_file)) > 1:
        raise click.UsageError("use one of --approve N, --reject COMMENT or --modify PLAN.json")
    if modify_file is not None:
        approval = Approval(decision="modify", reviewer=reviewer, plan=read_plan_file(modify_file), comment="edited")
    elif approve_plan is not None:
        approval = Approval(decision="approve", reviewer=reviewer, plan_index=approve_plan - 1)
    elif reject_comment is not None:
        approval = Approval(decision="reject", reviewer=reviewer, comment=reject_comment)
    budget = budget_from_settings(settings.run, settings.llm.token_budget).with_overrides(budget_spec)
    outcome = _run_async(
        run_id,
        _drive(
            settings,
            _deps(ctx),
            run=None,
            question=None,
            run_id=run_id,
            budget=budget,
            auto_approve=auto_approve_plans,
            code_mode=code_mode_for(settings, code_mode),
            quiet=as_json,
            approval=approval,
        ),
    )
    _finish(outcome, as_json)
    sys.exit(_exit_code(outcome))


def summarise_run(run_path: Path) -> RunSummary | None:
    """A run's summary from its ``events.jsonl`` (None when it has no events)."""
    events = read_events(run_path / "events.jsonl")
    started = next((e for e in events if isinstance(e, RunStarted)), None)
    if started is None:
        return None
    status: RunStatus = "running"
    proposal = report = None
    last_node = None
    tokens = 0
    for event in events:
        if isinstance(event, NodeStarted):
            last_node, status = event.node, "running"
        elif isinstance(event, NodeFinished):
            tokens += event.tokens
        elif isinstance(event, RunFinished):
            status = cast(RunStatus, event.status)
            proposal, report = event.proposal_id, event.report_path
        elif isinstance(event, RunFailed):
            status = "stopped" if event.error == "Interrupted" else "failed"
        elif isinstance(event, BudgetExhausted):
            status = "budget_exhausted"
        elif isinstance(event, ApprovalRequested):
            status = "awaiting_approval"
    return RunSummary(
        run_id=started.run_id,
        question=started.question,
        status=status,
        next_node=None if status == "done" else last_node,
        proposal_id=proposal,
        report_path=report,
        tokens=tokens,
    )


@click.group()
def runs() -> None:
    """Research runs in this workspace."""


@runs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@click.pass_context
def list_runs(ctx: click.Context, as_json: bool) -> None:
    """List runs, newest first, with their status (from each run's events.jsonl)."""
    settings = settings_from(ctx)
    root = settings.workspace / "runs"
    paths = sorted((p for p in root.iterdir() if p.is_dir()), reverse=True) if root.is_dir() else []
    summaries = [s for s in (summarise_run(p) for p in paths) if s is not None]
    if as_json:
        echo_json([s.model_dump() for s in summaries])
        return
    if not summaries:
        click.echo(f'no runs in {settings.workspace}; start one with: ara run "question"')
        return
    for s in summaries:
        extra = f" proposal {s.proposal_id}" if s.proposal_id else ""
        click.echo(f"{s.run_id}  {s.status:<17} {s.tokens:>7} tok{extra}  {s.question[:70]}")
