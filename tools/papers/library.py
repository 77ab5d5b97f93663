"""``PaperLibrary``: one library directory: its catalogue, Chroma store and search snapshot, searched and cited.

Covers opening the library and its lazily loaded parts (embedder, Chroma, snapshot), the search snapshot rebuild,
hybrid search with filters (exact and near-exact titles first), citation resolution, evidence gathering, counts
and ``reindex``. Ingest lives in ``ingest.IngestMixin`` and curation (list, remove, tags) in ``manage``; both are
methods here. Does not cover parsing details (``parsers``), ranking maths (``retrieval``) or the LLM call
(``assistant``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from tools.papers.catalog import Catalog, vector_hash
from tools.papers.chunking import embed_text
from tools.papers.evidence import render_evidence
from tools.papers.filters import Filters, matches, no_match_error
from tools.papers.ids import ArxivTitleIndex
from tools.papers.ingest import IngestMixin, Progress
from tools.papers.manage import RemoveReport, TagReport, edit_tags, list_papers, remove_papers
from tools.papers.models import (
    Chunk,
    Evidence,
    Hit,
    Paper,
    ResolvedCitation,
    TitleMatch,
    UnknownCitationError,
)
from tools.papers.parsers import MAX_FILE_BYTES
from tools.papers.retrieval import (
    BOOST_SECTIONS,
    RetrievalParams,
    Snapshot,
    paper_order,
    query_texts,
    rank,
    top_hits,
)
from tools.papers.sparse import BM25Index, tokenize
from tools.papers.titles import main_title_key, title_key

if TYPE_CHECKING:
    from tools.embeddings import MiniLMEmbedder
    from tools.papers.store import ChromaStore

log = logging.getLogger(__name__)

__all__ = ["Filters", "LibraryConfig", "LibraryReindex", "LibraryStats", "PaperLibrary", "Progress"]


class LibraryConfig(BaseModel):
    """Settings of one library (the CLI maps ``Settings.papers`` onto this)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chunk_words: int = Field(default=160, ge=16)
    """Words per chunk at most (MiniLM reads 256 word pieces, ~1.3 per word, plus the title prefix)."""
    chunk_overlap: int = Field(default=24, ge=0)
    """Words repeated between consecutive chunks of a section."""
    embedding_batch_size: int = Field(default=64, ge=1)
    """Texts per embedding batch."""
    embedding_threads: int = Field(default=1, ge=1)
    """onnxruntime threads (one is fastest on a shared 2-core machine)."""
    max_file_bytes: int = Field(default=MAX_FILE_BYTES, ge=1)
    """Larger files are refused with a per-file error."""
    use_chroma: bool = True
    """Write chunks to the Chroma collection too (the catalogue and numpy snapshot serve default search)."""
    retrieval: RetrievalParams = Field(default_factory=RetrievalParams)
    """Fusion parameters."""
    arxiv_index: Path | None = None
    """An arXiv id -> title index (``corpus/arxiv_id_title_index.json``): imported papers whose arXiv id it
    knows under another title are stored flagged, and their id is not trusted for dedupe."""


class LibraryStats(BaseModel):
    """Counts for ``ara papers stats``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    papers: int
    """Papers in the catalogue."""
    chunks: int
    """Chunks in the catalogue."""
    cached_vectors: int
    """Embeddings in the content-hash cache (chunks and past queries)."""
    indexed_chunks: int
    """Chunks in the search snapshot (equals ``chunks`` unless a rebuild is pending)."""
    chroma_chunks: int | None
    """Chunks in the Chroma collection (None when Chroma is off or was never written)."""
    sources: dict[str, int]
    """Source file -> papers from it."""
    by_kind: dict[str, int]
    """Parser kind -> papers."""
    with_arxiv_id: int
    """Papers with an arXiv id."""
    store_dir: str
    """Where the library lives."""


class LibraryReindex(BaseModel):
    """What ``PaperLibrary.reindex`` rebuilt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    papers: int
    """Papers in the catalogue."""
    indexed_chunks: int
    """Chunks in the rebuilt search snapshot."""
    chroma_chunks: int | None
    """Chunks in the rebuilt Chroma store (None when Chroma is off or the library is empty)."""
    moved_aside: tuple[str, ...]
    """The old derived folders, kept under new names."""


