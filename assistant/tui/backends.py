"""The seam between the TUI and everything that does work: runs, papers, proposals.

Covers the Protocols the app calls from its workers (``RunDriver``, ``RunHistory``, ``PapersBackend``,
``ReviewBackend``) and the small records that cross them (``CellOutput``, ``OpenedRun``, ``ProposalSummary``,
``ProposalDetail``). Widgets
never call these: screens post a request, the app runs it in a Textual worker (a thread), and results come back
as past-tense messages (``assistant.tui.messages``). Does not cover the real implementations over the graph, the
paper library or the review module (``assistant.tui.adapters``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from assistant.events import Event
from assistant.runhistory import RunListing
from assistant.schemas import Approval, RunOutcome
from tools.results import Table

__all__ = [
    "CellOutput",
    "Emit",
    "OpenedRun",
    "PaperHit",
    "PapersBackend",
    "ProposalDetail",
    "ProposalSummary",
    "ResultTable",
    "ReviewBackend",
    "RunDriver",
    "RunHistory",
    "RunListing",
    "RunOutcome",
]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResultTable(_Record):
    """A results.json table (``tools.results.Table``) with its cells as display strings."""

    columns: tuple[str, ...]
    """Column names."""
    rows: tuple[tuple[str, ...], ...]
    """Rows, each as long as ``columns``."""

    @classmethod
    def of(cls, table: Table) -> ResultTable:
        """The display form of a validated results table."""
        return cls(columns=tuple(table.columns), rows=tuple(tuple(_cell(v) for v in row) for row in table.rows))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


class CellOutput(_Record):
    """Text a running cell printed (a chunk of its stdout or stderr), or an artefact it wrote."""

    run_id: str
    """The run."""
    index: int
    """Cell index."""
    stream: Literal["stdout", "stderr", "display", "figure", "table"] = "stdout"
    """Where the text came from: the cell's streams, a value it displayed (``Out[n]``, markdown, JSON), a figure
    (an image it displayed, or one named in results.json), or a results.json table."""
    text: str
    """The text (may hold many lines); for a figure or table, its name."""
    path: str | None = None
    """The file behind a figure or table (absolute), shown as a link; figures are drawn by the figures viewer."""
    table: ResultTable | None = None
    """The table's contents, for ``table`` outputs."""


Emit = Callable[[Event | CellOutput], None]
"""Called by a driver (from its worker thread) for every event and output chunk, in order."""


class RunDriver(Protocol):
    """Runs the research loop for the TUI. Every method blocks; the app calls them inside a thread worker."""

    def start(self, question: str, emit: Emit) -> RunOutcome:
        """Start a run for ``question`` and drive it until it pauses for approval or ends."""
        ...

    def resume(self, run_id: str, approval: Approval | None, emit: Emit) -> RunOutcome:
        """Continue ``run_id``: with the user's ``approval`` after a plan pause, or from its last checkpoint."""
        ...

    def cancel(self, run_id: str) -> None:
        """Ask ``run_id`` to stop at the next safe point (between nodes or cells); called from the UI thread."""
        ...


class OpenedRun(_Record):
    """A past run read back from disk, as the Runs pane replays it."""

    listing: RunListing
    """Its summary (status, tokens, proposal, report)."""
    items: tuple[Event | CellOutput, ...]
    """Its events, each followed by what it points at (a cell's output, results tables, figures), in the order
    a live run would have emitted them."""


class RunHistory(Protocol):
    """The runs of the workspace as stored on disk (``assistant.runhistory`` via an adapter)."""

    def list(self) -> Sequence[RunListing]:
        """Runs with a run log, newest first."""
        ...

    def open(self, run_id: str) -> OpenedRun:
        """One run's events and outputs, to replay on the Runs pane."""
        ...

    def report(self, run_id: str) -> str:
        """The run's Markdown report (raises ``FileNotFoundError`` when it has none yet)."""
        ...


class PaperHit(Protocol):
    """A search result (``tools.papers.Hit`` fits)."""

    @property
    def key(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def year(self) -> int | None: ...
    @property
    def anchor(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def score(self) -> float: ...


class PapersBackend(Protocol):
    """The paper library as the Papers screen uses it (``tools.papers.PaperLibrary`` via an adapter)."""

    def search(self, query: str, k: int) -> Sequence[PaperHit]:
        """Hybrid search; chunk text included."""
        ...

    def add(self, paths: Sequence[str]) -> str:
        """Ingest files or folders; returns a one-line summary of what was added and what failed."""
        ...

    def stats(self) -> dict[str, Any]:
        """Counts to show (papers, chunks, by kind...)."""
        ...


class ProposalSummary(_Record):
    """One row of the proposal list."""

    id: int
    """Proposal id."""
    title: str
    """Summary line."""
    status: str
    """``open``, ``approved``, ``rejected``, ..."""
    branch: str
    """``ara/<run_id>/<slug>``."""
    run_id: str = ""
    """The run that made it."""


class ProposalDetail(_Record):
    """What the Review screen shows for one proposal. The diff is read lazily (it can be megabytes)."""

    summary: ProposalSummary
    """The list row."""
    report: str
    """The report's Markdown (empty when none)."""
    results: dict[str, Any]
    """Key metrics, name -> value."""
    citations: tuple[str, ...]
    """Citation keys the report uses (``paper_id#chunk_id``), with titles when known."""
    diff_bytes: int | None = None
    """Size of the diff when known (for the truncation note)."""


class ReviewBackend(Protocol):
    """Proposal review as the TUI uses it; decisions are made with the reviewer's identity through channel ``tui``."""

    def list(self) -> Sequence[ProposalSummary]:
        """Proposals, newest first."""
        ...

    def show(self, proposal_id: int) -> ProposalDetail:
        """Report, results and citations of one proposal."""
        ...

    def diff(self, proposal_id: int) -> Iterator[str]:
        """The proposal's diff against the main line, as text chunks (read lazily, stop any time)."""
        ...

    def approve(self, proposal_id: int, comment: str) -> str:
        """Merge the proposal as the human reviewer; returns a one-line result (e.g. the merge commit)."""
        ...

    def reject(self, proposal_id: int, comment: str) -> str:
        """Reject with a comment (fed back to the agent); returns a one-line result."""
        ...
