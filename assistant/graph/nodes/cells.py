"""run_cells: execute the pending cell in the run's sandboxed kernel, exactly once per (run id, step).

Each cell has an idempotency key ``<run_id>:cell:<index>``; its code and its result are written to
``cells/<index>.py`` and ``cells/<index>.result.json`` (atomically, after the kernel answers). A resumed node that
finds the result file reuses it instead of executing again, so a crash after a cell finished never repeats it; a
crash during a cell leaves no result and the cell runs again (it never finished). After a failure the node decides
where the loop goes: ``debug`` while attempts are left and the error is new, a stop when the same error repeats,
and a resumable ``BudgetExceededError`` when debug attempts or cells run out. A recipe with host steps
(``assistant.recipes.HostSteps``) has them run here, on the host and off the event loop: ``prepare`` before its
cell, ``score`` after it ran ok (again on resume: both are deterministic); a failing host step fails the cell with
a ``HostStepError`` the debug node can act on. The kernel writes only ``runs/<id>/work/`` (``KERNEL_DIR``); cell
records, the run log and the results the loop reads stay in ``runs/<id>/``: a host step scores into it, and a cell
without host steps has its own ``results.json`` adopted as self-reported (``tools.selfreported``); both land in the
experiment's ``host_dir`` (the run directory for the main experiment, ``experiments/<id>/`` for the others), and a
cell that ran ok marks its node of the experiment tree done. Every run file is read and written through
``tools.runfiles``. A run's local kernels get its subject-model proxy (``assistant.subject``) bound in; the proxy is
restarted before a cell if it had stopped, and the tokens its calls spend land in the run's ledger, so this node's
usage counts them. Does not write code.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from langgraph.runtime import Runtime

from assistant.budget import check_budget
from assistant.errors import BudgetExceededError
from assistant.events import CellExecuted, CellStarted
from assistant.graph.context import CellResultLike, RunContext, SessionLike
from assistant.graph.nodes._common import (
    Update,
    is_run_file,
    read_run_json,
    remove_run_file,
    run_dir,
    traced,
    write_atomic,
)
from assistant.graph.state import GraphState
from assistant.graph.tree import PRIMARY, nodes_of, with_status
from assistant.recipes import HostSteps
from assistant.schemas import CellRecord
from assistant.subject import RunProxy
from tools.errors import ToolError
from tools.results import ResultsFileError, read_results, write_document
from tools.runfiles import KERNEL_DIR, RunFiles
from tools.selfreported import adopt_results

log = logging.getLogger(__name__)

OUTPUT_KEEP = 20_000
MAX_RICH_OUTPUTS = 50
"""Rich outputs (displayed images, ``Out[n]`` values, JSON) kept per cell in its result file; later ones dropped."""


def cell_key(run_id: str, index: int) -> str:
    """The idempotency key of a cell."""
    return f"{run_id}:cell:{index:02d}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value)
    return str(value)


def _rich_output(output: Any, run_path: Path | None) -> dict[str, Any]:
    """One rich output as JSON: kind, and its text, JSON value (capped) or image path relative to the run."""
    kind = str(getattr(output, "kind", "text/plain"))
    entry: dict[str, Any] = {"kind": kind}
    text = getattr(output, "text", None)
    if text is not None:
        entry["text"] = str(text)[:OUTPUT_KEEP]
    path = getattr(output, "path", None)
    if path is not None:
        path = Path(path)
        entry["path"] = str(path.relative_to(run_path)) if run_path and path.is_relative_to(run_path) else str(path)
    data = getattr(output, "data", None)
    if data is not None:
        dumped = json.dumps(data, default=str)
        entry["data" if len(dumped) <= OUTPUT_KEEP else "text"] = (
            data if len(dumped) <= OUTPUT_KEEP else dumped[:OUTPUT_KEEP] + " [...cut]"
        )
    return entry


def normalise(result: CellResultLike, run_path: Path | None = None) -> dict[str, Any]:
    """A kernel's ``CellResult`` as a JSON-able dict (status, stdout, stderr, error, traceback, rich outputs).

    Rich outputs are what the cell displayed (``display_data`` / ``execute_result``): images the kernel saved under
    the run directory (their paths are stored relative to ``run_path``), text and markdown values, JSON.
    """
    name = getattr(result, "error_name", None) or getattr(result, "ename", None)
    value = getattr(result, "error_value", None) or getattr(result, "evalue", None)
    status = str(result.status)
    error = f"{name}: {value}" if name else (None if status == "ok" else status)
    return {
        "status": status,
        "stdout": _text(result.stdout)[-OUTPUT_KEEP:],
        "stderr": _text(result.stderr)[-OUTPUT_KEEP:],
        "error": error,
        "traceback": _text(getattr(result, "traceback", None))[-OUTPUT_KEEP:],
        "outputs": [
            _rich_output(o, run_path) for o in tuple(getattr(result, "outputs", None) or ())[:MAX_RICH_OUTPUTS]
        ],
    }


_VOLATILE = re.compile(r"0x[0-9a-f]+|line \d+|\d+\.\d+")


def error_signature(status: str, error: str | None) -> str:
    """A hash of the failure with addresses and numbers removed (equal for a repeated identical error)."""
    text = _VOLATILE.sub("#", f"{status}|{error or ''}")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _wall_left(ctx: RunContext, state: GraphState, spent: float) -> float:
    """Seconds of the run's wall budget left, counting ``spent`` seconds already used in this node."""
    return ctx.budget.wall_s - state.get("wall_used_s", 0.0) - spent


