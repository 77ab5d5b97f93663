"""The paper library: ingest papers, search them (dense + BM25 hybrid), resolve citations, gather evidence.

Covers the public API the research loop, the report writer and ``ara papers`` use::

    from tools.papers import PaperLibrary, render_evidence, check_arxiv_id
    lib = PaperLibrary.open(workspace / ".ara" / "papers")
    lib.add_paths([Path("refs.bib"), "1805.00899"])   # -> IngestReport (one item per paper; per-file errors)
    hits = lib.search("debate as alignment", k=10, filters=Filters(year_min=2018))   # -> list[Hit], titles first
    lib.resolve(hits[0].key)                    # -> ResolvedCitation, or UnknownCitationError
    lib.answer("How does debate scale oversight?", k=8).rendered   # delimited, untrusted evidence
    lib.list_papers(Filters(tag="debate")); lib.edit_tags(pid, add=["x"]); lib.remove([pid])
    to_bibtex([BibRecord.of_paper(p) for p in lib.list_papers()])  # tools.papers.export

Importing this package is cheap (numpy and pydantic only): the embedding model loads on the first query and
chromadb on the first write. Does not cover the LLM call that turns evidence into an answer (``assistant``).
"""

from tools.papers.evidence import render_evidence
from tools.papers.filters import Filters, NoMatchError
from tools.papers.identifiers import Identifier, parse_identifier
from tools.papers.ids import ArxivCheckResult, ArxivTitleIndex, check_arxiv_id, normalise_arxiv_id, titles_match
from tools.papers.library import LibraryConfig, LibraryStats, PaperLibrary
from tools.papers.models import (
    Chunk,
    Evidence,
    FileError,
    FlaggedPaper,
    Hit,
    IngestItem,
    IngestReport,
    Paper,
    PaperFileError,
    ResolvedCitation,
    SkippedEntry,
    UnknownCitationError,
)
from tools.papers.retrieval import RetrievalParams

__all__ = [
    "ArxivCheckResult",
    "ArxivTitleIndex",
    "Chunk",
    "Evidence",
    "FileError",
    "Filters",
    "FlaggedPaper",
    "Hit",
    "Identifier",
    "IngestItem",
    "IngestReport",
    "LibraryConfig",
    "LibraryStats",
    "NoMatchError",
    "Paper",
    "PaperFileError",
    "PaperLibrary",
    "ResolvedCitation",
    "RetrievalParams",
    "SkippedEntry",
    "UnknownCitationError",
    "check_arxiv_id",
    "normalise_arxiv_id",
    "parse_identifier",
    "render_evidence",
    "titles_match",
]
