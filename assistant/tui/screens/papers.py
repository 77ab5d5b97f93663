"""The Papers pane: search the library, read the chunk text of a hit, add files, see library counts.

Covers the query line (``add PATH [PATH...]`` ingests instead of searching), the hit table, the chunk text of the
highlighted hit and the stats line, and the pane's own thread workers over its ``PapersBackend`` (search, ingest,
counts), whose results come back as past-tense messages. Does not cover the library itself (``tools.papers``).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker

from assistant.tui.backends import PaperHit, PapersBackend
from assistant.tui.messages import LibraryStatsLoaded, PapersAdded, PapersFound
from assistant.tui.workers import show_worker_error


class PapersPane(Vertical):
    """Search line, hits, chunk text and stats."""

    class SearchRequested(Message):
        """The user searched."""

        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    class AddRequested(Message):
        """The user asked to ingest files."""

        def __init__(self, paths: list[str]) -> None:
            super().__init__()
            self.paths = paths

    def __init__(self, backend: PapersBackend | None = None, *, top_k: int = 10, id: str | None = None) -> None:
        super().__init__(id=id)
        self.backend = backend
        self.top_k = top_k
        self.hits: list[PaperHit] = []
        self._loaded = False

    def compose(self) -> ComposeResult:
        yield Static("library: not loaded yet", id="papers-stats", classes="pane-title")
        yield Input(placeholder="search the library, or: add PATH [PATH...]", id="papers-query")
        table: DataTable[str] = DataTable(id="papers-hits", cursor_type="row", zebra_stripes=True)
        yield table
        with VerticalScroll(id="papers-chunk-box"):
            yield Static("", id="papers-chunk")

    def on_mount(self) -> None:
        self.query_one("#papers-hits", DataTable).add_columns("#", "score", "year", "title", "where", "key")

    @on(Input.Submitted, "#papers-query")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        raw = event.value.strip()
        if not raw:
            return
        if raw.split(" ", 1)[0] == "add":
            try:
                paths = shlex.split(raw[3:])
            except ValueError as err:
                self.show_note(f"cannot read the paths ({err}); quote paths with spaces")
                return
            if not paths:
                self.show_note("add what? e.g. add ~/papers/ refs.bib")
                return
            self.post_message(self.AddRequested(paths))
        else:
            self.post_message(self.SearchRequested(raw))

    def search(self, query: str) -> None:
        """Fill the query line and search (used by ``/papers QUERY``)."""
        self.query_one("#papers-query", Input).value = query
        self.post_message(self.SearchRequested(query))

    def activate(self) -> None:
        """The pane is shown: read the library counts the first time."""
        if not self._loaded and self.backend is not None:
            self._loaded = True
            self.load_stats()

    # ------------------------------------------------------------------------------------------ workers
    def _backend(self) -> PapersBackend | None:
        if self.backend is None:
            self.app.notify("this app was started without a paper library", severity="error")
        return self.backend

    @on(SearchRequested)
    def _search(self, message: SearchRequested) -> None:
        if self._backend() is not None:
            self.search_papers(message.query)

    @on(AddRequested)
    def _add(self, message: AddRequested) -> None:
        if self._backend() is not None:
            self.show_note(f"adding {len(message.paths)} path(s)... (embedding can take a while)")
            self.add_papers(message.paths)

    @work(thread=True, exclusive=True, group="papers-stats", exit_on_error=False)
    def load_stats(self) -> None:
        """Read library counts."""
        assert self.backend is not None
        self.post_message(LibraryStatsLoaded(self.backend.stats()))

    @work(thread=True, exclusive=True, group="papers", exit_on_error=False)
    def search_papers(self, query: str) -> None:
        """Search the library."""
        assert self.backend is not None
        self.post_message(PapersFound(query, self.backend.search(query, self.top_k)))

    @work(thread=True, exclusive=True, group="papers-add", exit_on_error=False)
    def add_papers(self, paths: list[str]) -> None:
        """Ingest files into the library, then refresh the counts."""
        assert self.backend is not None
        self.post_message(PapersAdded(self.backend.add(paths)))
        self.post_message(LibraryStatsLoaded(self.backend.stats()))

    def on_papers_found(self, message: PapersFound) -> None:
        self.show_hits(message.query, message.hits)

    def on_papers_added(self, message: PapersAdded) -> None:
        self.show_note(message.summary)

    def on_library_stats_loaded(self, message: LibraryStatsLoaded) -> None:
        self.show_stats(message.stats)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        show_worker_error(self, event)

    def show_hits(self, query: str, hits: Sequence[PaperHit]) -> None:
        """Replace the hit table."""
        self.hits = list(hits)
        table: DataTable[str] = self.query_one("#papers-hits", DataTable)
        table.clear()
        for position, hit in enumerate(self.hits, start=1):
            table.add_row(
                str(position), f"{hit.score:.3f}", str(hit.year or ""), hit.title[:60], hit.anchor[:20], hit.key
            )
        if self.hits:
            self._show_chunk(0)
            table.focus()
        else:
            self.query_one("#papers-chunk", Static).update(Text(f"no hits for {query!r}"))

    def _show_chunk(self, row: int) -> None:
        hit = self.hits[row]
        body = Text(f"{hit.title} ({hit.key}, {hit.anchor})\n", style="bold")
        body.append(hit.text)
        self.query_one("#papers-chunk", Static).update(body)

    @on(DataTable.RowHighlighted, "#papers-hits")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.hits):
            self._show_chunk(event.cursor_row)

    def show_stats(self, stats: dict[str, Any]) -> None:
        """Draw the stats line."""
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(dict(stats.get("by_kind") or {}).items()))
        line = f"library: {stats.get('papers', 0)} papers, {stats.get('chunks', 0)} chunks"
        self.query_one("#papers-stats", Static).update(Text(line + (f" ({kinds})" if kinds else "")))

    def show_note(self, note: str) -> None:
        """Show a note in the chunk area."""
        self.query_one("#papers-chunk", Static).update(Text(note))