async def _acquire(ctx: RunContext, state: GraphState, directory: Path) -> SessionLike:
    """The run's kernel session; local sandboxed kernels get the run's subject-model proxy bound in."""
    if ctx.subject is not None and ctx.subject.binds(ctx.kernels):
        run = _subject_run(ctx, state)
        session = await ctx.subject.acquire(ctx.kernels, directory / KERNEL_DIR, run)
        if session is not None:
            return cast(SessionLike, session)
    return await ctx.kernels.acquire(directory / KERNEL_DIR)


def _subject_run(ctx: RunContext, state: GraphState) -> RunProxy:
    """The run's proxy, started (or restarted when it had stopped), its meter brought up to the run's usage."""
    assert ctx.subject is not None
    run = ctx.subject.for_run(state["run_id"], ctx.budget, ctx.llm.ledger, ctx.runlog)
    run.meter.base = state.get("tokens_used", 0) - ctx.node_tokens_start
    return run


async def _execute(ctx: RunContext, state: GraphState, code: str, spent: float = 0.0) -> dict[str, Any]:
    directory = run_dir(state)
    session = ctx.sessions.get(str(directory))
    if session is None:
        RunFiles(directory).sub(KERNEL_DIR, create=True).close()
        session = await _acquire(ctx, state, directory)
        ctx.sessions[str(directory)] = session
    elif ctx.subject is not None and ctx.subject.binds(ctx.kernels):
        _subject_run(ctx, state)
    remaining = _wall_left(ctx, state, spent)
    started = time.perf_counter()
    result = normalise(await session.execute(code, max(1.0, min(ctx.cell_timeout_s, remaining))), directory)
    result["duration_s"] = time.perf_counter() - started
    return result


HOST_STEP_ERRORS = (ValueError, TypeError, RuntimeError, ToolError, OSError)
"""Failures of a host step, reported as the cell's error for debug (UserInputError is a ValueError; missing
dependencies are RuntimeErrors; a malformed submission fails np.load with ValueError): the host steps run our code
on a config the model wrote, so such errors are about that config or its data, not a reason to end the run."""

_DIR_LOCKS: dict[str, threading.Lock] = {}
_DIR_LOCKS_GUARD = threading.Lock()


def _directory_lock(directory: Path) -> threading.Lock:
    """One lock per run directory: a host step abandoned after a timeout finishes before the next one starts, so
    its late writes can never land over a newer step's files."""
    with _DIR_LOCKS_GUARD:
        return _DIR_LOCKS.setdefault(str(directory), threading.Lock())


def _host_steps(ctx: RunContext, pending: dict[str, Any]) -> tuple[HostSteps, Any] | None:
    """The pending cell's recipe host steps with its validated config, or None (free code, no host steps)."""
    if not pending.get("recipe") or "config" not in pending:
        return None  # free code, or a cell rendered before recipes had host steps (it runs as it was written)
    recipe = ctx.recipes.get(pending["recipe"])
    if recipe.host is None:
        return None
    return recipe.host, recipe.validate_config(pending.get("config") or {})


