"""Typed records of the paper library: papers, chunks, hits, citations, evidence, ingest reports, errors.

Covers the shapes other modules and the research loop exchange. Does not cover parsing, storage or ranking.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.errors import ToolError, UserInputError

SourceKind = Literal["pdf", "html", "markdown", "latex", "bibtex", "csv", "arxiv-list", "text", "identifier"]
ItemStatus = Literal["added", "updated", "unchanged", "duplicate"]
TitleMatch = Literal["exact", "near"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Paper(_Record):
    """One paper (or article, chapter, bibliography entry) in the library."""

    paper_id: str
    """Stable id: ``arxiv:<id>``, ``doi:<doi>`` or ``t:<hash of normalised title>``."""
    title: str
    """Title as found in the source."""
    authors: tuple[str, ...] = ()
    """Author names as found (``Last, First`` or ``First Last``)."""
    year: int | None = None
    """Publication year, when known."""
    arxiv_id: str | None = None
    """Canonical arXiv id without version (``1706.03741``), when known."""
    doi: str | None = None
    """Lower-cased DOI without a resolver prefix, when known."""
    url: str | None = None
    """A link to the paper, when known."""
    abstract: str = ""
    """Abstract, when the source has one."""
    tags: tuple[str, ...] = ()
    """Free tags (Zotero manual tags, topic labels)."""
    source: str
    """The file (or list) this paper came from."""
    source_kind: SourceKind
    """Which parser read it."""
    content_hash: str
    """sha256 of the paper's text and metadata: a changed hash means re-chunk and re-embed."""
    flags: tuple[str, ...] = ()
    """What is known to be wrong with its metadata (e.g. an arXiv id the local index gives another title);
    shown wherever the paper is (search hits, resolve, evidence for the model)."""


class Chunk(_Record):
    """A passage of a paper with its anchor (section and/or page)."""

    paper_id: str
    """The paper this chunk belongs to."""
    chunk_id: str
    """``c<ordinal>``: stable while the paper's content is unchanged."""
    ordinal: int
    """Position in the paper (0 = first)."""
    text: str
    """The passage as found (untrusted data)."""
    section: str = ""
    """Section title the passage sits under ("abstract", "Introduction", ...)."""
    page: int | None = None
    """1-based PDF page, for PDFs."""

    @property
    def key(self) -> str:
        """The citation key ``paper_id#chunk_id``."""
        return f"{self.paper_id}#{self.chunk_id}"

    @property
    def anchor(self) -> str:
        """Human-readable place in the paper: ``section``, ``p. 3``, or both."""
        parts = [self.section] if self.section else []
        if self.page is not None:
            parts.append(f"p. {self.page}")
        return ", ".join(parts)


class Hit(_Record):
    """One ranked search result (a chunk) with the score that ranked it."""

    paper_id: str
    """Paper id."""
    chunk_id: str
    """Chunk id within the paper."""
    key: str
    """Citation key ``paper_id#chunk_id``; ``PaperLibrary.resolve`` accepts it."""
    title: str
    """Paper title."""
    year: int | None
    """Paper year."""
    arxiv_id: str | None
    """Paper arXiv id."""
    anchor: str
    """Section and/or page of the chunk."""
    text: str
    """The chunk's text (untrusted: quote it with ``render_evidence``)."""
    score: float
    """Fused relevance score (higher is better; comparable only within one query)."""
    rank: int
    """1-based rank in this result list."""
    flags: tuple[str, ...] = ()
    """The paper's flags (``Paper.flags``): its metadata contradicts a trusted source."""
    similarity: float | None = None
    """Cosine similarity of the passage to the whole query (MiniLM; about 0.2 unrelated, 0.5+ on topic): unlike
    ``score`` it means the same across queries and libraries. None for BM25-only ranking."""
    title_match: TitleMatch | None = None
    """``exact`` when the query is the paper's title, ``near`` when nearly; such papers are ranked first."""


class ResolvedCitation(_Record):
    """What a citation key points at."""

    key: str
    """The key that was resolved."""
    paper: Paper
    """The cited paper."""
    chunk: Chunk | None
    """The cited chunk (None when the key names a paper only)."""


