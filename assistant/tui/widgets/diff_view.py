"""A lazy, bounded, syntax-highlighted diff view for proposals that can be megabytes long.

Covers showing the diff a page at a time (``append_page``) with Pygments' diff highlighting through Rich, and a
note saying how much is shown and how to load more. Only pages the reviewer asks for are read; the whole view
is capped (``max_chars``) so a 5 MB diff never lands in the widget at once. Does not cover reading the diff
(the app's review worker does).
"""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

PAGE_CHARS = 64_000
"""Characters read per page."""
MAX_CHARS = 1_000_000
"""Most characters ever held by one view; past this the reviewer is told to use ``ara review diff``."""


class DiffView(VerticalScroll):
    """Pages of a diff, highlighted, with a footer note."""

    def __init__(self, *, id: str | None = None, no_color: bool = False) -> None:
        super().__init__(id=id)
        self.no_color = no_color
        self.shown_chars = 0
        self.more = False
        self.proposal_id: int | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static("", id="diff-note", classes="dim")

    def reset(self, proposal_id: int) -> None:
        """Clear the view for another proposal."""
        self.proposal_id = proposal_id
        self.shown_chars = 0
        self.more = False
        for page in self.query(".diff-page"):
            page.remove()
        self.query_one("#diff-note", Static).update("loading diff...")

    @property
    def can_load_more(self) -> bool:
        """True when the diff has unread text and the cap is not reached."""
        return self.more and self.shown_chars < MAX_CHARS

    def append_page(self, text: str, more: bool) -> None:
        """Add one page and update the note."""
        self.shown_chars += len(text)
        self.more = more
        if text:
            body = Text(text) if self.no_color else Syntax(text, "diff", theme="ansi_dark", word_wrap=False)
            self.mount(Static(body, classes="diff-page"), before="#diff-note")
        if not self.shown_chars:
            note = "no changes"
        elif not more:
            note = f"end of diff ({self.shown_chars:,} characters)"
        elif self.shown_chars >= MAX_CHARS:
            note = f"showing the first {self.shown_chars:,} characters; run 'ara review show' for the full diff"
        else:
            note = f"showing the first {self.shown_chars:,} characters; press m for more"
        self.query_one("#diff-note", Static).update(note)