async def _in_daemon_thread(call: Callable[[], None], name: str) -> None:
    """Await ``call`` run in a daemon thread.

    Not ``asyncio.to_thread``: on Ctrl-C ``asyncio.run`` joins the default executor, so a long feature extraction
    would hold the terminal until it ended. A daemon thread is abandoned at exit; the step is deterministic and
    runs again on resume.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if done.done():
            return
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    def target() -> None:
        error: BaseException | None = None
        try:
            call()
        except BaseException as err:  # noqa: BLE001 - handed to the awaiting coroutine, which decides
            error = err
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody awaits this step any more
            loop.call_soon_threadsafe(settle, error)

    threading.Thread(target=target, name=name, daemon=True).start()
    await done


async def _host_step(
    ctx: RunContext,
    state: GraphState,
    step: str,
    steps: tuple[HostSteps, Any],
    directory: Path,
    spent: float,
    host_dir: str = ".",
) -> str | None:
    """Run ``prepare`` or ``score`` off the event loop within the run's wall time left (``spent`` seconds of this
    node already counted). ``prepare`` writes into the kernel's directory; ``score`` reads it and writes into
    ``directory/host_dir`` (the experiment's results directory). Returns None when it worked, else the cell's
    error text."""
    host, config = steps
    remaining = max(1.0, _wall_left(ctx, state, spent))
    lock = _directory_lock(directory)
    kernel = directory / KERNEL_DIR
    target = directory / host_dir
    if host_dir != ".":
        RunFiles(directory).sub(host_dir, create=True).close()

    def locked() -> None:
        with lock:
            if step == "prepare":
                host.prepare(config, kernel, ctx.host_cache_dir)
            else:
                host.score(config, kernel, target, ctx.host_cache_dir)

    try:
        await asyncio.wait_for(_in_daemon_thread(locked, f"ara-host-{step}"), remaining)
    except TimeoutError:
        return f"HostStepError: {step} on the host took longer than the {remaining:.0f} s of wall time left"
    except HOST_STEP_ERRORS as err:
        log.warning("host step %s for %s failed: %s", step, directory, err)
        return f"HostStepError: {step} on the host failed: {type(err).__name__}: {err}"
    return None


def _record_wall_time(directory: Path, host_dir: str, times: dict[str, float]) -> str | None:
    """Put the wall time of the host steps and the kernel cell into the scored results' provenance (the tool
    measures only its own step: scoring from cached activations takes seconds of a run whose extraction took
    minutes). ``wall_time_s`` becomes their sum; the tool's own figure is kept as ``tool_wall_time_s``. None when
    it worked, else the cell's error text."""
    path = directory / host_dir / "results.json"
    try:
        document = read_results(path, below=directory)
    except ResultsFileError as err:
        return f"InvalidResults: {err}"
    provenance = dict(document.provenance)
    if "wall_time_s" in provenance:
        provenance["tool_wall_time_s"] = provenance["wall_time_s"]
    provenance["host_steps_s"] = {k: round(v, 3) for k, v in times.items()}
    provenance["wall_time_s"] = round(sum(times.values()), 3)
    write_document(path.parent, document.model_copy(update={"provenance": provenance}))
    return None


def _failed(result: dict[str, Any], error: str) -> dict[str, Any]:
    return {**result, "status": "error", "error": error}


def _adopt(directory: Path, out_dir: str, host_dir: str) -> str | None:
    """Bring a cell's own results.json across from the kernel's ``out_dir`` into the run's ``host_dir``
    (self-reported); None or the error."""
    try:
        if host_dir != ".":
            RunFiles(directory).sub(host_dir, create=True).close()
        adopt_results(directory / KERNEL_DIR, directory / host_dir, out_dir)
    except ResultsFileError as err:
        return f"InvalidResults: {err}"
    return None


