"""The Runs pane: the live view of the current run.

Covers the status line (node, tokens, cells, time against budget), the cell table and a bounded output log (a run
that prints 10,000 lines keeps only the last ``MAX_LOG_LINES``), with cancel (c) and resume (r) posted as
messages, and the run's figures, each a ``file://`` link in the log and drawn inline by the figures viewer (f,
``assistant.tui.screens.figures``). Does not cover running anything.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Log, OptionList
from textual.widgets.option_list import Option

from assistant.events import CellExecuted, CellStarted, Event
from assistant.tui.backends import CellOutput
from assistant.tui.widgets.run_status import RunState, RunStatusBar

MAX_LOG_LINES = 2_000
"""Lines of cell output kept in the log widget; older lines scroll away (the run dir keeps all)."""
MAX_LINE_CHARS = 2_000
"""Longest line written to the log; longer ones are cut with a marker."""


def cell_row(index: int, status: str, duration_s: float | None, error: str | None) -> Text:
    """One row of the cell list: index, status (green ok, red otherwise), time and error."""
    row = Text(f"{index:>3}  ")
    style = "green" if status.startswith("ok") else ("" if status == "running" else "red")
    row.append(f"{status:<14}", style=style)
    row.append(f"{duration_s:6.1f}s" if duration_s is not None else "       ")
    if error:
        row.append(f"  {error[:60]}")
    return row


class RunsPane(Vertical):
    """Status, cells and output of the current run."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cancel", "Cancel run"),
        Binding("r", "resume", "Resume run"),
        Binding("f", "figures", "Figures"),
    ]

    class CancelRequested(Message):
        """The user asked to cancel the current run."""

    class ResumeRequested(Message):
        """The user asked to resume the current (failed or stopped) run."""

    class FiguresRequested(Message):
        """The user asked to see the run's figures."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: set[str] = set()
        self.figures: list[CellOutput] = []
        """The run's figure outputs, oldest first."""

    def compose(self) -> ComposeResult:
        yield RunStatusBar(id="run-status", classes="pane-title")
        yield OptionList(id="cells")
        yield Log(max_lines=MAX_LOG_LINES, id="run-log")

    def on_mount(self) -> None:
        self.query_one(RunStatusBar).show(RunState())

    @property
    def cells(self) -> OptionList:
        """The cell list (an ``OptionList``: it re-renders only the rows that changed, unlike a ``DataTable``)."""
        return self.query_one("#cells", OptionList)

    @property
    def log_widget(self) -> Log:
        """The bounded output log."""
        return self.query_one("#run-log", Log)

    def reset(self) -> None:
        """Clear cells and output for a new run."""
        self.cells.clear_options()
        self._rows.clear()
        self.figures.clear()
        self.log_widget.clear()

    def show_state(self, state: RunState) -> None:
        """Redraw the status line."""
        self.query_one(RunStatusBar).show(state)

    def show_event(self, event: Event) -> None:
        """Add or update the cell's row for cell events."""
        if isinstance(event, CellStarted):
            self._set_row(event.index, cell_row(event.index, "running", None, None))
        elif isinstance(event, CellExecuted):
            status = event.status + (" (reused)" if event.reused else "")
            self._set_row(event.index, cell_row(event.index, status, event.duration_s, event.error))

    def _set_row(self, index: int, prompt: Text) -> None:
        cells, key = self.cells, f"cell-{index}"
        if key in self._rows:
            cells.replace_option_prompt(key, prompt)
        else:
            self._rows.add(key)
            cells.add_option(Option(prompt, id=key))

    def row_text(self, index: int) -> str:
        """The plain text of cell ``index``'s row (for tests and the status line)."""
        option = self.cells.get_option(f"cell-{index}")
        return str(option.prompt)

    def show_output(self, output: CellOutput) -> None:
        """Append a cell's output to the log; figures and tables become links to their files (f shows figures)."""
        log = self.log_widget
        if output.stream in ("figure", "table"):
            if output.stream == "figure":
                self.figures.append(output)
                hint = " (f draws it)"
            else:
                hint = ""
            log.write_line(f"[{output.stream}] {output.text[:200]}: file://{output.path}{hint}")
            return
        prefix = f"[cell {output.index}{' stderr' if output.stream == 'stderr' else ''}] "
        lines = [
            prefix + (line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " [...cut]")
            for line in output.text.splitlines()
        ]
        log.write_lines(lines[-MAX_LOG_LINES:])

    def action_cancel(self) -> None:
        self.post_message(self.CancelRequested())

    def action_resume(self) -> None:
        self.post_message(self.ResumeRequested())

    def action_figures(self) -> None:
        self.post_message(self.FiguresRequested())
