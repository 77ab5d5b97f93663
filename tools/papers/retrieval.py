"""Hybrid ranking over a saved search snapshot: dense (MiniLM cosine, with query segmentation) + BM25, fused
at the paper level, exact and near-exact title matches first, then the best chunks of the best papers.

Covers the snapshot files (``dense.npy`` memory-mapped, ``bm25.npz``, ``meta.json`` with the papers' title keys:
loading needs numpy only, which keeps a cold ``ara papers search`` fast), query segmentation, chunk-to-paper
aggregation, score fusion (weighted reciprocal rank or z-scored linear, with the statistics taken over the whole
library so a filter does not change a paper's score) and the section boost. Does not cover embedding the query
(the caller passes vectors) or fitting the parameters (``bench/retrieval.py`` does that on a dev split).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from tools.papers.chunking import split_sentences
from tools.papers.models import LibraryStoreError
from tools.papers.sparse import TOKENIZER_VERSION, BM25Index, tokenize_query
from tools.papers.titles import TitleIndex

SNAPSHOT_FORMAT = f"2/{TOKENIZER_VERSION}"
"""Changes when the snapshot layout or the BM25 tokenizer changes: older snapshots are rebuilt."""
Fusion = Literal["linear", "rrf", "dense", "bm25"]
FloatArray = npt.NDArray[np.float32]


class RetrievalParams(BaseModel):
    """How dense and sparse evidence are combined. The defaults are the grid-search fit on half A of the dev
    pairs (``bench/retrieval.py``); docs/benchmarks.md reports them on the held-out half B. That fit gave the
    whole-query vector all the dense weight (segments did not help on half A); segmentation stays available."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fusion: Fusion = "linear"
    """``linear``: weighted sum of z-scored paper scores; ``rrf``: weighted reciprocal rank; or one signal only."""
    dense_weight: float = Field(default=0.7, ge=0, le=1)
    """Share of the dense signal (the BM25 signal gets the rest)."""
    rrf_k: float = Field(default=30.0, gt=0)
    """Rank offset of reciprocal-rank fusion."""
    full_query_weight: float = Field(default=1.0, ge=0, le=1)
    """Dense: weight of the whole query's similarity; the rest goes to the query segments' similarity."""
    segment_agg: Literal["mean", "max"] = "mean"
    """How the segments' similarities to one chunk are pooled."""
    segment_words: int = Field(default=25, ge=5)
    """Target words per query segment (sentences are grouped up to this length)."""
    segment_min_words: int = Field(default=50, ge=0)
    """Queries shorter than this are not segmented."""
    second_chunk_weight: float = Field(default=0.0, ge=0, le=1)
    """Paper score = best chunk + this times the second-best chunk (multi-passage evidence)."""
    section_boost: float = Field(default=0.1, ge=0)
    """Added to a chunk's in-paper score when it sits in an abstract, introduction or conclusion."""
    title_first: bool = True
    """Papers whose title the query is (exactly, then nearly) come first, whatever their fused score."""
    title_candidates: int = Field(default=50, ge=1)
    """Best-ranked papers checked for a near-exact title (exact titles are looked up among all papers)."""


def segment_query(query: str, params: RetrievalParams) -> list[str]:
    """Sentence windows of a long query (empty for short queries)."""
    if len(query.split()) < params.segment_min_words:
        return []
    segments: list[str] = []
    current: list[str] = []
    for sentence in split_sentences(query):
        words = sentence.split()
        if current and len(current) + len(words) > params.segment_words:
            segments.append(" ".join(current))
            current = []
        current.extend(words)
    if current:
        segments.append(" ".join(current))
    return segments if len(segments) > 1 else []