@traced("run_cells")
async def run_cells(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Execute (or reuse) the pending cell and choose the next step."""
    ctx = runtime.context
    pending = state.get("pending_code")
    if not pending:
        raise RuntimeError(f"run {state['run_id']}: run_cells reached with no pending cell (a graph bug)")
    index = len(state.get("cells", []))
    key = cell_key(state["run_id"], index)
    directory = run_dir(state)
    code_rel = f"cells/{index:02d}.py"
    result_rel = f"cells/{index:02d}.result.json"
    result_path = directory / result_rel
    reused = is_run_file(directory, result_rel)
    node_started = time.perf_counter()
    host = _host_steps(ctx, pending)
    host_dir = str(pending.get("host_dir") or pending["out_dir"])
    if reused:
        result = read_run_json(directory, result_rel)
    elif pending.get("blocked"):
        write_atomic(directory / code_rel, pending["code"])
        result = {
            "status": "blocked",
            "stdout": "",
            "stderr": "",
            "traceback": "",
            "duration_s": 0.0,
            "error": "Blocked: " + " ".join(pending["blocked"]),
        }
        write_atomic(result_path, json.dumps(result, indent=1))
    else:
        check_budget(ctx.budget, state, about_to="run_cell")
        remove_run_file(directory, f"{host_dir}/results.json")
        remove_run_file(directory / KERNEL_DIR, f"{pending['out_dir']}/results.json")
        write_atomic(directory / code_rel, pending["code"])
        ctx.runlog.append(CellStarted(run_id=state["run_id"], key=key, index=index))
        started = time.perf_counter()
        failure = await _host_step(ctx, state, "prepare", host, directory, 0.0) if host is not None else None
        prepare_s = time.perf_counter() - started
        if failure is None:
            result = await _execute(ctx, state, pending["code"], prepare_s)
            if host is not None:
                result["prepare_s"] = prepare_s
        else:
            result = {"status": "error", "stdout": "", "stderr": "", "traceback": "", "error": failure}
            result["duration_s"] = time.perf_counter() - started
        write_atomic(result_path, json.dumps(result, indent=1))
    if result["status"] == "ok" and host is not None:
        score_started = time.perf_counter()
        failure = await _host_step(ctx, state, "score", host, directory, score_started - node_started, host_dir)
        if failure is not None:
            result = _failed(result, failure)
        else:
            times = {
                "prepare_s": float(result.get("prepare_s", 0.0)),
                "kernel_s": float(result.get("duration_s", 0.0)),
                "score_s": time.perf_counter() - score_started,
            }
            failure = _record_wall_time(directory, host_dir, times)
            if failure is not None:
                result = _failed(result, failure)
    elif result["status"] == "ok":
        failure = _adopt(directory, pending["out_dir"], host_dir)
        if failure is not None:
            result = _failed(result, failure)
    if result["status"] == "ok" and not is_run_file(directory, f"{host_dir}/results.json"):
        result = _failed(result, f"NoResults: the cell wrote no {pending['out_dir']}/results.json")
    ctx.runlog.append(
        CellExecuted(
            run_id=state["run_id"],
            key=key,
            index=index,
            status=result["status"],
            error=result.get("error"),
            duration_s=float(result.get("duration_s", 0.0)),
            reused=reused,
        )
    )
    record = CellRecord(
        index=index,
        key=key,
        source=pending["source"],
        recipe=pending.get("recipe"),
        code_path=code_rel,
        status=result["status"],
        error=result.get("error"),
        duration_s=float(result.get("duration_s", 0.0)),
        experiment=str(pending.get("experiment") or PRIMARY),
    )
    update: Update = {
        "cells": [*state.get("cells", []), record.model_dump(mode="json")],
        "cells_run": state.get("cells_run", 0) + (0 if result["status"] == "blocked" else 1),
        "pending_code": None,
    }
    if result["status"] == "ok":
        if state.get("experiments"):
            ran = pending.get("config") if pending.get("source") == "debug" else None
            update["experiments"] = with_status(state, str(pending.get("experiment") or PRIMARY), "done", ran)
            update["results_path"] = "results.json"  # the run's results (merged across experiments for analysis)
        else:
            update["results_path"] = str(Path(pending["out_dir"]) / "results.json")
        return update
    failed_node = next(
        (n for n in nodes_of(state) if n.id == str(pending.get("experiment") or PRIMARY) and n.role == "follow_up"),
        None,
    )
    if failed_node is not None:
        # a follow-up reruns a config that ran, with more seeds or items: its failure (most often the cell timeout of
        # a doubled sample) is no code bug to debug, and the experiments that ran still answer what they answered
        why = result.get("error") or result["status"]
        update["experiments"] = with_status(state, failed_node.id, "failed")
        update["followup_stop"] = (
            f"Follow-up {failed_node.id} failed ({why}); the report is written from the experiments that ran."
        )
        return update
    signature = error_signature(result["status"], result.get("error"))
    seen = state.get("error_signatures", [])
    update["error_signatures"] = [*seen, signature]
    if signature in seen:
        update["status"] = "failed"
        update["failure"] = (
            f"cell {index} failed with the same error as before ({result.get('error')}); stopped debugging"
        )
        return update
    if state.get("debug_attempts", 0) >= ctx.budget.debug_attempts:
        raise BudgetExceededError(
            f"debug budget exhausted: cell {index} failed ({result.get('error')}) after "
            f"{state.get('debug_attempts', 0)} debug attempts. Resume with ara resume {state['run_id']} --budget debug=N.",
            budget="debug",
        )
    return update