_TIERS: dict[int, TitleMatch | None] = {0: None, 1: "near", 2: "exact"}


class PaperLibrary(IngestMixin):
    """A paper library stored under one directory (``<workspace>/.ara/papers`` by default).

    Example:
        >>> lib = PaperLibrary.open(Path("workspace/.ara/papers"))
        >>> report = lib.add_paths([Path("refs.bib"), Path("papers/")])
        >>> hits = lib.search("reward model overoptimization", k=5)
        >>> lib.resolve(hits[0].key).paper.title
    """

    def __init__(self, store_dir: Path, config: LibraryConfig, embedder: MiniLMEmbedder | None = None) -> None:
        self.store_dir = store_dir
        self.config = config
        store_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(store_dir / "library.sqlite")
        self._embedder = embedder
        self._chroma: ChromaStore | None = None
        self._snapshot: Snapshot | None = None
        self._arxiv_index: ArxivTitleIndex | None = None

    @classmethod
    def open(
        cls, store_dir: Path, config: LibraryConfig | None = None, *, embedder: MiniLMEmbedder | None = None
    ) -> PaperLibrary:
        """Open (creating if needed) the library in ``store_dir``; nothing heavy is loaded until used."""
        return cls(Path(store_dir), config or LibraryConfig(), embedder)

    def close(self) -> None:
        """Close the catalogue."""
        self.catalog.close()

    def __enter__(self) -> PaperLibrary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- lazily loaded parts --------------------------------------------------------------------------------

    @property
    def embedder(self) -> MiniLMEmbedder:
        """The MiniLM embedder (loaded on first use, ~0.3 s)."""
        if self._embedder is None:
            from tools.embeddings import MiniLMEmbedder

            self._embedder = MiniLMEmbedder(
                batch_size=self.config.embedding_batch_size, threads=self.config.embedding_threads
            )
        return self._embedder

    @property
    def model_loaded(self) -> bool:
        """Whether the embedding model has been loaded in this process."""
        return self._embedder is not None

    @property
    def chroma(self) -> ChromaStore:
        """The Chroma collection (imports chromadb on first use, ~2 s)."""
        if self._chroma is None:
            from tools.papers.store import ChromaStore

            self._chroma = ChromaStore(self.store_dir / "chroma")
        return self._chroma

    @property
    def snapshot(self) -> Snapshot | None:
        """The search snapshot (None for an empty library)."""
        generation = int(self.catalog.get_meta("generation") or 0)
        if self._snapshot is None or self._snapshot.generation != generation:
            loaded = Snapshot.load(self.store_dir / "index")
            if (loaded is None and generation > 0) or (loaded is not None and loaded.generation != generation):
                loaded = self._rebuild_snapshot(generation)
            self._snapshot = loaded
        return self._snapshot

    # --- ingest: ``ingest.IngestMixin`` --------------------------------------------------------------------

    def rebuild_snapshot(self) -> None:
        """Rebuild the search snapshot from the catalogue at the current generation."""
        self._snapshot = self._rebuild_snapshot(int(self.catalog.get_meta("generation") or 0))

    # --- curation (``manage``) --------------------------------------------------------------------------------

    def list_papers(self, filters: Filters | None = None) -> list[Paper]:
        """Papers in the order added (``NoMatchError`` when ``filters`` select none)."""
        return list_papers(self, filters)

    def remove(self, paper_ids: Sequence[str]) -> RemoveReport:
        """Remove papers from the catalogue, the search index and Chroma (see ``manage.remove_papers``)."""
        return remove_papers(self, paper_ids)

    def edit_tags(self, paper_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()) -> TagReport:
        """Add and remove a paper's tags; kept across re-imports (see ``manage.edit_tags``)."""
        return edit_tags(self, paper_id, add, remove)

    def bm25_texts(self) -> list[str]:
        """The text BM25 indexes for each chunk, in snapshot order (benchmarks re-tokenise it)."""
        title_of = {p.paper_id: p.title for p in self.catalog.papers()}
        return [
            embed_text(title_of[pid], Chunk(paper_id=pid, chunk_id=cid, ordinal=0, text=text, section=section))
            for pid, cid, _, text, section in self.catalog.all_chunks()
        ]

    def _rebuild_snapshot(self, generation: int) -> Snapshot:
        papers = list(self.catalog.papers())
        index_of = {p.paper_id: i for i, p in enumerate(papers)}
        rows = list(self.catalog.all_chunks())
        vectors = self.catalog.cached_vectors([r[2] for r in rows])
        dense = np.stack([vectors[r[2]] for r in rows]).astype(np.float32) if rows else np.zeros((0, 384), np.float32)
        tokens = [tokenize(text) for text in self.bm25_texts()]
        snapshot = Snapshot(
            dense=dense,
            bm25=BM25Index.build(tokens),
            paper_ids=[p.paper_id for p in papers],
            paper_years=np.asarray([p.year or 0 for p in papers], dtype=np.int32),
            chunk_paper=np.asarray([index_of[r[0]] for r in rows], dtype=np.int32),
            chunk_ids=[r[1] for r in rows],
            chunk_boost=np.asarray(
                [r[4].lower().lstrip("0123456789. ") in BOOST_SECTIONS for r in rows], dtype=np.bool_
            ),
            generation=generation,
            model_id=self.embedder.model_id if self._embedder else "",
            title_keys=[title_key(p.title) for p in papers],
            main_title_keys=[main_title_key(p.title) for p in papers],
        )
        snapshot.save(self.store_dir / "index")
        return snapshot

    def reindex(self) -> LibraryReindex:
        """Rebuild the derived parts from the catalogue: the ``index/`` search snapshot and the Chroma store.

        The old ``index/`` and ``chroma/`` folders are moved aside (``<name>.replaced-<time>``), never deleted;
        chunk vectors come from the catalogue's embedding cache (texts missing from it are embedded again).
        """
        from tools.papers.store import ChromaStore, forget_clients

        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        moved: list[str] = []
        for name in ("index", "chroma"):
            folder = self.store_dir / name
            if folder.exists():
                target = self.store_dir / f"{name}.replaced-{stamp}"
                folder.rename(target)
                moved.append(str(target))
        self._snapshot = None
        generation = int(self.catalog.get_meta("generation") or 0)
        papers = {p.paper_id: p for p in self.catalog.papers()}
        items = [(papers[pid], chunk) for pid in papers for chunk in self.catalog.chunks_of(pid)]
        chroma_chunks = None
        if self.config.use_chroma and items:
            model_id = self.catalog.get_meta("model_id") or self.embedder.model_id
            texts = [embed_text(paper.title, chunk) for paper, chunk in items]
            vectors = self._embed_cached(texts, [vector_hash(model_id, t) for t in texts], None)
            forget_clients()
            self._chroma = ChromaStore(self.store_dir / "chroma")
            self._chroma.upsert(items, vectors)
            chroma_chunks = self._chroma.count()
        self._snapshot = self._rebuild_snapshot(generation) if items else None
        return LibraryReindex(
            papers=len(papers),
            indexed_chunks=self._snapshot.n_chunks if self._snapshot else 0,
            chroma_chunks=chroma_chunks,
            moved_aside=tuple(moved),
        )

    # --- search ---------------------------------------------------------------------------------------------

    def _paper_mask(self, snapshot: Snapshot, filters: Filters | None) -> npt.NDArray[np.bool_] | None:
        if filters is None or filters == Filters():
            return None
        years = snapshot.paper_years
        mask = np.ones(len(snapshot.paper_ids), dtype=np.bool_)
        if filters.year_min is not None:
            mask &= (years >= filters.year_min) & (years > 0)
        if filters.year_max is not None:
            mask &= (years <= filters.year_max) & (years > 0)
        if filters.author or filters.tag or filters.source_kind:
            keep = {paper.paper_id for paper in self.catalog.papers() if matches(paper, filters)}
            mask &= np.asarray([pid in keep for pid in snapshot.paper_ids], dtype=np.bool_)
        if not mask.any():
            raise no_match_error(list(self.catalog.papers()), filters)
        return mask

    def embed_query(self, query: str, params: RetrievalParams | None = None) -> npt.NDArray[np.float32]:
        """Vectors of the whole query and of its segments (long queries only), through the cache: a repeated
        query does not even load the model."""
        return self.embed_cached(list(query_texts(query, params or self.config.retrieval)))

    def embed_cached(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` through the library's content-hash cache (loads the model only on a cache miss)."""
        model_id = self._embedder.model_id if self._embedder else self.catalog.get_meta("model_id")
        model_id = model_id or self.embedder.model_id
        return self._embed_cached(texts, [vector_hash(model_id, t) for t in texts], None)

    def search(
        self,
        query: str,
        k: int = 10,
        filters: Filters | None = None,
        *,
        max_per_paper: int = 1,
        params: RetrievalParams | None = None,
        query_vectors: npt.NDArray[np.float32] | None = None,
    ) -> list[Hit]:
        """Rank chunks for ``query``: hybrid dense + BM25, fused per paper, best passages of the best papers.

        Papers whose title the query is (``Hit.title_match``) come first.

        Args:
            query: Free text (a question, a summary, keywords, a title). Long queries are segmented.
            k: Number of hits.
            filters: Year range, author, tag or source kind; ``NoMatchError`` when no paper passes them.
            max_per_paper: Passages returned per paper (1 = one hit per paper).
            params: Fusion parameters (default: the library's).
            query_vectors: Precomputed ``embed_query`` output (benchmarks reuse them across settings).
        """
        if not query.strip():
            raise ValueError("search query is empty; pass some words to search for")
        snapshot = self.snapshot
        if snapshot is None or snapshot.n_chunks == 0:
            return []
        params = params or self.config.retrieval
        vectors = (
            query_vectors
            if query_vectors is not None
            else (self.embed_query(query, params) if params.fusion != "bm25" else np.zeros((1, 384), np.float32))
        )
        ranking = rank(snapshot, query, vectors, params, self._paper_mask(snapshot, filters))
        hits = []
        tiers = ranking.title_tier
        cosine = ranking.chunk_cosine
        for position, (p, c, score) in enumerate(top_hits(ranking, snapshot, k, max_per_paper), start=1):
            paper_id, chunk_id = snapshot.paper_ids[p], snapshot.chunk_ids[c]
            paper, chunk = self.catalog.get_paper(paper_id), self.catalog.get_chunk(paper_id, chunk_id)
            assert paper is not None, f"snapshot names missing paper {paper_id}"
            assert chunk is not None, f"snapshot names missing chunk {paper_id}#{chunk_id}"
            hits.append(
                Hit(
                    paper_id=paper_id,
                    chunk_id=chunk_id,
                    key=chunk.key,
                    title=paper.title,
                    year=paper.year,
                    arxiv_id=paper.arxiv_id,
                    anchor=chunk.anchor,
                    text=chunk.text,
                    score=score,
                    rank=position,
                    flags=paper.flags,
                    similarity=round(float(cosine[c]), 4) if cosine is not None else None,
                    title_match=_TIERS[int(tiers[p])] if tiers is not None else None,
                )
            )
        return hits

    def rank_papers(
        self,
        query: str,
        k: int,
        *,
        params: RetrievalParams | None = None,
        query_vectors: npt.NDArray[np.float32] | None = None,
    ) -> list[str]:
        """Paper ids of the ``k`` best papers (for benchmarks; ``search`` returns the same order)."""
        snapshot = self.snapshot
        if snapshot is None:
            return []
        params = params or self.config.retrieval
        vectors = query_vectors if query_vectors is not None else self.embed_query(query, params)
        return [snapshot.paper_ids[i] for i in paper_order(rank(snapshot, query, vectors, params), k)]

    def search_chroma(self, query: str, k: int = 10, filters: Filters | None = None) -> list[tuple[str, float]]:
        """Dense-only search through Chroma (year filters pushed down as ``where``): (chunk key, cosine)."""
        where: dict[str, object] | None = None
        conds: list[dict[str, object]] = []
        if filters and filters.year_min is not None:
            conds.append({"year": {"$gte": filters.year_min}})
        if filters and filters.year_max is not None:
            conds.append({"year": {"$lte": filters.year_max}})
        if conds:
            where = conds[0] if len(conds) == 1 else {"$and": conds}
        return self.chroma.query(self.embedder.embed([query])[0], k, where)

    # --- citations and evidence -----------------------------------------------------------------------------

    def resolve(self, key: str) -> ResolvedCitation:
        """Resolve ``paper_id#chunk_id`` (or a bare ``paper_id``); raises ``UnknownCitationError`` if absent."""
        paper_id, sep, chunk_id = key.strip().partition("#")
        paper = self.catalog.get_paper(paper_id)
        if paper is None:
            raise UnknownCitationError(key)
        if not sep:
            return ResolvedCitation(key=key, paper=paper, chunk=None)
        chunk = self.catalog.get_chunk(paper_id, chunk_id)
        if chunk is None:
            raise UnknownCitationError(key, f"paper {paper_id} exists but has no chunk {chunk_id!r}")
        return ResolvedCitation(key=key, paper=paper, chunk=chunk)

    def get_paper(self, paper_id: str) -> Paper:
        """A stored paper; raises ``UnknownCitationError`` if absent."""
        return self.resolve(paper_id).paper

    def chunks(self, paper_id: str) -> list[Chunk]:
        """A stored paper's chunks in order."""
        return self.catalog.chunks_of(self.get_paper(paper_id).paper_id)

    def answer(self, question: str, k: int = 8, filters: Filters | None = None) -> Evidence:
        """Gather evidence for ``question`` (up to 2 passages per paper) for the agent to answer from, citing
        only ``Evidence.citation_keys``. No LLM is called here."""
        hits = self.search(question, k=k, filters=filters, max_per_paper=2)
        return Evidence(
            question=question,
            hits=tuple(hits),
            rendered=render_evidence(hits),
            citation_keys=tuple(h.key for h in hits),
        )

    def stats(self) -> LibraryStats:
        """Counts of papers, chunks, cached vectors and sources."""
        counts = self.catalog.counts()
        by_kind: dict[str, int] = {}
        with_arxiv = 0
        for paper in self.catalog.papers():
            by_kind[paper.source_kind] = by_kind.get(paper.source_kind, 0) + 1
            with_arxiv += paper.arxiv_id is not None
        snapshot = self.snapshot
        return LibraryStats(
            papers=counts["papers"],
            chunks=counts["chunks"],
            cached_vectors=counts["vectors"],
            indexed_chunks=snapshot.n_chunks if snapshot else 0,
            chroma_chunks=self.chroma.count()
            if self.config.use_chroma and (self.store_dir / "chroma").exists()
            else None,
            sources=self.catalog.source_files(),
            by_kind=by_kind,
            with_arxiv_id=with_arxiv,
            store_dir=str(self.store_dir),
        )


Mode = Literal["numpy", "chroma"]
