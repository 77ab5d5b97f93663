"""The typed citation seam: what resolves a ``paper_id#chunk_id`` key, and an in-memory source of citations.

Covers ``CitationSource`` (the Protocol ``PaperLibrary`` satisfies and the report writer depends on: ``resolve``
returns a ``ResolvedCitation`` or raises ``UnknownCitationError``), ``resolved_citation`` (a record built from
plain metadata, for sources that are not a library) and ``InMemoryCitations`` (a fixed table of resolved
citations: a rebuilt report's snapshot, tests, benchmarks). Does not cover retrieval or storage
(``tools.papers.library``) or identifier checks (``tools.papers.ids``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from tools.papers.ids import normalise_arxiv_id
from tools.papers.models import Chunk, Paper, ResolvedCitation, UnknownCitationError


@runtime_checkable
class CitationSource(Protocol):
    """Anything that resolves citation keys: ``PaperLibrary``, ``InMemoryCitations``."""

    def resolve(self, key: str) -> ResolvedCitation:
        """The paper (and chunk) ``key`` names; raises ``UnknownCitationError`` when it names none."""
        ...


def resolved_citation(
    key: str,
    *,
    title: str,
    year: int | None = None,
    authors: Sequence[str] = (),
    arxiv_id: str | None = None,
    url: str | None = None,
    section: str = "",
    page: int | None = None,
    text: str = "",
    source: str = "(in memory)",
) -> ResolvedCitation:
    """A ``ResolvedCitation`` for ``paper_id#chunk_id`` (or a bare ``paper_id``) from plain metadata.

    Raises:
        ValueError: the key is empty, or its chunk part is not of the ``c<ordinal>`` form a library writes.
    """
    paper_id, sep, chunk_id = key.strip().partition("#")
    if not paper_id:
        raise ValueError(f"citation key {key!r} has no paper id")
    digest = hashlib.sha256(f"{paper_id}\0{title}".encode()).hexdigest()
    paper = Paper(
        paper_id=paper_id,
        title=title,
        authors=tuple(authors),
        year=year,
        arxiv_id=normalise_arxiv_id(arxiv_id) if arxiv_id else None,
        url=url,
        source=source,
        source_kind="text",
        content_hash=digest,
    )
    chunk = None
    if sep:
        if not (chunk_id.startswith("c") and chunk_id[1:].isdigit()):
            raise ValueError(f"citation key {key!r}: chunk ids look like 'c<number>', not {chunk_id!r}")
        chunk = Chunk(
            paper_id=paper_id, chunk_id=chunk_id, ordinal=int(chunk_id[1:]), text=text, section=section, page=page
        )
    return ResolvedCitation(key=key.strip(), paper=paper, chunk=chunk)


class InMemoryCitations:
    """A fixed table of resolved citations, keyed by their keys."""

    def __init__(self, citations: Iterable[ResolvedCitation] | Mapping[str, ResolvedCitation]) -> None:
        items = citations.values() if isinstance(citations, Mapping) else citations
        self._by_key = {c.key: c for c in items}

    def resolve(self, key: str) -> ResolvedCitation:
        """The citation for ``key``; raises ``UnknownCitationError`` when the table lacks it."""
        found = self._by_key.get(key.strip())
        if found is None:
            raise UnknownCitationError(key, "it is not among the citations this report was given")
        return found

    def __len__(self) -> int:
        return len(self._by_key)
