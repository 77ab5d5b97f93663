"""The run header: current node, tokens, cells and time against the run's budget.

Covers ``RunState`` (what the app has learnt about the current run from its events) and ``RunStatusBar`` which
draws it. Does not cover the cell list or output log (``assistant.tui.screens.runs``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.text import Text
from textual.widget import Widget

from assistant.events import (
    BudgetExhausted,
    CellExecuted,
    CellStarted,
    Event,
    LLMCalled,
    NodeFinished,
    NodeStarted,
    ProposalCreated,
    RunFailed,
    RunFinished,
    RunResumed,
    RunStarted,
)


@dataclass
class RunState:
    """The live view of one run, folded from its events."""

    run_id: str = ""
    question: str = ""
    node: str = ""
    status: str = "idle"
    tokens: int = 0
    cells: int = 0
    started: float | None = None
    ended: float | None = None
    budget: dict[str, float | int | None] = field(default_factory=dict)
    last_error: str = ""
    proposal_id: str | None = None
    """The change proposal the run made, once made."""

    def apply(self, event: Event) -> None:
        """Fold one event into the state."""
        if isinstance(event, RunStarted):
            self.run_id, self.question, self.budget = event.run_id, event.question, dict(event.budget)
            self.started, self.status, self.tokens, self.cells = event.ts, "running", 0, 0
            self.ended, self.proposal_id = None, None
        elif isinstance(event, RunResumed):
            self.run_id, self.status, self.ended = event.run_id, "running", None
            self.started = self.started or event.ts
        elif isinstance(event, NodeStarted):
            self.node = event.node
        elif isinstance(event, LLMCalled):
            self.tokens += event.prompt_tokens + event.completion_tokens
        elif isinstance(event, NodeFinished) and not self.tokens:
            self.tokens += event.tokens
        elif isinstance(event, CellStarted):
            self.node = f"run_cells #{event.index}"
        elif isinstance(event, CellExecuted):
            self.cells += 1
        elif isinstance(event, BudgetExhausted):
            self.status, self.last_error, self.ended = "budget_exhausted", event.detail, event.ts
        elif isinstance(event, RunFailed):
            self.status, self.last_error, self.ended = "failed", f"{event.error}: {event.message}", event.ts
        elif isinstance(event, ProposalCreated):
            self.proposal_id = event.proposal_id
        elif isinstance(event, RunFinished):
            self.status, self.ended = event.status, event.ts
            self.tokens = max(self.tokens, event.tokens)
            self.proposal_id = event.proposal_id or self.proposal_id

    def elapsed(self) -> float:
        """Seconds the run has been going (frozen once it ended; 0 when idle)."""
        if self.started is None:
            return 0.0
        return (self.ended or time.time()) - self.started

    def line(self) -> str:
        """The status as one plain line (also used by ``/budget``)."""
        if not self.run_id:
            return "no run open: open a past one on Runs (F3, enter), or start one with /run <question> in Chat"
        tokens_cap = self.budget.get("tokens")
        cells_cap = self.budget.get("cells")
        wall_cap = self.budget.get("wall_s")
        tokens = f"{self.tokens:,}/{tokens_cap:,}" if tokens_cap else f"{self.tokens:,}/-"
        cells = f"{self.cells}/{cells_cap}" if cells_cap else f"{self.cells}/-"
        wall = f"{self.elapsed():.0f}s/{wall_cap:.0f}s" if wall_cap else f"{self.elapsed():.0f}s/-"
        return f"{self.run_id} {self.status} node={self.node or '-'} tokens={tokens} cells={cells} time={wall}"


class RunStatusBar(Widget):
    """The run's status, on a fixed-height line (``#run-status`` in the stylesheet).

    Redrawing only repaints this widget: a ``Static.update`` would ask for a layout of the whole screen, and the
    status changes with every batch of run events.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = Text()

    def render(self) -> Text:
        return self._text

    def show(self, state: RunState) -> None:
        """Redraw from ``state``."""
        style = {"failed": "bold red", "budget_exhausted": "bold yellow", "done": "bold green"}.get(state.status, "")
        self._text = Text(state.line(), style=style)
        self.refresh()
