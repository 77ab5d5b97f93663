"""Test doubles for the TUI's Protocols: a scripted run driver and fixed paper/review backends.

Covers ``ScriptedDriver`` (replays a fixed run: a plan on ``start``, then cells with output after approval; fixed
timestamps and ids so SVG snapshots are stable; an optional per-cell delay for the benchmark), ``FakePapers``,
``FakeReview`` and ``write_past_runs`` (three finished, paused and failed runs written to a workspace's ``runs/``
in the real on-disk format, through ``RunLog`` and ``RunFiles``, with fixed ids and times). Used by the TUI tests, ``bench/tui.py`` and the README screenshots, like
``assistant.llm.testing`` is for the LLM. Nothing here talks to the graph, the library or git.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.events import (
    ApprovalRequested,
    CellExecuted,
    CellStarted,
    Event,
    LLMCalled,
    NodeFinished,
    NodeStarted,
    PlanApproved,
    PlanProposed,
    ProposalCreated,
    ReportWritten,
    RunFailed,
    RunFinished,
    RunResumed,
    RunStarted,
)
from assistant.runlog import RunLog
from assistant.schemas import Approval, ExperimentPlan
from assistant.tui.backends import CellOutput, Emit, ProposalDetail, ProposalSummary, RunOutcome
from tools.runfiles import RunFiles

RUN_ID = "01JTESTRUN0000000000000000"
T0 = 1_790_000_000.0
PLAN = ExperimentPlan(
    title="Weak-to-strong on synthetic data",
    hypothesis="A strong student trained on weak labels recovers part of the gap.",
    method="Train the weak teacher, label the transfer set, train the student, compute PGR.",
    recipe="synthetic_w2s",
    config={"n_train": 2000},
    citations=["arxiv:2312.09390#c1"],
)
PLANS = (
    PLAN,
    PLAN.model_copy(
        update={
            "title": "Weak-to-strong with an auxiliary confidence loss",
            "method": "As plan 1, with the auxiliary confidence loss on the student.",
            "config": {"n_train": 2000, "aux_loss": True},
        }
    ),
    PLAN.model_copy(
        update={
            "title": "Weak-to-strong, small transfer set",
            "method": "As plan 1, with a quarter of the transfer set.",
            "config": {"n_train": 500},
        }
    ),
)
"""Three plans for the tests of choosing among plans."""


@dataclass
class ScriptedDriver:
    """A ``RunDriver`` that replays fixed events: ``plans`` on ``start``, ``cells`` cells after approval."""

    plans: tuple[ExperimentPlan, ...] = (PLAN,)
    cells: int = 2
    lines_per_cell: int = 3
    approvals: list[Approval | None] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    gate: threading.Event | None = None
    cell_delay_s: float = 0.0
    figures: dict[str, str] = field(default_factory=dict)
    """Figures (name -> file) announced after the cells, as ``GraphRunDriver`` does once results.json is read."""

    def start(self, question: str, emit: Emit) -> RunOutcome:
        budget: dict[str, float | int | None] = {"tokens": 20000, "cells": 20, "wall_s": 3600.0, "debug_attempts": 3}
        emit(
            RunStarted(
                run_id=RUN_ID,
                ts=T0,
                question=question,
                model="scripted",
                base_url="x",
                code_mode="recipe",
                budget=budget,
            )
        )
        emit(NodeStarted(run_id=RUN_ID, ts=T0 + 1, node="propose_experiments"))
        emit(
            LLMCalled(
                run_id=RUN_ID,
                ts=T0 + 2,
                node="propose_experiments",
                kind="structured",
                model="scripted",
                messages=[],
                response="{}",
                prompt_tokens=900,
                completion_tokens=334,
                duration_s=1.0,
            )
        )
        emit(PlanProposed(run_id=RUN_ID, ts=T0 + 3, plans=[p.model_dump() for p in self.plans]))
        return RunOutcome(run_id=RUN_ID, status="awaiting_approval", plans=self.plans)

    def resume(self, run_id: str, approval: Approval | None, emit: Emit) -> RunOutcome:
        self.approvals.append(approval)
        if approval is not None and approval.decision == "reject":
            return RunOutcome(run_id=run_id, status="rejected", failure="plan rejected")
        emit(RunResumed(run_id=run_id, ts=T0 + 4, next_node="write_code"))
        emit(NodeStarted(run_id=run_id, ts=T0 + 5, node="run_cells"))
        for index in range(self.cells):
            if self.gate is not None:
                self.gate.wait(10)
            if self.cell_delay_s:
                time.sleep(self.cell_delay_s)
            emit(CellStarted(run_id=run_id, ts=T0 + 6 + index, key=f"{run_id}:cell:{index:02d}", index=index))
            text = "\n".join(f"epoch {line} loss {1.0 / (line + 1):.3f}" for line in range(self.lines_per_cell))
            emit(CellOutput(run_id=run_id, index=index, text=text))
            emit(
                CellExecuted(
                    run_id=run_id,
                    ts=T0 + 7 + index,
                    key=f"{run_id}:cell:{index:02d}",
                    index=index,
                    status="ok",
                    duration_s=1.5,
                )
            )
        for name, path in self.figures.items():
            emit(CellOutput(run_id=run_id, index=-1, stream="figure", text=name, path=path))
        emit(RunFinished(run_id=run_id, ts=T0 + 42, status="done", proposal_id="1", tokens=5120))
        return RunOutcome(run_id=run_id, status="done", proposal_id="1", tokens=5120, cells=1)

    def cancel(self, run_id: str) -> None:
        self.cancelled.append(run_id)


@dataclass(frozen=True)
class FakeHit:
    """A search hit with the fields the Papers pane shows."""

    key: str
    title: str
    year: int | None
    anchor: str
    text: str
    score: float


@dataclass
class FakePapers:
    """A ``PapersBackend`` with fixed hits; records calls."""

    hits: list[FakeHit] = field(
        default_factory=lambda: [
            FakeHit(
                "arxiv:2312.09390#c1",
                "Weak-to-strong generalization",
                2023,
                "Introduction",
                "We study whether weak model supervision can elicit the full capabilities of a much stronger model.",
                0.91,
            ),
            FakeHit(
                "arxiv:2212.03827#c4",
                "Discovering latent knowledge",
                2022,
                "Method",
                "Contrast-consistent search finds a direction in activation space.",
                0.72,
            ),
        ]
    )
    queries: list[str] = field(default_factory=list)
    added: list[list[str]] = field(default_factory=list)

    def search(self, query: str, k: int) -> Sequence[FakeHit]:
        self.queries.append(query)
        return self.hits[:k]

    def add(self, paths: Sequence[str]) -> str:
        self.added.append(list(paths))
        return f"added {len(paths)} paper(s)"

    def stats(self) -> dict[str, Any]:
        return {"papers": 2, "chunks": 17, "by_kind": {"pdf": 1, "bibtex": 1}}


@dataclass
class FakeReview:
    """A ``ReviewBackend`` with one proposal whose diff has ``diff_chars`` characters; counts chunks read."""

    diff_chars: int = 400
    chunks_read: int = 0
    decisions: list[tuple[int, str, str]] = field(default_factory=list)

    def list(self) -> Sequence[ProposalSummary]:
        status = {"approve": "approved", "reject": "rejected"}[self.decisions[-1][1]] if self.decisions else "open"
        return [
            ProposalSummary(
                id=1, title="W2S synthetic: PGR 0.41", status=status, branch=f"ara/{RUN_ID}/w2s", run_id=RUN_ID
            )
        ]

    def show(self, proposal_id: int) -> ProposalDetail:
        return ProposalDetail(
            summary=self.list()[0],
            report="# Weak-to-strong\n\nPGR is **0.41** (CI 0.30-0.52) [arxiv:2312.09390#c1].",
            results={"pgr": 0.41, "student.acc": 0.83},
            citations=("arxiv:2312.09390#c1",),
        )

    def diff(self, proposal_id: int) -> Iterator[str]:
        line = "+print('hello weak-to-strong')\n"
        header = f"diff --git a/runs/{RUN_ID}/cell.py b/runs/{RUN_ID}/cell.py\n@@ -0,0 +1 @@\n"
        body = header + line * max(0, (self.diff_chars - len(header)) // len(line))
        for start in range(0, len(body), 1 << 16):
            self.chunks_read += 1
            yield body[start : start + (1 << 16)]

    def approve(self, proposal_id: int, comment: str) -> str:
        self.decisions.append((proposal_id, "approve", comment))
        return "merged as abc123"

    def reject(self, proposal_id: int, comment: str) -> str:
        self.decisions.append((proposal_id, "reject", comment))
        return "rejected"


PAST_RUNS = ("01JTHSTRY00000000000000001", "01JTHSTRY00000000000000003", "01JTHSTRY00000000000000002")
"""Ids of the runs ``write_past_runs`` makes: finished with a proposal, paused at plan approval, failed."""
PAST_REPORT = "# Weak-to-strong on synthetic data\n\nPGR is **0.41** (CI 0.30-0.52) [arxiv:2312.09390#c1].\n"


def _llm_call(run_id: str, ts: float, node: str) -> LLMCalled:
    return LLMCalled(
        run_id=run_id,
        ts=ts,
        node=node,
        kind="structured",
        model="scripted",
        messages=[],
        response="{}",
        prompt_tokens=900,
        completion_tokens=334,
        duration_s=1.0,
    )


def write_past_runs(workspace: Path, now: float = T0) -> list[Path]:
    """Write three runs into ``workspace/runs`` as the research loop leaves them: one done (a cell, its output,
    a report and proposal 1), one paused at plan approval, one failed. Returns their directories."""
    budget: dict[str, float | int | None] = {"tokens": 20000, "cells": 20, "wall_s": 3600.0, "debug_attempts": 3}
    done, waiting, failed = PAST_RUNS
    questions = {
        done: "Does a strong student trained on weak labels beat its teacher?",
        waiting: "Does the auxiliary confidence loss raise PGR?",
        failed: "Do linear probes find truth directions in layer 6?",
    }
    starts = {done: now - 3 * 86400, waiting: now - 2 * 3600, failed: now - 86400}
    paths: list[Path] = []
    for run_id in PAST_RUNS:
        t = starts[run_id]
        path = workspace / "runs" / run_id
        events: list[Event] = [
            RunStarted(
                run_id=run_id,
                ts=t,
                question=questions[run_id],
                model="scripted",
                base_url="x",
                code_mode="recipe",
                budget=budget,
            ),
            NodeStarted(run_id=run_id, ts=t + 1, node="propose_experiments"),
            _llm_call(run_id, t + 2, "propose_experiments"),
            NodeFinished(run_id=run_id, ts=t + 3, node="propose_experiments", duration_s=2.0, tokens=1234),
        ]
        if run_id == failed:
            events.append(
                RunFailed(
                    run_id=run_id,
                    ts=t + 4,
                    error="StructuredOutputError",
                    message=f"the model gave no valid plan; resume with: ara resume {run_id}",
                )
            )
        else:
            events += [
                PlanProposed(run_id=run_id, ts=t + 4, plans=[p.model_dump() for p in PLANS[:2]]),
                ApprovalRequested(run_id=run_id, ts=t + 5, plan_count=2),
            ]
        if run_id == done:
            key = f"{run_id}:cell:00"
            events += [
                PlanApproved(run_id=run_id, ts=t + 60, reviewer="ada", decision="approve", plan_title=PLAN.title),
                NodeStarted(run_id=run_id, ts=t + 61, node="run_cells"),
                CellStarted(run_id=run_id, ts=t + 62, key=key, index=0),
                CellExecuted(run_id=run_id, ts=t + 70, key=key, index=0, status="ok", duration_s=8.0),
                _llm_call(run_id, t + 80, "write_report"),
                ReportWritten(run_id=run_id, ts=t + 81, path=f"runs/{run_id}/report.md", verified=True),
                ProposalCreated(
                    run_id=run_id, ts=t + 82, proposal_id="1", branch=f"ara/{run_id}/w2s", commit="abc1234"
                ),
                RunFinished(
                    run_id=run_id,
                    ts=t + 83,
                    status="done",
                    proposal_id="1",
                    report_path=f"runs/{run_id}/report.md",
                    tokens=2468,
                ),
            ]
            with RunFiles(path, create=True) as files:
                files.write_json(
                    "cells/00.result.json",
                    {"stdout": "epoch 0 loss 1.000\nPGR 0.41", "stderr": "", "outputs": [], "traceback": None},
                )
                files.write_text("report.md", PAST_REPORT)
        log = RunLog(path / "events.jsonl", fsync=False)
        for event in events:
            log.append(event)
        paths.append(path)
    return paths
