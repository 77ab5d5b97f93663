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
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
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
from assistant.schemas import Approval, CodeMode, ExperimentPlan, RunOutcome, RunStatus, RunSummary, threshold
from assistant.settings import Settings
from tools.errors import UserInputError
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
            click.echo(f"  {h.id}: {h.statement}  [predicts {effect} {side} {threshold(h):g}]")
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


def git_reviewer(workspace: Path) -> str | None:
    """The workspace's git identity (``Name <email>``) as the default decider of plans, or None when unset.

    Read here with ``tools.vcs`` alone: this module runs the agent and never imports ``assistant.review``.
    """
    from tools.vcs import GitIdentity
    from tools.vcs.confusables import reserved_identity
    from tools.vcs.gitcmd import try_git

    name = (try_git(workspace, "config", "--get", "user.name") or "").strip()
    email = (try_git(workspace, "config", "--get", "user.email") or "").strip()
    if not name or not email:
        return None
    try:
        identity = GitIdentity.parse(f"{name} <{email}>")
    except ValueError:
        return None
    return None if reserved_identity(identity.name, identity.email) else str(identity)


def plan_reviewer(workspace: Path, explicit: str | None) -> str:
    """Who decides on a plan: ``--reviewer`` as given, else the workspace's git identity (as merges record it).

    Raises:
        AssistantError: no ``--reviewer`` and no usable git identity, or a name that reads as ara's own or a
            policy's.
    """
    from tools.vcs.confusables import reserved_identity

    if explicit is None:
        found = git_reviewer(workspace)
        if found is None:
            raise AssistantError(
                f"no reviewer identity: git has no user.name/user.email for {workspace} (or they name ara itself). "
                f"Set them with 'git -C {workspace} config user.name \"Your Name\"' and 'git -C {workspace} config "
                "user.email you@example.org', or pass --reviewer 'Name <email>'. Nothing was changed.",
                title="Missing reviewer identity",
            )
        return found
    name, _, rest = explicit.partition("<")
    reason = reserved_identity(name.strip(), rest.rstrip("> ").strip())
    if reason is not None:
        raise AssistantError(
            f"--reviewer {explicit!r}: {reason}; a plan is decided by a person. Nothing was changed.",
            title="Agent cannot review",
        )
    return explicit


def _ask_approval(
    plans: Sequence[ExperimentPlan], notes: Sequence[Sequence[str]] = (), *, workspace: Path | None = None
) -> Approval | None:
    show_plans(plans, notes)
    answer = click.prompt(
        "\nApprove which plan? (number, 'eN' to edit plan N first, 'r' to reject, 'l' to decide later)",
        default="1",
        show_default=True,
    ).strip()
    if answer.lower() == "l":
        return None
    identity = git_reviewer(workspace) if workspace is not None else None
    reviewer = click.prompt("Decide as (Name <email>)", default=identity) if identity else None
    while not reviewer or not reviewer.strip():
        reviewer = click.prompt("Decide as (Name <email>; set 'git config user.name/user.email' to skip this)")
    reviewer = plan_reviewer(workspace or Path.cwd(), reviewer.strip())
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


