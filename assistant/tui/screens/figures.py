"""The figures viewer: a run's figures drawn inline where the terminal can, else listed as links.

Covers ``FiguresScreen`` (opened with ``f`` on the Runs pane): one entry per figure with its name and ``file://``
link, the figure drawn with the protocol chosen at start (``assistant.tui.images``) once a worker has decoded it,
and a clear line instead of the image for a figure that cannot be shown (missing, not an image, too large). Figures
are decoded one after another off the event loop, so a large one never blocks keys. Does not cover choosing the
protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from PIL import Image as PILImage
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import get_current_worker

from assistant.tui.backends import CellOutput
from assistant.tui.images import FigureError, Protocol, image_widget, load_figure

MAX_FIGURES_SHOWN = 24
"""Newest figures drawn; older ones are listed as links only (each drawn figure costs memory and render time)."""


class FiguresScreen(ModalScreen[None]):
    """The current run's figures."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f,q", "close", "Close")]

    class FigureLoaded(Message):
        """A figure was decoded (``image``) or failed to (``error``)."""

        def __init__(self, slot: int, image: PILImage.Image | None, error: str | None) -> None:
            super().__init__()
            self.slot, self.image, self.error = slot, image, error

    def __init__(self, figures: list[CellOutput], protocol: Protocol | None) -> None:
        super().__init__(classes="modal")
        self.figures = figures
        self.protocol = protocol

    def compose(self) -> ComposeResult:
        drawn = set(range(max(0, len(self.figures) - MAX_FIGURES_SHOWN), len(self.figures)))
        with Vertical(id="figures-box", classes="modal-box"):
            yield Static(Text(self._title(), style="bold"), id="figures-title")
            with VerticalScroll(id="figures-scroll"):
                for slot, figure in enumerate(self.figures):
                    caption = Text(f"{figure.text}  ", style="bold")
                    caption.append(f"file://{figure.path}", style=f"link file://{figure.path}")
                    yield Static(caption, classes="figure-caption")
                    if self.protocol is not None and slot in drawn:
                        yield Static(Text("decoding...", style="dim"), id=f"figure-{slot}", classes="figure-slot")

    def _title(self) -> str:
        count = f"{len(self.figures)} figure{'s' if len(self.figures) != 1 else ''}"
        if self.protocol is None:
            return f"{count} (inline images are off here: open the links; ara tui --images halfcell forces them)"
        shown = min(len(self.figures), MAX_FIGURES_SHOWN)
        return f"{count}, newest {shown} drawn with {self.protocol} (escape closes)"

    def on_mount(self) -> None:
        self.query_one("#figures-scroll", VerticalScroll).focus()
        if self.protocol is not None:
            first = max(0, len(self.figures) - MAX_FIGURES_SHOWN)
            self._decode([(slot, Path(self.figures[slot].path or "")) for slot in range(first, len(self.figures))])

    @work(thread=True, exclusive=True, group="figures")
    def _decode(self, slots: list[tuple[int, Path]]) -> None:
        """Decode the figures one after another in one thread (not one thread each: bounded CPU and memory)."""
        worker = get_current_worker()
        for slot, path in slots:
            if worker.is_cancelled:
                return
            try:
                self.post_message(self.FigureLoaded(slot, load_figure(path), None))
            except FigureError as exc:
                self.post_message(self.FigureLoaded(slot, None, str(exc)))

    async def on_figures_screen_figure_loaded(self, message: FigureLoaded) -> None:
        placeholder = self.query_one(f"#figure-{message.slot}", Static)
        if message.image is None or self.protocol is None:
            placeholder.update(Text(f"cannot show: {message.error}", style="red"))
            return
        await placeholder.remove()
        scroll = self.query_one("#figures-scroll", VerticalScroll)
        caption = scroll.query(".figure-caption")[message.slot]
        await scroll.mount(image_widget(self.protocol, message.image, id=f"figure-{message.slot}"), after=caption)

    def action_close(self) -> None:
        self.dismiss(None)
