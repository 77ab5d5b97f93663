"""The Review pane: proposals, and one proposal's report, diff, results and citations; approve or reject.

Covers the proposal table, the tabs of the selected proposal (the diff is paged lazily through ``DiffView``), the
keys a (approve), x (reject), m (more diff), g (reload list), the comment asked before a decision, and the pane's
own thread workers over its ``ReviewBackend`` (list, show, diff pages, decide with the reviewer's identity). A
decision is announced with ``ProposalDecided``, which bubbles to the app. Does not cover the decision itself
(``assistant.review``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Markdown, Static, TabbedContent, TabPane
from textual.worker import Worker

from assistant.tui.backends import ProposalDetail, ProposalSummary, ReviewBackend
from assistant.tui.messages import DiffChunkLoaded, ProposalDecided, ProposalLoaded, ProposalsListed
from assistant.tui.screens.modals import CommentModal
from assistant.tui.widgets.diff_view import PAGE_CHARS, DiffView
from assistant.tui.workers import show_worker_error

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

    def __init__(self, backend: ReviewBackend | None = None, *, id: str | None = None, no_color: bool = False) -> None:
        super().__init__(id=id)
        self.backend = backend
        self.no_color = no_color
        self.proposals: list[ProposalSummary] = []
        self.current: ProposalDetail | None = None
        self._loaded = False
        self._diff_pages: dict[int, Iterator[str]] = {}

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

    def activate(self) -> None:
        """The pane is shown: read the proposal list the first time (and after a decision elsewhere)."""
        if not self._loaded and self.backend is not None:
            self._loaded = True
            self.list_proposals()

    def invalidate(self) -> None:
        """Re-read the proposal list the next time the pane is shown (a run proposed something)."""
        self._loaded = False

    # ------------------------------------------------------------------------------------------ workers
    @on(ReloadRequested)
    def _reload(self) -> None:
        if self.backend is not None:
            self.list_proposals()

    @on(ProposalSelected)
    def _open(self, message: ProposalSelected) -> None:
        if self.backend is not None:
            self.open_proposal(message.proposal_id)

    @on(MoreDiffRequested)
    def _more_diff(self, message: MoreDiffRequested) -> None:
        if message.proposal_id in self._diff_pages:
            self.more_diff(message.proposal_id)

    @on(DecisionRequested)
    def _decide(self, message: DecisionRequested) -> None:
        proposal_id, decision = message.proposal_id, message.decision
        prompt = (
            f"Approve proposal {proposal_id}: merge it into the main line. Comment (optional), enter to confirm:"
            if decision == "approve"
            else f"Reject proposal {proposal_id}: what should the agent change? (required)"
        )

        def confirmed(comment: str | None) -> None:
            if comment is not None:
                self.decide_proposal(proposal_id, decision, comment)

        self.app.push_screen(CommentModal(prompt, required=decision == "reject"), confirmed)

    @work(thread=True, exclusive=True, group="review", exit_on_error=False)
    def list_proposals(self) -> None:
        """Read the proposal list."""
        assert self.backend is not None
        self.post_message(ProposalsListed(self.backend.list()))

    @work(thread=True, exclusive=True, group="review", exit_on_error=False)
    def open_proposal(self, proposal_id: int) -> None:
        """Read one proposal and the first page of its diff."""
        assert self.backend is not None
        detail = self.backend.show(proposal_id)
        self.post_message(ProposalLoaded(detail))
        self._diff_pages[proposal_id] = self.backend.diff(proposal_id)
        self._post_diff_page(proposal_id)

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def more_diff(self, proposal_id: int) -> None:
        """Read the next page of the diff."""
        self._post_diff_page(proposal_id)

    def _post_diff_page(self, proposal_id: int) -> None:
        pages = self._diff_pages[proposal_id]
        parts: list[str] = []
        size = 0
        more = True
        while size < PAGE_CHARS:
            chunk = next(pages, None)
            if chunk is None:
                more = False
                break
            parts.append(chunk)
            size += len(chunk)
        self.post_message(DiffChunkLoaded(proposal_id, "".join(parts), more))

    @work(thread=True, exclusive=True, group="review", exit_on_error=False)
    def decide_proposal(self, proposal_id: int, decision: str, comment: str) -> None:
        """Approve or reject through the review backend (the reviewer's identity, channel ``tui``)."""
        assert self.backend is not None
        if decision == "approve":
            result = self.backend.approve(proposal_id, comment)
        else:
            result = self.backend.reject(proposal_id, comment)
        self.post_message(ProposalDecided(proposal_id, decision, result))
        self.post_message(ProposalsListed(self.backend.list()))

    def on_proposals_listed(self, message: ProposalsListed) -> None:
        self.show_list(message.proposals)

    def on_proposal_loaded(self, message: ProposalLoaded) -> None:
        self.show_detail(message.detail)

    def on_diff_chunk_loaded(self, message: DiffChunkLoaded) -> None:
        view = self.query_one(DiffView)
        if view.proposal_id == message.proposal_id:
            view.append_page(message.text, message.more)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        show_worker_error(self, event)
