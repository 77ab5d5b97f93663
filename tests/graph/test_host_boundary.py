"""The host's side of the run directory with in-process kernels: the layout, the progress watchdog, and what the
host does when its own files are replaced by a link or a FIFO (a process outside the sandbox, or rlimit-only mode).

The same attacks from inside a real bwrap kernel are in tests/graph/test_host_attacks.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from assistant.budget import Budget
from assistant.errors import AssistantError
from assistant.events import CellExecuted, RunFailed
from assistant.graph.runner import RunStalledError
from assistant.graph.session import SessionDeps
from assistant.llm.testing import ScriptedLLM
from assistant.runlog import events_of, read_events
from tests.graph.conftest import (
    InProcessPool,
    analysis,
    brief,
    critique,
    make_context,
    plans,
    start_in_memory,
    tool_choice,
)
from tests.graph.test_cli import QUESTION as SMOKE_QUESTION
from tests.graph.test_cli import ara
from tools.vcs import Workspace

QUESTION = "Does dividing one by two give one half?"


@pytest.mark.anyio
async def test_the_kernel_writes_work_and_the_host_keeps_the_rest(workspace: Workspace) -> None:
    script = ScriptedLLM(replies=[brief([]), tool_choice(), plans(config={"denominator": 4}), analysis(), critique()])
    run = workspace.new_run("layout")
    pool = InProcessPool()
    ctx = make_context(script.client(), workspace, run.path, pool=pool)
    outcome = await start_in_memory(ctx, run, workspace, QUESTION)
    assert outcome.status == "done", outcome
    top = sorted(p.name for p in run.path.iterdir())
    assert {"cells", "config.json", "events.jsonl", "report.md", "results.json", "run.json", "work"} <= set(top)
    assert sorted(p.name for p in (run.path / "work").iterdir()) == ["config.json", "results.json"]
    host = json.loads((run.path / "results.json").read_text())
    assert host["verification"]["note"] == "self-reported by the experiment code, not verified by the host"
    [proposal] = workspace.list_proposals()
    committed = workspace.changed_paths(proposal.base_commit, proposal.head_commit)
    assert f"runs/{run.run_id}/events.jsonl" in committed
    assert not [p for p in committed if p.startswith(f"runs/{run.run_id}/work/")], "the kernel's scratch stays out"


@pytest.mark.anyio
async def test_a_node_that_makes_no_progress_is_ended_by_the_watchdog(workspace: Workspace) -> None:
    script = ScriptedLLM(replies=[brief([]), tool_choice(), plans(config={"denominator": 4})])
    run = workspace.new_run("stall")
    ctx = make_context(script.client(), workspace, run.path, pool=InProcessPool(slow_marker="1 / 4"))
    ctx.stall_s = 1.0  # the in-process "kernel" waits two minutes on that cell without a word
    with pytest.raises(RunStalledError) as caught:
        await asyncio.wait_for(start_in_memory(ctx, run, workspace, QUESTION), 60)
    message = caught.value.message
    assert message.startswith(f"run {run.run_id} made no progress for ")
    assert "(in node run_cells, after CellStarted; the limit is 1 s) and was stopped" in message
    assert message.endswith(f"resume with: ara resume {run.run_id}")
    assert caught.value.title == "Run stalled"
    [failed] = events_of(read_events(run.events_path), RunFailed)
    assert (failed.error, failed.message) == ("RunStalledError", message)


def test_a_fifo_named_events_jsonl_fails_the_command_instead_of_hanging_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = {"n_samples": 300, "strong_model": "logreg", "seeds": [0]}
    script = ScriptedLLM(
        replies=[brief([]), plans(recipe="synthetic_w2s", config=config)]  # a smoke test: no tool-choice call
    )
    deps = SessionDeps(llm=script.client(), kernels=InProcessPool())
    code, out, _ = ara(capsys, "run", SMOKE_QUESTION, "--json", deps=deps)
    assert code == 0, out
    run_id = json.loads(out)["run_id"]
    log = tmp_path / "workspace" / "runs" / run_id / "events.jsonl"
    log.unlink()
    os.mkfifo(log)
    result: list[tuple[int, str, str]] = []
    worker = threading.Thread(
        target=lambda: result.append(ara(capsys, "resume", run_id, "--approve", "1", deps=deps)), daemon=True
    )
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "ara resume blocked on the FIFO"
    [(code, out, err)] = result
    assert code == 2
    assert f"run {run_id}: the run log cannot be written: {log} is a FIFO; ara appends only" in err
    assert stat.S_ISFIFO(log.lstat().st_mode), "left as it was for the user to remove"


@pytest.mark.anyio
async def test_a_cell_file_replaced_by_a_link_is_not_quoted_to_the_model(workspace: Workspace, tmp_path: Path) -> None:
    """Outside the sandbox (rlimit-only mode, another local process) the host's own cells/ could be touched."""
    secret = tmp_path / "hidden_labels.csv"
    secret.write_text("id,label\n1,positive\n")
    script = ScriptedLLM(
        replies=[brief([]), tool_choice(), plans(config={"denominator": 0}, open_fields=["denominator"])]
    )
    run = workspace.new_run("leak")
    ctx = make_context(script.client(), workspace, run.path, budget=Budget(debug_attempts=1))
    original = ctx.runlog.append

    def swap_after_the_failure(event: object) -> None:
        original(event)  # type: ignore[arg-type]
        if isinstance(event, CellExecuted) and event.status == "error":
            cell = run.path / "cells" / "00.py"
            cell.unlink()
            cell.symlink_to(secret)

    ctx.runlog.append = swap_after_the_failure  # type: ignore[method-assign]
    with pytest.raises(AssistantError) as caught:
        await start_in_memory(ctx, run, workspace, QUESTION)
    assert caught.value.title == "A research tool failed"
    assert "cells/00.py is a symbolic link; ara reads only regular files" in caught.value.message
    assert len(script.requests) == 3, "the debug prompt was never sent"
    assert "positive" not in run.events_path.read_text()
    assert secret.read_text() == "id,label\n1,positive\n"


def test_the_run_log_never_appends_through_a_link(tmp_path: Path) -> None:
    from assistant.events import ResultsRead
    from assistant.runlog import RunLog
    from tools.runfiles import RunFileError

    bashrc = tmp_path / "home" / ".bashrc"
    bashrc.parent.mkdir()
    bashrc.write_text("# user's shell setup\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.jsonl").symlink_to(bashrc)
    event = ResultsRead(run_id="r", path="results.json", metrics=["pgr;$(touch PWNED)"])
    with pytest.raises(RunFileError, match=r"events\.jsonl is a symbolic link; ara appends only to a regular file"):
        RunLog(run / "events.jsonl").append(event)
    assert bashrc.read_text() == "# user's shell setup\n"
    (run / "events.jsonl").unlink()
    RunLog(run / "events.jsonl").append(event)
    [line] = (run / "events.jsonl").read_text().splitlines()
    assert json.loads(line)["metrics"] == ["pgr;$(touch PWNED)"], "a metric name is data inside a JSON string"
