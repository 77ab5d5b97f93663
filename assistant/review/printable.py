"""The printable filter: model-written text and diffs made safe to put on a reviewer's terminal.

Covers escaping every C0 control byte except newline and tab (ESC, BEL, backspace, carriage return...), DEL,
every C1 control (U+0080-U+009F, including the single-character CSI U+009B and OSC U+009D), bidirectional
overrides and isolates (which reorder what a reader sees, "Trojan Source"), and bytes that are not UTF-8. Each
is replaced by a visible escape such as ``\\x1b`` or ``\\u202e``, so a diff cannot clear the screen, retitle the
window, hide lines or fake a prompt. A streamed diff is decoded incrementally, so a character split across
two chunks is kept whole. Does not cover layout (``assistant.cli.review``) or what Textual shows in the TUI.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every terminal control character (bar newline and tab) shown as a visible escape."""
    return _UNSAFE.sub(_escape, text)


def printable_stream(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decode a byte stream as UTF-8 (invalid bytes become ``\\xNN``) and escape control characters."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="backslashreplace")
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield printable(text)
    tail = decoder.decode(b"", final=True)
    if tail:
        yield printable(tail)
