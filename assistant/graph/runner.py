"""Running the research loop: start, resume, list; checkpoints in ``<workspace>/.ara/checkpoints.sqlite``.

Covers compiling the graph over a checkpointer (``AsyncSqliteSaver``, the async face of LangGraph's SqliteSaver,
because the nodes are async; ``durability="sync"`` because async durability lost a checkpoint after a crash here),
``start_run`` / ``resume_run`` returning a typed ``RunOutcome``, the ``SCHEMA_VERSION`` check on resume, and run-log
events for the run's start, pause, failure and end, and the progress watchdog: a node that writes no run-log event
for the run's stall limit is cancelled and the run fails with ``RunStalledError``. The thread id of a run is its
run id. A failure (budget, invalid model output, Ctrl-C, a stall) is logged and re-raised; the checkpoint of the
last finished node is kept so ``ara resume RUN_ID`` continues there. Does not cover the CLI (``assistant.cli.run``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from assistant.errors import AssistantError, BudgetExceededError
from assistant.events import (
    ApprovalRequested,
    BudgetExhausted,
    Event,
    RunFailed,
    RunFinished,
    RunResumed,
    RunStarted,
)
from assistant.graph.builder import build_graph
from assistant.graph.context import RunContext
from assistant.graph.state import GraphState, check_schema_version, initial_state
from assistant.paths import ensure_state_dir
from assistant.schemas import Approval, ExperimentPlan, RunOutcome, validate_question
from assistant.stores import prepare_checkpoints
from tools.errors import MissingDependencyError, ToolError, UserInputError
from tools.runfiles import RunFileError

CHECKPOINT_FILE = "checkpoints.sqlite"
log = logging.getLogger(__name__)

Graph = CompiledStateGraph[GraphState, RunContext, GraphState, GraphState]


class RunNotFoundError(AssistantError):
    """No checkpoint exists for the given run id."""


class RunStalledError(AssistantError):
    """The progress watchdog ended a node that wrote no run-log event for longer than the run's stall limit."""


def checkpoint_path(workspace: Path) -> Path:
    """``<workspace>/.ara/checkpoints.sqlite``."""
    return ensure_state_dir(workspace) / CHECKPOINT_FILE


@asynccontextmanager
async def open_checkpointer(workspace: Path, *, synchronous: str = "NORMAL") -> AsyncIterator[AsyncSqliteSaver]:
    """The workspace's SQLite checkpointer, open for the duration of the block.

    Args:
        workspace: The workspace (the file is ``<workspace>/.ara/checkpoints.sqlite``).
        synchronous: SQLite's ``synchronous`` pragma. ``NORMAL`` (default) in WAL mode survives a killed process
            (``kill -9`` is tested) but not a power cut, and skips an fsync per checkpoint; ``FULL`` also
            survives power loss at ~10 ms more per node. Cells are safe either way: their results are fsynced
            files, so a lost checkpoint only re-enters a node that then reuses them.
    """
    if synchronous not in ("NORMAL", "FULL"):
        raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
    prepare_checkpoints(checkpoint_path(workspace))
    async with AsyncSqliteSaver.from_conn_string(str(checkpoint_path(workspace))) as saver:
        await saver.setup()
        await saver.conn.execute(f"PRAGMA synchronous={synchronous}")
        yield saver


def compile_graph(checkpointer: BaseCheckpointSaver[Any]) -> Graph:
    """The research loop compiled over ``checkpointer``."""
    return build_graph().compile(checkpointer=checkpointer)


