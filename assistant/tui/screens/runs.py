"""The Runs pane: the workspace's runs, and the view of the open one (live, or replayed from disk).

Covers the run list (every run on disk, newest first: status, tokens, proposal, question; enter opens one, g
re-reads the list), the status line of the open run (node, tokens, cells, time against budget), the cell table
and a bounded output log (a run that prints 10,000 lines keeps only the last ``MAX_LOG_LINES``) holding each cell's
streams, the values it displayed, and results.json tables laid out in columns (``table_lines``), and the keys that
act on the open run, posted as messages: cancel (c), resume (r), figures (f, each also a ``file://`` link in the
log; ``assistant.tui.screens.figures``), report (v) and proposal (p). Does not cover running or reading anything
(the app's workers do, through ``RunDriver`` and ``RunHistory``).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Log, OptionList, Static
from textual.widgets.option_list import Option

from assistant.events import CellExecuted, CellStarted, Event
from assistant.tui.backends import CellOutput, ResultTable, RunListing
from assistant.tui.widgets.run_status import RunState, RunStatusBar

MAX_LOG_LINES = 2_000
"""Lines of cell output kept in the log widget; older lines scroll away (the run dir keeps all)."""
MAX_LINE_CHARS = 2_000
"""Longest line written to the log; longer ones are cut with a marker."""
MAX_TABLE_ROWS = 20
"""Rows of a results.json table shown in the log (the file has them all)."""
MAX_TABLE_CELL = 24
"""Widest table cell shown; longer values end in ``~``."""


def cell_row(index: int, status: str, duration_s: float | None, error: str | None) -> Text:
    """One row of the cell list: index, status (green ok, red otherwise), time and error."""
    row = Text(f"{index:>3}  ")
    style = "green" if status.startswith("ok") else ("" if status == "running" else "red")
    row.append(f"{status:<14}", style=style)
    row.append(f"{duration_s:6.1f}s" if duration_s is not None else "       ")
    if error:
        row.append(f"  {error[:60]}")
    return row


def listing_row(listing: RunListing, now: float) -> Text:
    """One row of the run list: when, status (coloured), tokens, proposal and the question (one line, cut with an
    ellipsis where the pane is narrower)."""
    row = Text(f"{_age(now - listing.started_at):>4} ", no_wrap=True, overflow="ellipsis")
    style = {"done": "green", "failed": "red", "budget_exhausted": "yellow", "awaiting_approval": "cyan"}
    row.append(f"{listing.status:<17.17}", style=style.get(listing.status, ""))
    row.append(f" {listing.tokens:>7,} tok")
    row.append(f"  #{listing.proposal_id:<3}" if listing.proposal_id else "      ")
    row.append(f" {' '.join(listing.question.split())[:200]}")
    return row


def _age(seconds: float) -> str:
    """A short age: 45s, 12m, 5h, 3d."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size:.0f}{unit}"
    return f"{seconds:.0f}s"


def table_lines(table: ResultTable, max_rows: int = MAX_TABLE_ROWS, max_cell: int = MAX_TABLE_CELL) -> list[str]:
    """A results.json table as aligned text lines: header, rule, the first ``max_rows`` rows, and how many more."""

    if not table.columns:
        return ["(empty table)"]

    def fit(text: str) -> str:
        return text if len(text) <= max_cell else text[: max_cell - 1] + "~"

    shown = [[fit(c) for c in table.columns], *([fit(c) for c in row] for row in table.rows[:max_rows])]
    widths = [max(len(row[i]) for row in shown) for i in range(len(table.columns))]
    numeric = [
        all(_is_number(row[i]) for row in table.rows[:max_rows] if row[i]) and any(row[i] for row in table.rows)
        for i in range(len(table.columns))
    ]

    def line(cells: list[str]) -> str:
        padded = (c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True))
        return "  ".join(padded).rstrip()[:MAX_LINE_CHARS]

    out = [line(shown[0]), "  ".join("-" * w for w in widths)[:MAX_LINE_CHARS]]
    out += [line(row) for row in shown[1:]]
    if len(table.rows) > max_rows:
        out.append(f"... {len(table.rows) - max_rows} more rows in the file")
    if not table.rows:
        out.append("(no rows)")
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class RunsPane(Vertical):
    """The run list, then the status, cells and output of the open run."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cancel", "Cancel run"),
        Binding("r", "resume", "Resume run"),
        Binding("f", "figures", "Figures"),
        Binding("v", "report", "Report"),
        Binding("p", "proposal", "Proposal"),
        Binding("g", "reload", "Reload runs"),
    ]

    class CancelRequested(Message):
        """The user asked to cancel the current run."""

    class ResumeRequested(Message):
        """The user asked to resume the current (failed or stopped) run."""

    class FiguresRequested(Message):
        """The user asked to see the run's figures."""

    class ReportRequested(Message):
        """The user asked to read the open run's report."""

    class ProposalRequested(Message):
        """The user asked to see the open run's change proposal."""

    class ReloadRequested(Message):
        """The user asked to re-read the run list from disk."""

    class OpenRequested(Message):
        """The user chose a run in the list."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: set[str] = set()
        self.figures: list[CellOutput] = []
        """The run's figure outputs, oldest first."""
        self.listings: list[RunListing] = []
        """The runs on disk, newest first, as last read."""

    def compose(self) -> ComposeResult:
        yield Static("runs on disk: not read yet", id="run-list-title", classes="pane-title")
        yield OptionList(id="run-list")
        yield RunStatusBar(id="run-status", classes="pane-title")
        yield OptionList(id="cells")
        yield Log(max_lines=MAX_LOG_LINES, id="run-log")

    def on_mount(self) -> None:
        self.query_one(RunStatusBar).show(RunState())

    @property
    def run_list(self) -> OptionList:
        """The list of runs on disk."""
        return self.query_one("#run-list", OptionList)

    def show_listings(self, listings: list[RunListing], now: float, current: str = "") -> None:
        """Replace the run list (keeping the highlight on ``current`` when it is listed)."""
        self.listings = listings
        runs = self.run_list
        runs.clear_options()
        runs.add_options(Option(listing_row(item, now), id=item.run_id) for item in listings)
        ids = [item.run_id for item in listings]
        if ids:
            runs.highlighted = ids.index(current) if current in ids else 0
        title = (
            f"runs on disk: {len(listings)} - enter opens; r resume, v report, p proposal, g reload"
            if listings
            else "runs on disk: none yet - start one with /run QUESTION in Chat (F2)"
        )
        self.query_one("#run-list-title", Static).update(Text(title))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "run-list" and event.option.id is not None:
            event.stop()
            self.post_message(self.OpenRequested(event.option.id))

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
        """Append a cell's output to the log: streams and displayed values as lines, tables laid out in columns,
        figures as links (f draws them)."""
        log = self.log_widget
        if output.stream == "figure":
            self.figures.append(output)
            where = f"cell {output.index} " if output.index >= 0 else ""
            log.write_line(f"[{where}figure] {output.text[:200]}: file://{output.path} (f draws it)")
            return
        if output.stream == "table":
            log.write_line(f"[table] {output.text[:200]} from file://{output.path}")
            if output.table is not None:
                log.write_lines(["  " + line for line in table_lines(output.table)])
            return
        tag = {"stderr": " stderr", "display": " out"}.get(output.stream, "")
        prefix = f"[cell {output.index}{tag}] "
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

    def action_report(self) -> None:
        self.post_message(self.ReportRequested())

    def action_proposal(self) -> None:
        self.post_message(self.ProposalRequested())

    def action_reload(self) -> None:
        self.post_message(self.ReloadRequested())
