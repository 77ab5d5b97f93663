"""The Chroma vector store of the library: a ``PersistentClient`` collection of chunk vectors with metadata.

Covers writing chunks (our own MiniLM vectors are always passed: Chroma's default embedding function would
download a model, which fails offline), deleting a paper's chunks, and a dense query with Chroma ``where``
filters. ``chromadb`` is imported here only, lazily: importing it costs ~2 s, so the default search path reads
the numpy snapshot instead (``retrieval.py``) and this module serves ingest and the ``chroma`` dense backend.
A store SQLite or chromadb cannot read raises ``LibraryStoreError`` saying to rebuild it from the catalogue
(``ara papers reindex``). Does not cover BM25 or fusion.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tools.papers.models import Chunk, LibraryStoreError, Paper

log = logging.getLogger(__name__)

COLLECTION = "papers"


def chunk_metadata(paper: Paper, chunk: Chunk) -> dict[str, str | int | float | bool]:
    """Chroma metadata of one chunk (scalars only; authors and tags joined with ``; ``)."""
    meta: dict[str, str | int | float | bool] = {
        "paper_id": paper.paper_id,
        "chunk_id": chunk.chunk_id,
        "title": paper.title[:500],
        "section": chunk.section[:200],
        "authors": "; ".join(paper.authors)[:1000],
        "tags": "; ".join(paper.tags)[:1000],
        "source_kind": paper.source_kind,
    }
    if paper.year is not None:
        meta["year"] = paper.year
    if chunk.page is not None:
        meta["page"] = chunk.page
    if paper.arxiv_id:
        meta["arxiv_id"] = paper.arxiv_id
    return meta


_CORRUPT = re.compile(r"code: (11|26)\)|malformed|not a database", re.IGNORECASE)


def damaged(path: Path, err: BaseException) -> LibraryStoreError:
    """The error for a Chroma store at ``path`` that cannot be read, with how to rebuild it."""
    return LibraryStoreError(
        f"the Chroma store {path} cannot be read ({type(err).__name__}: {str(err)[:300]}). It is rebuilt from the "
        "catalogue (library.sqlite) with 'ara papers reindex', which keeps the damaged folder aside. Nothing was "
        "changed.",
        title="Chroma store damaged",
    )


def forget_clients() -> None:
    """Drop chromadb's per-path client cache (a client that failed to open stays broken in it otherwise)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


class ChromaStore:
    """One Chroma collection under ``path``."""

    def __init__(self, path: Path) -> None:
        import chromadb
        from chromadb.config import Settings
        from chromadb.errors import ChromaError

        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        try:
            self._client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
            self._collection = self._client.get_or_create_collection(
                COLLECTION, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
            self._batch = int(self._client.get_max_batch_size())
        except ChromaError as err:
            forget_clients()
            raise damaged(path, err) from err

    @contextmanager
    def _guard(self) -> Iterator[None]:
        from chromadb.errors import ChromaError

        try:
            yield
        except ChromaError as err:
            if not _CORRUPT.search(str(err)):
                raise
            raise damaged(self.path, err) from err

    def count(self) -> int:
        """Chunks stored."""
        with self._guard():
            return int(self._collection.count())

    def delete_papers(self, paper_ids: Sequence[str]) -> None:
        """Remove every chunk of these papers."""
        for start in range(0, len(paper_ids), 500):
            ids: list[str | int | float | bool] = list(paper_ids[start : start + 500])
            where: dict[str, Any] = {"paper_id": {"$in": ids}}
            with self._guard():
                self._collection.delete(where=where)

    def upsert(self, items: Sequence[tuple[Paper, Chunk]], vectors: npt.NDArray[np.float32]) -> None:
        """Write chunks with their vectors, in Chroma's maximum batch size."""
        for start in range(0, len(items), self._batch):
            part = items[start : start + self._batch]
            with self._guard():
                self._collection.upsert(
                    ids=[c.key for _, c in part],
                    embeddings=vectors[start : start + len(part)],
                    metadatas=[chunk_metadata(p, c) for p, c in part],
                    documents=[c.text for _, c in part],
                )

    def query(
        self, vector: npt.NDArray[np.float32], n: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk key, cosine similarity) of the ``n`` nearest chunks passing ``where``."""
        n = min(n, self.count())
        if n == 0:
            return []
        with self._guard():
            result = self._collection.query(
                query_embeddings=vector[None, :], n_results=n, where=where or None, include=["distances"]
            )
        distances = result["distances"] or [[]]
        return [(key, 1.0 - float(d)) for key, d in zip(result["ids"][0], distances[0], strict=True)]
