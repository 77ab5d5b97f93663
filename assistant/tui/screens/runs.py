"""The Runs pane: the live view of the current run.

Covers the status line (node, tokens, cells, time against budget), the cell table and a bounded output log (a run
that prints 10,000 lines keeps only the last ``MAX_LOG_LINES``), with cancel (c) and resume (r) posted as
messages. Figures are shown as file links (no inline image protocol is used). Does not cover running anything.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Log

from assistant.events import CellExecuted, CellStarted, Event
from assistant.tui.backends import CellOutput
from assistant.tui.widgets.run_status import RunState, RunStatusBar

MAX_LOG_LINES = 2_000
"""Lines of cell output kept in the log widget; older lines scroll away (the run dir keeps all)."""
MAX_LINE_CHARS = 2_000
"""Longest line written to the log; longer ones are cut with a marker."""


class RunsPane(Vertical):
    """Status, cells and output of the current run."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cancel", "Cancel run"),
        Binding("r", "resume", "Resume run"),
    ]

    class CancelRequested(Message):
        """The user asked to cancel the current run."""

    class ResumeRequested(Message):
        """The user asked to resume the current (failed or stopped) run."""

    def compose(self) -> ComposeResult:
        yield RunStatusBar(id="run-status", classes="pane-title")
        table: DataTable[str | Text] = DataTable(id="cells", cursor_type="row", zebra_stripes=True)
        yield table
        yield Log(max_lines=MAX_LOG_LINES, id="run-log")

    def on_mount(self) -> None:
        table = self.cells
        table.add_columns("#", "status", "time", "error")
        self.query_one(RunStatusBar).show(RunState())

    @property
    def cells(self) -> DataTable[str | Text]:
        """The cell table."""
        return self.query_one("#cells", DataTable)

    @property
    def log_widget(self) -> Log:
        """The bounded output log."""
        return self.query_one("#run-log", Log)

    def reset(self) -> None:
        """Clear cells and output for a new run."""
        self.cells.clear()
        self.log_widget.clear()

    def show_state(self, state: RunState) -> None:
        """Redraw the status line."""
        self.query_one(RunStatusBar).show(state)

    def show_event(self, event: Event) -> None:
        """Update the cell table for cell events."""
        table = self.cells
        if isinstance(event, CellStarted):
            key = str(event.index)
            if key not in {str(k.value) for k in table.rows}:
                table.add_row(str(event.index), "running", "", "", key=key)
        elif isinstance(event, CellExecuted):
            key = str(event.index)
            style = "green" if event.status == "ok" else "red"
            cells: tuple[str | Text, ...] = (
                str(event.index),
                Text(event.status + (" (reused)" if event.reused else ""), style=style),
                f"{event.duration_s:.1f}s",
                (event.error or "")[:80],
            )
            if key in {str(k.value) for k in table.rows}:
                for column, value in zip(table.columns, cells, strict=True):
                    table.update_cell(key, column, value)
            else:
                table.add_row(*cells, key=key)

    def show_output(self, output: CellOutput) -> None:
        """Append a cell's output to the log; figures and tables become links to their files."""
        log = self.log_widget
        if output.stream in ("figure", "table"):
            log.write_line(f"[cell {output.index}] {output.stream}: file://{output.text}")
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