class Evidence(_Record):
    """Evidence gathered for a question: the hits and a prompt-ready rendering of them."""

    question: str
    """The question asked."""
    hits: tuple[Hit, ...]
    """Retrieved chunks, best first."""
    rendered: str
    """``render_evidence(hits)``: delimited, source-keyed, untrusted text for a prompt."""
    citation_keys: tuple[str, ...]
    """The keys the answer may cite (exactly the hits' keys)."""


class FileError(_Record):
    """A file (or row) that could not be ingested, and why."""

    path: str
    """The file."""
    error: str
    """What failed and what to do."""


class SkippedEntry(_Record):
    """One entry of a multi-entry file (BibTeX entry, CSV row, id-list line) that was not imported, and why."""

    path: str
    """The file."""
    line: int
    """1-based line where the entry starts."""
    entry: str
    """The entry's key (BibTeX) or ``row N`` / ``line N``."""
    reason: str
    """Why it was skipped (truncated, no title, shifted columns...)."""


class IngestItem(_Record):
    """What happened to one paper (file, BibTeX entry, CSV row, identifier) of an ingest."""

    status: ItemStatus
    """``added`` (new paper), ``updated`` (stored paper re-chunked), ``unchanged`` (already stored as is) or
    ``duplicate`` (another source of a stored paper, which was kept)."""
    paper_id: str
    """The paper it was stored as, or merged into."""
    title: str
    """The title as found in this source."""
    source: str
    """The file (``file#entry`` for BibTeX, CSV and id lists; the identifier for ids, URLs and DOIs)."""
    line: int | None = None
    """1-based line of the entry in its file, where known."""
    note: str = ""
    """Why (which stored paper it matched and on what; a missing attachment), for people to read."""


class FlaggedPaper(_Record):
    """A stored paper whose metadata contradicts a trusted source (e.g. the local arXiv id -> title index)."""

    paper_id: str
    """The paper."""
    flag: str
    """What is wrong, for people and the model to read."""


class IngestReport(_Record):
    """Outcome of one ``add_paths`` call."""

    added: tuple[str, ...] = ()
    """Paper ids new to the library."""
    updated: tuple[str, ...] = ()
    """Paper ids whose content changed and were re-chunked."""
    unchanged: int = 0
    """Papers already stored with the same content."""
    duplicates: int = 0
    """Papers not stored because the library already has them from another source (same arXiv id, DOI or
    normalised title; a source with clearly more text replaces the stored one and counts as ``updated``)."""
    chunks_added: int = 0
    """Chunks embedded and stored."""
    errors: tuple[FileError, ...] = ()
    """Per-file failures; every other file of the batch was ingested."""
    skipped: tuple[SkippedEntry, ...] = ()
    """Entries of otherwise readable files that were not imported, each with its line and why."""
    flagged: tuple[FlaggedPaper, ...] = ()
    """Papers stored with a flag (their arXiv id names another title in the local arXiv index)."""
    embedded_texts: int = 0
    """Texts sent to the embedding model (cache misses)."""
    items: tuple[IngestItem, ...] = ()
    """One record per paper read, in input order: what happened to it and why."""
    seconds: float = Field(default=0.0, ge=0)
    """Wall time of the ingest."""


class UnknownCitationError(ToolError):
    """A citation key does not name a stored paper or chunk."""

    def __init__(self, key: str, hint: str = "") -> None:
        message = f"unknown citation key {key!r}: no such paper or chunk in the library"
        super().__init__(message + (f"; {hint}" if hint else "; cite only keys returned by a search"))
        self.key = key


class LibraryStoreError(UserInputError):
    """A derived part of the library (the Chroma store or the ``index/`` search snapshot) cannot be read.

    The message names the part and says to rebuild it from the catalogue with ``ara papers reindex``.
    """

    def __init__(self, message: str, title: str = "Paper library damaged") -> None:
        super().__init__(message)
        self.title = title


class PaperFileError(UserInputError):
    """A file could not be parsed into papers; the message names the file and what to do."""