@dataclass
class Snapshot:
    """The search snapshot: one row per chunk (papers in insertion order)."""

    dense: FloatArray
    bm25: BM25Index
    paper_ids: list[str]
    paper_years: npt.NDArray[np.int32]
    chunk_paper: npt.NDArray[np.int32]
    chunk_ids: list[str]
    chunk_boost: npt.NDArray[np.bool_]
    generation: int
    model_id: str
    title_keys: list[str]
    """``titles.title_key`` of each paper."""
    main_title_keys: list[str]
    """``titles.main_title_key`` of each paper ("" when it has no subtitle)."""
    tokenizer: int = TOKENIZER_VERSION
    """The ``sparse.tokenize`` version the BM25 index was built with (queries are tokenised alike)."""
    _titles: TitleIndex | None = field(default=None, init=False, repr=False)

    @property
    def n_chunks(self) -> int:
        """Chunks indexed."""
        return len(self.chunk_ids)

    @property
    def titles(self) -> TitleIndex:
        """Look-ups from title keys to papers (built on first use)."""
        if self._titles is None:
            self._titles = TitleIndex(self.title_keys, self.main_title_keys)
        return self._titles

    def save(self, directory: Path) -> None:
        """Write the snapshot into ``directory`` (files replaced atomically one by one; meta.json last)."""
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / "dense.tmp.npy"
        np.save(tmp, self.dense)
        tmp.replace(directory / "dense.npy")
        tmp_bm25 = directory / "bm25.tmp.npz"
        self.bm25.save(tmp_bm25)
        tmp_bm25.replace(directory / "bm25.npz")
        meta = {
            "format": SNAPSHOT_FORMAT,
            "generation": self.generation,
            "model_id": self.model_id,
            "paper_ids": self.paper_ids,
            "paper_years": self.paper_years.tolist(),
            "chunk_paper": self.chunk_paper.tolist(),
            "chunk_ids": self.chunk_ids,
            "chunk_boost": np.flatnonzero(self.chunk_boost).tolist(),
            "title_keys": self.title_keys,
            "main_title_keys": self.main_title_keys,
        }
        tmp_meta = directory / "meta.tmp.json"
        tmp_meta.write_text(json.dumps(meta), encoding="utf-8")
        tmp_meta.replace(directory / "meta.json")

    @classmethod
    def load(cls, directory: Path) -> Snapshot | None:
        """Read a snapshot (None when none was written yet or it was written by another format/tokenizer).

        Raises:
            LibraryStoreError: the files are damaged or disagree with each other (rebuild with
                ``ara papers reindex``).
        """
        if not (directory / "meta.json").is_file():
            return None
        try:
            meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("meta.json is not an object")
            if meta.get("format") != SNAPSHOT_FORMAT:
                return None
            n_chunks = len(meta["chunk_ids"])
            boost = np.zeros(n_chunks, dtype=np.bool_)
            boost[np.asarray(meta["chunk_boost"], dtype=np.int64)] = True
            snapshot = cls(
                dense=np.load(directory / "dense.npy", mmap_mode="r", allow_pickle=False),
                bm25=BM25Index.load(directory / "bm25.npz"),
                paper_ids=[str(p) for p in meta["paper_ids"]],
                paper_years=np.asarray(meta["paper_years"], dtype=np.int32),
                chunk_paper=np.asarray(meta["chunk_paper"], dtype=np.int32),
                chunk_ids=[str(c) for c in meta["chunk_ids"]],
                chunk_boost=boost,
                generation=int(meta["generation"]),
                model_id=str(meta["model_id"]),
                title_keys=[str(k) for k in meta["title_keys"]],
                main_title_keys=[str(k) for k in meta["main_title_keys"]],
            )
            snapshot.check()
        except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, zipfile.BadZipFile) as err:
            raise LibraryStoreError(
                f"the search index {directory} is damaged ({type(err).__name__}: {str(err)[:200]}). It is derived "
                "from the catalogue: rebuild it with 'ara papers reindex'. Nothing was changed.",
                title="Search index damaged",
            ) from err
        return snapshot

    def check(self) -> None:
        """Raise ``ValueError`` when the arrays disagree in length or point outside each other."""
        n = self.n_chunks
        if self.dense.ndim != 2 or self.dense.shape[0] != n:
            raise ValueError(f"dense.npy has shape {self.dense.shape}, expected ({n}, dim)")
        if self.dense.dtype != np.float32:
            raise ValueError(f"dense.npy holds {self.dense.dtype}, not float32")
        if len(self.chunk_paper) != n or len(self.paper_years) != len(self.paper_ids):
            raise ValueError("chunk or paper lists differ in length")
        if len(self.title_keys) != len(self.paper_ids) or len(self.main_title_keys) != len(self.paper_ids):
            raise ValueError("title keys and paper ids differ in length")
        if n and (self.chunk_paper.min() < 0 or self.chunk_paper.max() >= len(self.paper_ids)):
            raise ValueError("a chunk points at a paper that is not in the index")
        bm25 = self.bm25
        if bm25.n_docs != n:
            raise ValueError(f"bm25.npz indexes {bm25.n_docs} chunks, meta.json lists {n}")
        if len(bm25.offsets) != len(bm25.vocabulary) + 1 or len(bm25.docs) != len(bm25.impacts):
            raise ValueError("bm25.npz postings do not match its vocabulary")
        if len(bm25.offsets) and int(bm25.offsets[-1]) != len(bm25.docs):
            raise ValueError("bm25.npz offsets do not end at its postings")
        if len(bm25.docs) and (int(bm25.docs.min()) < 0 or int(bm25.docs.max()) >= n):
            raise ValueError("bm25.npz points at chunks that are not in the index")


