"""Inline images in the TUI: which terminal graphics protocol to draw figures with, and loading a figure safely.

Covers choosing a protocol (``choose_protocol``: ``auto`` asks the terminal for Sixel, then the Kitty graphics
protocol, then falls back to coloured half cells on any terminal; ``off``, no terminal, or ``NO_COLOR`` with only
half cells available mean figures are shown as ``file://`` links only), building the widget for a protocol
(``image_widget``, from ``textual-image``) and ``load_figure``, which opens a run's figure with a clear error for a
missing, unreadable, non-image or oversized file and shrinks it to what a terminal can show.

The terminal query must happen before Textual owns the terminal (``textual-image`` writes escape sequences and reads
the answer from stdin), so ``ara tui`` calls ``choose_protocol`` before ``App.run``. Does not cover where figures
come from (``assistant.tui.adapters``) or the screen that shows them (``assistant.tui.screens.figures``).
"""

from __future__ import annotations

import io
import stat
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from tools.runfiles import RunFileError, read_file

if TYPE_CHECKING:
    from textual.widget import Widget

ImageMode = Literal["auto", "sixel", "tgp", "halfcell", "off"]
"""What the user asked for (``ara tui --images``)."""
Protocol = Literal["sixel", "tgp", "halfcell"]
"""How a figure is drawn: Sixel graphics, the Kitty terminal graphics protocol, or coloured half-cell characters."""
IMAGE_MODES: tuple[ImageMode, ...] = ("auto", "sixel", "tgp", "halfcell", "off")

MAX_FIGURE_PIXELS = 40_000_000
"""Largest figure (width x height) opened; bigger files are refused rather than decoded into memory."""
MAX_FIGURE_BYTES = 64 * 1024 * 1024
"""Largest figure file opened."""
SHOWN_SIZE = (1600, 1200)
"""Figures are shrunk to fit this box before drawing: a terminal never shows more, and Sixel encoding is slow."""


class FigureError(Exception):
    """A figure that cannot be shown; the message says which file, why, and what to do."""


def choose_protocol(mode: ImageMode, *, is_tty: bool, no_color: bool) -> Protocol | None:
    """The protocol figures are drawn with, or None for links only.

    Args:
        mode: ``auto`` asks the terminal (only when ``is_tty``); a protocol name forces it; ``off`` disables.
        is_tty: Whether stdout is a terminal (no terminal: nothing to draw on, and nothing to ask).
        no_color: ``NO_COLOR`` is set: half cells are nothing but colour, so they are not used; Sixel and the Kitty
            protocol draw the figure's own pixels and still are.
    """
    if mode == "off":
        return None
    if mode != "auto":
        return mode
    if not is_tty:
        return None
    # Importing the renderables queries the terminal once (0.1 s timeouts) and picks the best class.
    from textual_image.renderable import HalfcellImage, SixelImage, TGPImage
    from textual_image.renderable import Image as Detected

    if Detected is SixelImage:
        return "sixel"
    if Detected is TGPImage:
        return "tgp"
    if Detected is HalfcellImage and not no_color:
        return "halfcell"
    return None


def image_widget(protocol: Protocol, image: PILImage.Image, *, id: str | None = None) -> Widget:
    """A Textual widget drawing ``image`` with ``protocol``."""
    from textual_image.widget import HalfcellImage, SixelImage, TGPImage

    widget: Widget
    if protocol == "sixel":
        widget = SixelImage(image, id=id, classes="figure-image")
    elif protocol == "tgp":
        widget = TGPImage(image, id=id, classes="figure-image")
    else:
        widget = HalfcellImage(image, id=id, classes="figure-image")
    return widget


def load_figure(path: Path) -> PILImage.Image:
    """Open the figure at ``path``, decoded and shrunk to ``SHOWN_SIZE``, as RGB(A).

    Raises:
        FigureError: the file is missing, unreadable, too large, not an image, or truncated.
    """
    what = f"figure {path}"
    try:
        info = path.lstat()
    except OSError as exc:
        raise FigureError(
            f"{what} cannot be read ({exc.strerror or exc}); the run may have been moved or cleaned"
        ) from exc
    if not stat.S_ISREG(info.st_mode):
        raise FigureError(f"{what} is not a file (a folder, link or special file); open the run folder instead")
    size = info.st_size
    if size > MAX_FIGURE_BYTES:
        raise FigureError(
            f"{what} is {size / 2**20:.0f} MiB (more than {MAX_FIGURE_BYTES // 2**20} MiB); open the link instead"
        )
    try:
        data = read_file(path, limit=MAX_FIGURE_BYTES)
    except RunFileError as exc:
        raise FigureError(f"{what} is not shown: {exc}") from exc
    except OSError as exc:
        raise FigureError(
            f"{what} cannot be read ({exc.strerror or exc}); the run may have been moved or cleaned"
        ) from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                if width * height > MAX_FIGURE_PIXELS:
                    raise FigureError(
                        f"{what} is {width}x{height} pixels (more than {MAX_FIGURE_PIXELS:,}); open the link instead"
                    )
                opened.draft("RGB", SHOWN_SIZE)  # JPEG decoders can skip detail we would throw away
                image = opened.convert("RGBA" if opened.mode in ("RGBA", "LA", "P") else "RGB")
    except FigureError:
        raise
    except (UnidentifiedImageError, PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise FigureError(f"{what} is not an image this viewer can open ({exc}); open the link instead") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise FigureError(f"{what} could not be decoded ({exc}); the file may be truncated: open the link") from exc
    image.thumbnail(SHOWN_SIZE)
    return image
