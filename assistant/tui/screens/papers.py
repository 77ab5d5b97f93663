"""The Papers pane: search the library, read the chunk text of a hit, add files, see library counts.

Covers the query line (``add PATH [PATH...]`` ingests instead of searching), the hit table, the chunk text of the
highlighted hit and the stats line. Requests go out as messages; the app runs them in a worker. Does not cover
the library itself (``tools.papers``).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from assistant.tui.backends import PaperHit


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

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.hits: list[PaperHit] = []

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