def _config(run_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": run_id}}


def _plans(value: Any) -> tuple[ExperimentPlan, ...]:
    """The plans of a ``plan_approval`` or ``followup_approval`` interrupt, decoded once (``approve_plan`` and
    ``approve_followup`` wrote them from validated plans)."""
    if isinstance(value, dict) and value.get("kind") in ("plan_approval", "followup_approval"):
        return tuple(ExperimentPlan.model_validate(p) for p in value["plans"])
    return ()


def _outcome(
    run_id: str, values: dict[str, Any], next_node: str | None, plans: tuple[ExperimentPlan, ...]
) -> RunOutcome:
    proposal = values.get("proposal") or {}
    status = values.get("status", "running")
    if plans:
        status = "awaiting_approval"
    return RunOutcome(
        run_id=run_id,
        status=status,
        next_node=next_node,
        plans=plans,
        plan_notes=tuple(tuple(n) for n in values.get("plan_notes") or []) if plans else (),
        proposal_id=str(proposal["id"]) if proposal else None,
        report_path=values.get("report_path"),
        results_path=values.get("results_path"),
        tokens=int(values.get("tokens_used", 0)),
        cells=int(values.get("cells_run", 0)),
        failure=values.get("failure"),
    )


def _record(ctx: RunContext, event: Event) -> None:
    """Append a failure event; a run log that cannot be written (a planted FIFO or link) must not hide the failure."""
    try:
        ctx.runlog.append(event)
    except RunFileError as err:
        log.error("could not record %s in the run log: %s", type(event).__name__, err)


def _append(ctx: RunContext, event: Event, run_id: str) -> None:
    """Append the event that opens a start or resume; an unusable run log is a user-facing error."""
    try:
        ctx.runlog.append(event)
    except RunFileError as err:
        raise AssistantError(f"run {run_id}: the run log cannot be written: {err}", title="Run log unusable") from err


def _where(ctx: RunContext) -> str:
    last, node = ctx.runlog.last_event, ctx.runlog.last_node
    if last is None:
        return "before its first event"
    return (f"in node {node}, " if node else "") + f"after {type(last).__name__}"


async def _watched(graph: Graph, value: GraphState | Command[Any] | None, ctx: RunContext, run_id: str) -> Any:
    """``graph.ainvoke`` under the progress watchdog: no run-log event for ``ctx.stall_limit_s()`` ends the node.

    Progress is what the run writes (each node's start and end, every LLM call, each cell started and finished),
    not a timer: a node blocked on something that never answers is cancelled and the run fails with
    ``RunStalledError`` (the last finished node stays checkpointed).
    """
    limit = ctx.stall_limit_s()
    task = asyncio.ensure_future(graph.ainvoke(value, _config(run_id), context=ctx, durability="sync", version="v2"))
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=max(0.05, min(5.0, limit / 4)))
            if done:
                return task.result()
            idle = ctx.runlog.idle_s()
            if idle > limit:
                where = _where(ctx)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                raise RunStalledError(
                    f"run {run_id} made no progress for {idle:.0f} s ({where}; the limit is {limit:.0f} s) and was "
                    f"stopped. The last finished step is checkpointed: fix what it waited for and resume with: "
                    f"ara resume {run_id}",
                    title="Run stalled",
                )
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise


async def _drive(graph: Graph, value: GraphState | Command[Any] | None, ctx: RunContext, run_id: str) -> RunOutcome:
    try:
        out = await _watched(graph, value, ctx, run_id)
    except BudgetExceededError as err:
        _record(ctx, BudgetExhausted(run_id=run_id, budget=err.budget, detail=err.message))
        raise
    except AssistantError as err:
        _record(ctx, RunFailed(run_id=run_id, error=type(err).__name__, message=err.message))
        raise
    except (ToolError, UserInputError, MissingDependencyError) as err:
        message = f"{err} (run {run_id} is checkpointed; fix this and resume with: ara resume {run_id})"
        _record(ctx, RunFailed(run_id=run_id, error=type(err).__name__, message=message))
        raise AssistantError(message, title="A research tool failed") from err
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        message = (
            f"the disk is full while writing {err.filename or 'run files'} ({err.strerror}); free some space and "
            f"resume with: ara resume {run_id} (the last finished step is checkpointed)"
        )
        _record(ctx, RunFailed(run_id=run_id, error="DiskFull", message=message))
        raise AssistantError(message, title="Disk full") from err
    except (KeyboardInterrupt, asyncio.CancelledError):
        _record(
            ctx,
            RunFailed(
                run_id=run_id,
                error="Interrupted",
                message=f"stopped by the user; resume with: ara resume {run_id}",
            ),
        )
        raise
    snapshot = await graph.aget_state(_config(run_id))
    plans: tuple[ExperimentPlan, ...] = ()
    for item in out.interrupts:
        plans = _plans(item.value) or plans
    next_node = snapshot.next[0] if snapshot.next else None
    outcome = _outcome(run_id, dict(snapshot.values), next_node, plans)
    if plans:
        ctx.runlog.append(ApprovalRequested(run_id=run_id, plan_count=len(plans)))
    elif next_node is None:
        ctx.runlog.append(
            RunFinished(
                run_id=run_id,
                status=outcome.status,
                proposal_id=outcome.proposal_id,
                report_path=outcome.report_path,
                tokens=outcome.tokens,
            )
        )
    return outcome


