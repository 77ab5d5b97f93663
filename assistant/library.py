"""The workspace's paper library opened from settings: one place for its path and its configuration.

Covers ``library_config`` (settings -> ``tools.papers.LibraryConfig``, chunk size included, so papers added from the
CLI, the TUI or a campaign are chunked alike) and ``open_library``. Every caller (``ara papers``, ``ara report``,
the research loop's ``RunSession``, the TUI's Papers pane) opens the library here. Does not cover what callers do
with it.
"""

from __future__ import annotations

from pathlib import Path

from assistant.paths import ensure_state_dir, state_dir
from assistant.settings import Settings
from tools.papers import LibraryConfig, PaperLibrary

CHARS_PER_WORD_PIECE = 1.35
"""Word pieces per word that MiniLM's tokenizer produces on English prose (chunk size is set in tokens)."""


def library_path(settings: Settings) -> Path:
    """``<workspace>/.ara/papers``."""
    return state_dir(settings.workspace) / "papers"


def library_config(settings: Settings) -> LibraryConfig:
    """The library's configuration from ``settings.papers``."""
    return LibraryConfig(
        embedding_batch_size=settings.papers.embedding_batch_size,
        chunk_words=max(16, int(settings.papers.chunk_tokens / CHARS_PER_WORD_PIECE)),
    )


def open_library(settings: Settings, *, create: bool = False) -> PaperLibrary | None:
    """The workspace's paper library; None when it does not exist and ``create`` is False."""
    if not create and not library_path(settings).is_dir():
        return None
    return PaperLibrary.open(ensure_state_dir(settings.workspace, "papers"), library_config(settings))
