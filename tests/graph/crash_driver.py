"""A research run in its own process, for the kill -9 test: ``python -m tests.graph.crash_driver WS RUN MODE KILL``.

MODE is ``start`` or ``resume``; KILL is ``cell`` (SIGKILL this process in the middle of the second cell),
``propose`` (SIGKILL right after the proposal commit, before the node's checkpoint), ``slow`` (the second cell
waits two minutes, for a Ctrl-C from the test; the driver then exits 130 like ``ara``) or ``none``. Each cell
execution is appended to ``<run>/executions.log`` before it runs. The model is scripted by schema name.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from assistant.graph import compile_graph, open_checkpointer, resume_run, start_run
from assistant.llm.testing import ScriptedLLM
from tests.graph.conftest import (
    FakeCellResult,
    InProcessPool,
    analysis,
    brief,
    critique,
    make_context,
    plans,
    tool_choice,
)
from tools.vcs import Proposal, Workspace


def reply(body: dict[str, Any]) -> dict[str, Any]:
    system = body["messages"][0]["content"]
    user = body["messages"][-1]["content"]
    if "for ResearchBrief" in system:
        return brief()
    if "for ToolChoice" in system:
        return tool_choice()
    if "for ExperimentPlans" in system:
        return plans(config={"denominator": 0}, open_fields=["denominator"])
    if "for DivideConfig" in system:
        return {"denominator": 2} if "Cell that failed" in user else {"denominator": 0}
    if "for Critique" in system:
        return critique()
    return analysis()


class KillingWorkspace(Workspace):
    """Dies right after the proposal is committed (once)."""

    def propose(self, *args: Any, **kwargs: Any) -> Proposal:
        proposal = super().propose(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return proposal


async def main(ws_path: str, run_id: str, mode: str, kill: str) -> None:
    ws = (KillingWorkspace if kill == "propose" else Workspace).open(ws_path)
    run = ws.run(run_id)
    log = run.path / "executions.log"

    def record(code: str, n: int) -> FakeCellResult | None:
        with log.open("a") as fh:
            fh.write(f"{code.count('ratio = 1 / 2')}\n")
        if kill == "cell" and "ratio = 1 / 2" in code:
            os.kill(os.getpid(), signal.SIGKILL)
        return None

    script = ScriptedLLM(replies=[reply] * 20)
    slow = "ratio = 1 / 2" if kill == "slow" else None
    ctx = make_context(script.client(), ws, run.path, pool=InProcessPool(override=record, slow_marker=slow))
    async with open_checkpointer(ws.path) as saver:
        graph = compile_graph(saver)
        if mode == "start":
            outcome = await start_run(
                graph,
                ctx,
                run_id=run_id,
                question="Does dividing one by two give one half?",
                run_dir=run.path,
                workspace=ws.path,
            )
        else:
            outcome = await resume_run(graph, ctx, run_id)
    sys.stdout.write(outcome.model_dump_json() + "\n")


if __name__ == "__main__":
    # Behave like ara in a terminal even when the suite runs as a background job, which starts with SIGINT ignored
    # (POSIX shells do that without job control, and Python then leaves Ctrl-C ignored): the test sends one.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        asyncio.run(main(*sys.argv[1:5]))
    except KeyboardInterrupt:
        sys.exit(130)
