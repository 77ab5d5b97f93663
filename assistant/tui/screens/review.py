"""The Review pane: proposals, and one proposal's report, diff, results and citations; approve or reject.

Covers the proposal table, the tabs of the selected proposal (the diff is paged lazily through ``DiffView``), and
the keys a (approve), x (reject), m (more diff), g (reload list), posted as messages; the app asks for a comment
and records the decision with the reviewer's identity. Does not cover the decision itself (``assistant.review``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Markdown, Static, TabbedContent, TabPane

from assistant.tui.backends import ProposalDetail, ProposalSummary
from assistant.tui.widgets.diff_view import DiffView

REPORT_LIMIT = 200_000
"""Characters of a report rendered as Markdown; longer reports are cut with a note."""


class ReviewPane(Vertical):
    """Proposal list + detail tabs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "decide('approve')", "Approve"),
        Binding("x", "decide('reject')", "Reject"),
        Binding("m", "more_diff", "More diff"),
        Binding("g", "reload", "Reload"),
    ]

    class ProposalSelected(Message):
        """The user opened a proposal."""

        def __init__(self, proposal_id: int) -> None:
            super().__init__()
            self.proposal_id = proposal_id

    class DecisionRequested(Message):
        """The user pressed approve or reject on the open proposal."""

        def __init__(self, proposal_id: int, decision: str) -> None:
            super().__init__()
            self.proposal_id = proposal_id
            self.decision = decision

    class MoreDiffRequested(Message):
        """The user asked for the next page of the diff."""

        def __init__(self, proposal_id: int) -> None:
            super().__init__()
            self.proposal_id = proposal_id

    class ReloadRequested(Message):
        """The user asked to re-read the proposal list."""

    def __init__(self, *, id: str | None = None, no_color: bool = False) -> None:
        super().__init__(id=id)
        self.no_color = no_color
        self.proposals: list[ProposalSummary] = []
        self.current: ProposalDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static("proposals", id="review-title", classes="pane-title")
        table: DataTable[str] = DataTable(id="proposals", cursor_type="row", zebra_stripes=True)
        yield table
        with TabbedContent(id="review-tabs"):
            with TabPane("Report", id="tab-report"), VerticalScroll():
                yield Markdown("", id="review-report")
            with TabPane("Diff", id="tab-diff"):
                yield DiffView(id="review-diff", no_color=self.no_color)
            with TabPane("Results", id="tab-results"):
                results: DataTable[str] = DataTable(id="review-results", cursor_type="row")
                yield results
            with TabPane("Citations", id="tab-citations"), VerticalScroll():
                yield Static("", id="review-citations")

    def on_mount(self) -> None:
        self.query_one("#proposals", DataTable).add_columns("id", "status", "title", "branch")
        self.query_one("#review-results", DataTable).add_columns("metric", "value")

    def show_list(self, proposals: Sequence[ProposalSummary]) -> None:
        """Replace the proposal table."""
        self.proposals = list(proposals)
        table: DataTable[str] = self.query_one("#proposals", DataTable)
        table.clear()
        for p in self.proposals:
            table.add_row(str(p.id), p.status, p.title[:40], p.branch, key=str(p.id))
        waiting = sum(1 for p in self.proposals if p.status == "open")
        self.query_one("#review-title", Static).update(
            Text(f"proposals: {len(self.proposals)} ({waiting} open) - enter opens, a approves, x rejects")
        )

    @on(DataTable.RowSelected, "#proposals")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.ProposalSelected(int(event.row_key.value)))

    def show_detail(self, detail: ProposalDetail) -> None:
        """Show one proposal's report, results and citations; the diff arrives in pages."""
        self.current = detail
        report = detail.report or "_no report in this proposal_"
        if len(report) > REPORT_LIMIT:
            report = report[:REPORT_LIMIT] + f"\n\n_report cut at {REPORT_LIMIT:,} characters_"
        self.query_one("#review-report", Markdown).update(report)
        results: DataTable[str] = self.query_one("#review-results", DataTable)
        results.clear()
        for name, value in sorted(detail.results.items()):
            results.add_row(name, str(value))
        citations = "\n".join(detail.citations) or "no citations"
        self.query_one("#review-citations", Static).update(Text(citations))
        self.query_one(DiffView).reset(detail.summary.id)

    def action_decide(self, decision: str) -> None:
        if self.current is None:
            self.app.notify("open a proposal first (select it and press enter)", severity="warning")
            return
        self.post_message(self.DecisionRequested(self.current.summary.id, decision))

    def action_more_diff(self) -> None:
        view = self.query_one(DiffView)
        if view.proposal_id is not None and view.can_load_more:
            self.post_message(self.MoreDiffRequested(view.proposal_id))

    def action_reload(self) -> None:
        self.post_message(self.ReloadRequested())
