"""Fixtures for the paper-library tests: one shared MiniLM embedder, small real files (PDFs made here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tools.embeddings import MiniLMEmbedder
from tools.papers import LibraryConfig, PaperLibrary


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    """The real offline MiniLM (int8 ONNX), loaded once for the session."""
    return MiniLMEmbedder(batch_size=32)


@pytest.fixture
def make_library(tmp_path: Path, embedder: MiniLMEmbedder) -> Callable[..., PaperLibrary]:
    """Open a library in its own directory under tmp_path."""

    def make(name: str = "papers", **config: object) -> PaperLibrary:
        return PaperLibrary.open(tmp_path / name, LibraryConfig(**config), embedder=embedder)  # type: ignore[arg-type]

    return make
