"""Test doubles for the TUI's Protocols: a scripted run driver and fixed paper/review backends.

Covers ``ScriptedDriver`` (replays a fixed run: a plan on ``start``, then cells with output after approval; fixed
timestamps and ids so SVG snapshots are stable; an optional per-cell delay for the benchmark), ``FakePapers`` and
``FakeReview``. Used by the TUI tests, ``bench/tui.py`` and the README screenshots, like
``assistant.llm.testing`` is for the LLM. Nothing here talks to the graph, the library or git.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.events import (
    CellExecuted,
    CellStarted,
    LLMCalled,
    NodeStarted,
    PlanProposed,
    RunFinished,
    RunResumed,
    RunStarted,
)
from assistant.schemas import Approval, ExperimentPlan
from assistant.tui.backends import CellOutput, Emit, ProposalDetail, ProposalSummary, RunOutcome

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


@dataclass
class ScriptedDriver:
    """A ``RunDriver`` that replays fixed events: a plan on ``start``, ``cells`` cells after approval."""

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
        emit(PlanProposed(run_id=RUN_ID, ts=T0 + 3, plans=[PLAN.model_dump()]))
        return RunOutcome(run_id=RUN_ID, status="awaiting_approval", plans=(PLAN,))

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