BOOST_SECTIONS = ("abstract", "introduction", "conclusion", "conclusions", "summary")


def _zscore(values: FloatArray, valid: npt.NDArray[np.bool_]) -> FloatArray:
    """Values z-scored with the mean and spread of the whole library (so a paper's score does not depend on the
    filters), ``-inf`` where not ``valid``."""
    out = np.full(values.shape, -np.inf, dtype=np.float32)
    finite = np.isfinite(values)
    if not (valid & finite).any():
        return out
    picked = values[finite]
    std = float(picked.std()) or 1.0
    out[valid & finite] = (values[valid & finite] - float(picked.mean())) / std
    return out


def _ranks(values: FloatArray) -> FloatArray:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float32)
    ranks[order] = np.arange(1, len(values) + 1, dtype=np.float32)
    return ranks


def _paper_max(
    chunk_scores: FloatArray, chunk_paper: npt.NDArray[np.int32], n_papers: int, second: float
) -> FloatArray:
    best = np.full(n_papers, -np.inf, dtype=np.float32)
    np.maximum.at(best, chunk_paper, chunk_scores)
    if second <= 0:
        return best
    is_best = chunk_scores >= best[chunk_paper]
    masked = np.where(is_best, -np.inf, chunk_scores).astype(np.float32)
    runner = np.full(n_papers, -np.inf, dtype=np.float32)
    np.maximum.at(runner, chunk_paper, masked)
    return (best + second * np.where(np.isfinite(runner), runner, best)).astype(np.float32)


