"""The workspace's paper library opened from settings: one place for its path and its configuration.

Covers ``library_config`` (settings -> ``tools.papers.LibraryConfig``, chunk size included, so papers added from the
CLI, the TUI or a campaign are chunked alike) and ``open_library``. Every caller (``ara papers``, ``ara report``,
the research loop's ``RunSession``, the TUI's Papers pane) opens the library here. Does not cover what callers do
with it.
"""

from __future__ import annotations

import os
from pathlib import Path

from assistant.errors import AssistantError
from assistant.paths import PROJECT_ROOT, ensure_state_dir, state_dir
from assistant.settings import Settings
from tools.papers import LibraryConfig, PaperLibrary

CHARS_PER_WORD_PIECE = 1.35
"""Word pieces per word that MiniLM's tokenizer produces on English prose (chunk size is set in tokens)."""


def library_path(settings: Settings) -> Path:
    """``<workspace>/.ara/papers``."""
    return state_dir(settings.workspace) / "papers"


def arxiv_index_path(configured: Path | None) -> Path | None:
    """The arXiv id -> title index imports are checked against: the setting, else the shared corpus's, if present.

    Raises:
        AssistantError: the configured file does not exist.
    """
    if configured is not None:
        if not configured.is_file():
            raise AssistantError(
                f"papers.arxiv_index is {configured}, which does not exist; point it at an arXiv id -> title JSON "
                "index (e.g. corpus/arxiv_id_title_index.json) or remove the setting",
                title="arXiv index missing",
            )
        return configured
    shared = Path(os.environ.get("ARA_SHARED") or PROJECT_ROOT.parent / "shared")
    candidate = shared / "corpus" / "arxiv_id_title_index.json"
    return candidate if candidate.is_file() else None


def library_config(settings: Settings) -> LibraryConfig:
    """The library's configuration from ``settings.papers`` (chunk size, batch size, the arXiv index)."""
    return LibraryConfig(
        embedding_batch_size=settings.papers.embedding_batch_size,
        chunk_words=max(16, int(settings.papers.chunk_tokens / CHARS_PER_WORD_PIECE)),
        arxiv_index=arxiv_index_path(settings.papers.arxiv_index),
    )


def open_library(settings: Settings, *, create: bool = False) -> PaperLibrary | None:
    """The workspace's paper library; None when it does not exist and ``create`` is False."""
    if not create and not library_path(settings).is_dir():
        return None
    return PaperLibrary.open(ensure_state_dir(settings.workspace, "papers"), library_config(settings))