async def drive_run(
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
    revises: int | None = None,
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
            outcome = await session.start(run, question, revises=revises)
        else:
            outcome = await session.resume(run_id, approval)
        interactive = not quiet and sys.stdin.isatty()
        while outcome.status == "awaiting_approval" and interactive:
            answer = _ask_approval(outcome.plans, outcome.plan_notes, workspace=settings.workspace)
            if answer is None:
                break
            outcome = await session.resume(run_id, answer)
        return outcome


def print_outcome(outcome: RunOutcome, as_json: bool) -> None:
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


def exit_code_of(outcome: RunOutcome) -> int:
    """0 for a finished, paused, rejected or out-of-scope run; 2 for one that failed or ran out of budget."""
    return 2 if outcome.status in ("failed", "budget_exhausted") else 0


def injected_deps(ctx: click.Context) -> SessionDeps | None:
    """Dependencies injected through ``assistant.cli.main(..., deps=...)`` (tests); None = from settings."""
    deps = (ctx.find_root().obj or {}).get("session_deps")
    return deps if isinstance(deps, SessionDeps) else None


STOPPING = "stopping at the next safe point (the current step finishes first; Ctrl-C again to quit now)..."


async def _acknowledging_ctrl_c(coro: Coroutine[Any, Any, RunOutcome]) -> RunOutcome:
    """Run ``coro`` with Ctrl-C acknowledged at once, before the step in progress (a model call, a cell) ends.

    asyncio's own handler (installed by ``asyncio.run``) still does the stopping: the first Ctrl-C cancels the
    run, which is logged and checkpointed once the current step returns; a second one quits without waiting.
    """
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        return await coro
    told = False

    def acknowledge(signum: int, frame: FrameType | None) -> None:
        nonlocal told
        if not told:
            told = True
            sys.stderr.write(f"\n{STOPPING}\n")
            sys.stderr.flush()
        previous(signum, frame)

    signal.signal(signal.SIGINT, acknowledge)
    try:
        return await coro
    finally:
        if signal.getsignal(signal.SIGINT) is acknowledge:
            signal.signal(signal.SIGINT, previous)


def run_until_done(run_id: str, coro: Coroutine[Any, Any, RunOutcome], workspace: Path, as_json: bool) -> RunOutcome:
    # This process now runs the agent: the review gate refuses approvals from it (assistant.review.approve).
    os.environ["ARA_ROLE"] = "agent"
    try:
        result = asyncio.run(_acknowledging_ctrl_c(coro))
    except KeyboardInterrupt:
        message = f"stopped; the run is checkpointed. Resume with: ara resume {run_id}"
        if as_json:
            summary = summarise_run(workspace / "runs" / run_id)
            echo_json(
                {
                    "run_id": run_id,
                    "status": "stopped",
                    "failure": "interrupted (Ctrl-C)",
                    "tokens": summary.tokens if summary is not None else 0,
                    "resume": f"ara resume {run_id}",
                }
            )
        click.echo(f"\n{message}", err=True)
        sys.exit(130)
    return result


class _RunRef:
    """The run a command works on, once known (``ara run`` learns its id only after checking its input)."""

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id


@contextmanager
def _status_on_error(as_json: bool, ref: _RunRef) -> Iterator[None]:
    """With ``--json``, a command refused or failing before an outcome still prints one status object.

    The object says ``status: "error"`` (the command did not run; a run it names is unchanged), the run id where
    known, and the message; the error itself then goes to stderr with exit 2 as usual.
    """
    try:
        yield
    except (AssistantError, UserInputError, click.UsageError) as err:
        if as_json:
            title = getattr(err, "title", "Invalid input" if not isinstance(err, click.UsageError) else "Usage")
            message = err.format_message() if isinstance(err, click.UsageError) else str(err)
            echo_json({"run_id": ref.run_id, "status": "error", "failure": f"{title}: {message}"})
        raise


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
    ref = _RunRef()
    with _status_on_error(as_json, ref):
        settings = settings_from(ctx)
        budget = budget_from_settings(settings.run, settings.llm.token_budget).with_overrides(budget_spec)
        run_dir = RunSession(settings).new_run(question)
        ref.run_id = run_dir.run_id
        if not as_json:
            click.echo(f"run {run_dir.run_id} in {run_dir.path}")
        outcome = _start_run(ctx, settings, run_dir, question, budget, auto_approve_plans, code_mode, as_json)
    print_outcome(outcome, as_json)
    sys.exit(exit_code_of(outcome))


def _start_run(
    ctx: click.Context,
    settings: Settings,
    run_dir: RunDir,
    question: str,
    budget: Budget,
    auto_approve: bool,
    code_mode: str | None,
    as_json: bool,
) -> RunOutcome:
    return run_until_done(
        run_dir.run_id,
        drive_run(
            settings,
            injected_deps(ctx),
            run=run_dir,
            question=question,
            run_id=run_dir.run_id,
            budget=budget,
            auto_approve=auto_approve,
            code_mode=code_mode_for(settings, code_mode),
            quiet=as_json,
        ),
        settings.workspace,
        as_json,
    )


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
@click.option(
    "--reviewer",
    default=None,
    help="Who approves or rejects (default: the workspace's git identity, as approvals of proposals record it).",
)
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
    reviewer: str | None,
    budget_spec: str | None,
    code_mode: str | None,
    as_json: bool,
) -> None:
    """Continue RUN_ID from its last checkpoint (after a crash, Ctrl-C, a budget stop or an approval pause)."""
    with _status_on_error(as_json, _RunRef(run_id)):
        settings = settings_from(ctx)
        RunSession(settings).run_dir(run_id)  # an unknown run is refused before anything starts
        approval = None
        if sum(x is not None for x in (approve_plan, reject_comment, modify_file)) > 1:
            raise click.UsageError("use one of --approve N, --reject COMMENT or --modify PLAN.json")
        if modify_file is not None:
            plan = read_plan_file(modify_file)
            decider = plan_reviewer(settings.workspace, reviewer)
            approval = Approval(decision="modify", reviewer=decider, plan=plan, comment="edited")
        elif approve_plan is not None:
            approval = Approval(
                decision="approve", reviewer=plan_reviewer(settings.workspace, reviewer), plan_index=approve_plan - 1
            )
        elif reject_comment is not None:
            approval = Approval(
                decision="reject", reviewer=plan_reviewer(settings.workspace, reviewer), comment=reject_comment
            )
        budget = budget_from_settings(settings.run, settings.llm.token_budget).with_overrides(budget_spec)
        outcome = run_until_done(
            run_id,
            drive_run(
                settings,
                injected_deps(ctx),
                run=None,
                question=None,
                run_id=run_id,
                budget=budget,
                auto_approve=auto_approve_plans,
                code_mode=code_mode_for(settings, code_mode),
                quiet=as_json,
                approval=approval,
            ),
            settings.workspace,
            as_json,
        )
    print_outcome(outcome, as_json)
    sys.exit(exit_code_of(outcome))


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


@runs.command("export")
@click.argument("run_id")
@click.option("--ipynb", "ipynb", is_flag=True, help="As a Jupyter notebook (the one format so far).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write it (default: RUN_ID.ipynb in the current directory).",
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@click.pass_context
def export_run(ctx: click.Context, run_id: str, ipynb: bool, output: Path | None, force: bool) -> None:
    """Write RUN_ID's cells and their outputs as a notebook to open in JupyterLab (nothing is executed)."""
    from assistant.notebook import notebook_text, run_notebook

    if not ipynb:
        raise click.UsageError("choose the format: --ipynb (a Jupyter notebook)")
    settings = settings_from(ctx)
    run_dir = RunSession(settings).run_dir(run_id)
    target = output if output is not None else Path(f"{run_id}.ipynb")
    if target.exists() and not force:
        raise AssistantError(
            f"{target} exists; pass --force to replace it, or -o PATH to write elsewhere. Nothing was written.",
            title="Output exists",
        )
    summary = summarise_run(run_dir.path)
    notebook = run_notebook(run_dir.path, run_id, summary.question if summary is not None else None)
    text = notebook_text(notebook)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    click.echo(f"wrote {target} ({len(notebook['cells']) - 1} cell(s) of run {run_id})")