@dataclass
class Ranking:
    """Scores of one query: fused per paper, and per chunk for choosing a paper's passages."""

    paper_scores: FloatArray
    chunk_scores: FloatArray
    title_tier: npt.NDArray[np.int8] | None = None
    """Per paper: 2 = the query is its title, 1 = nearly, 0 = no (None when title matching is off)."""
    chunk_cosine: FloatArray | None = None
    """Cosine of each chunk to the whole query (None for BM25-only ranking)."""

    def order(self, indices: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
        """``indices`` (papers) best first: title tier, then fused score."""
        scores = -self.paper_scores[indices]
        if self.title_tier is None:
            return indices[np.argsort(scores, kind="stable")]
        return indices[np.lexsort((scores, -self.title_tier[indices].astype(np.int16)))]


@dataclass
class Signals:
    """Raw per-chunk evidence for one query, before pooling and fusion (benchmarks reuse it across settings)."""

    sims: FloatArray | None
    """Cosine of each chunk to the whole query (column 0) and to each segment (columns 1...)."""
    bm25: FloatArray | None
    """BM25 score of each chunk."""


def compute_signals(snapshot: Snapshot, query: str, query_vectors: FloatArray, params: RetrievalParams) -> Signals:
    """The dense similarities and BM25 scores ``rank`` needs (only those the fusion mode uses)."""
    sims = np.asarray(snapshot.dense @ query_vectors.T, dtype=np.float32) if params.fusion != "bm25" else None
    bm25 = snapshot.bm25.scores(tokenize_query(query, snapshot.tokenizer)) if params.fusion != "dense" else None
    return Signals(sims=sims, bm25=bm25)


def dense_chunk_scores(sims: FloatArray, params: RetrievalParams) -> FloatArray:
    """Cosine of each chunk to the query: whole-query similarity mixed with the pooled segment similarities."""
    if sims.shape[1] == 1:
        return np.asarray(sims[:, 0], dtype=np.float32)
    segs = sims[:, 1:]
    pooled = segs.max(axis=1) if params.segment_agg == "max" else segs.mean(axis=1)
    mixed = params.full_query_weight * sims[:, 0] + (1 - params.full_query_weight) * pooled
    return np.asarray(mixed, dtype=np.float32)


def rank(
    snapshot: Snapshot,
    query: str,
    query_vectors: FloatArray,
    params: RetrievalParams,
    paper_mask: npt.NDArray[np.bool_] | None = None,
    signals: Signals | None = None,
) -> Ranking:
    """Score every paper and chunk for ``query`` (``query_vectors``: whole query first, then its segments)."""
    n_papers = len(snapshot.paper_ids)
    valid = np.ones(n_papers, dtype=np.bool_) if paper_mask is None else paper_mask
    signals = signals or compute_signals(snapshot, query, query_vectors, params)
    dense_c = dense_chunk_scores(signals.sims, params) if params.fusion != "bm25" and signals.sims is not None else None
    bm25_c = signals.bm25 if params.fusion != "dense" else None
    parts: list[tuple[float, FloatArray, FloatArray]] = []
    if dense_c is not None:
        dense_p = _paper_max(dense_c, snapshot.chunk_paper, n_papers, params.second_chunk_weight)
        parts.append((params.dense_weight if bm25_c is not None else 1.0, dense_p, dense_c))
    if bm25_c is not None:
        bm25_p = _paper_max(bm25_c, snapshot.chunk_paper, n_papers, params.second_chunk_weight)
        parts.append((1 - params.dense_weight if dense_c is not None else 1.0, bm25_p, bm25_c))
    paper = np.zeros(n_papers, dtype=np.float32)
    chunk = np.zeros(snapshot.n_chunks, dtype=np.float32)
    chunk_valid = valid[snapshot.chunk_paper]
    for weight, paper_part, chunk_part in parts:
        if params.fusion == "rrf":
            paper += weight / (params.rrf_k + _ranks(np.where(valid, paper_part, -np.inf).astype(np.float32)))
        else:
            paper += weight * _zscore(paper_part, valid)
        chunk += weight * _zscore(chunk_part, chunk_valid)
    paper[~valid] = -np.inf
    chunk = chunk + params.section_boost * snapshot.chunk_boost
    ranking = Ranking(
        paper_scores=paper,
        chunk_scores=chunk.astype(np.float32),
        chunk_cosine=np.asarray(signals.sims[:, 0], dtype=np.float32) if signals.sims is not None else None,
    )
    if params.title_first:
        finite = np.flatnonzero(np.isfinite(paper))
        candidates = ranking.order(finite)[: params.title_candidates]
        tiers = snapshot.titles.tiers(query, [int(i) for i in candidates])
        tiers[~np.isfinite(paper)] = 0
        ranking.title_tier = tiers
    return ranking


def top_hits(ranking: Ranking, snapshot: Snapshot, k: int, max_per_paper: int) -> list[tuple[int, int, float]]:
    """(paper index, chunk index, score) of the best ``max_per_paper`` chunks of the best papers, ``k`` in all."""
    wanted = ranking.order(np.flatnonzero(np.isfinite(ranking.paper_scores)))[: max(k, 1)]
    candidates = np.flatnonzero(np.isin(snapshot.chunk_paper, wanted))
    chunk_order = candidates[np.argsort(-ranking.chunk_scores[candidates], kind="stable")]
    by_paper: dict[int, list[int]] = {int(p): [] for p in wanted}
    for c in chunk_order:
        bucket = by_paper[int(snapshot.chunk_paper[c])]
        if len(bucket) < max_per_paper:
            bucket.append(int(c))
    hits: list[tuple[int, int, float]] = []
    for p in wanted:
        for c in by_paper[int(p)]:
            hits.append((int(p), c, float(ranking.paper_scores[p])))
    return hits[:k]


def paper_order(ranking: Ranking, k: int) -> list[int]:
    """Indices of the ``k`` best papers."""
    return [int(i) for i in ranking.order(np.flatnonzero(np.isfinite(ranking.paper_scores)))[:k]]


def query_texts(query: str, params: RetrievalParams) -> Sequence[str]:
    """Texts to embed for a query: the whole query, then its segments (none when they would get no weight)."""
    if params.full_query_weight >= 1.0 or params.fusion == "bm25":
        return [query]
    return [query, *segment_query(query, params)]