async def start_run(
    graph: Graph,
    ctx: RunContext,
    *,
    run_id: str,
    question: str,
    run_dir: Path,
    workspace: Path,
    workspace_commit: str | None = None,
    workspace_dirty: bool | None = None,
    revises: int | None = None,
) -> RunOutcome:
    """Start a new run (thread ``run_id``) and drive it until it ends or pauses for an approval.

    ``revises`` names the proposal this run revises (a reviewer's ``ara review revise``): the run's proposal
    is linked to it (``parent_id``), which supersedes it if it is still open.

    Raises:
        AssistantError: empty or too long question (before any model call), budget exhausted, model output invalid
            after retries, ...
    """
    text = validate_question(question)
    _append(
        ctx,
        RunStarted(
            run_id=run_id,
            question=text,
            model=ctx.llm.model,
            base_url=ctx.llm.base_url,
            code_mode=ctx.code_mode,
            budget=ctx.budget.model_dump(),
            workspace_commit=workspace_commit,
            workspace_dirty=workspace_dirty,
        ),
        run_id,
    )
    state = initial_state(run_id, text, str(run_dir), str(workspace))
    if revises is not None:
        state["revises"] = revises
    return await _drive(graph, state, ctx, run_id)


async def load_state(graph: Graph, run_id: str) -> tuple[dict[str, Any], str | None, list[Any]]:
    """The checkpointed values, next node and pending interrupts of ``run_id``.

    Raises:
        RunNotFoundError: no checkpoint for that id.
        CheckpointVersionError: written by an incompatible version.
    """
    snapshot = await graph.aget_state(_config(run_id))
    if not snapshot.values:
        raise RunNotFoundError(
            f"no checkpoint for run {run_id!r} in this workspace; list runs with 'ara runs list' "
            "(or pass --workspace).",
            title="Unknown run",
        )
    values = dict(snapshot.values)
    check_schema_version(values, run_id)
    return values, (snapshot.next[0] if snapshot.next else None), list(snapshot.interrupts)


async def resume_run(graph: Graph, ctx: RunContext, run_id: str, *, approval: Approval | None = None) -> RunOutcome:
    """Continue ``run_id`` from its last checkpoint; ``approval`` answers a pending plan approval.

    A finished run is returned as it is. A pending approval with no ``approval`` and no policy returns
    ``awaiting_approval`` again.
    """
    values, next_node, interrupts = await load_state(graph, run_id)
    if next_node is None:
        return _outcome(run_id, values, None, ())
    _append(ctx, RunResumed(run_id=run_id, next_node=next_node), run_id)
    if interrupts and approval is not None:
        command: Command[Any] = Command(resume={interrupts[0].id: approval.model_dump(mode="json")})
        return await _drive(graph, command, ctx, run_id)
    if interrupts and ctx.policy_approval() is None:
        return _outcome(run_id, values, next_node, _plans(interrupts[0].value))
    return await _drive(graph, None, ctx, run_id)
