"""Ingest: parsed documents (and papers named by id) into the catalogue, Chroma and the search snapshot.

Covers ``IngestMixin``, the ingest half of ``PaperLibrary``: parse -> dedupe by source entry, arXiv id, DOI and
normalised title -> chunk -> embed with the content-hash cache -> store; a per-item report (added, updated,
unchanged, duplicate: with the stored paper it matched and on what), per-file errors and per-entry skips, each
reported, without losing the rest of the batch or anything stored. Papers whose arXiv id the local arXiv index
knows under another title are stored flagged and not merged with the real paper; tags a person edited are applied
again. Does not cover parsing details (``parsers``), search (``library``) or curation (``manage``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from tools.papers.catalog import Catalog, vector_hash
from tools.papers.chunking import chunk_doc, embed_text
from tools.papers.identifiers import identifier_doc, parse_identifier
from tools.papers.ids import ArxivTitleIndex, check_arxiv_id, normalise_title, paper_id_for
from tools.papers.manage import apply_tag_edits
from tools.papers.models import (
    Chunk,
    FileError,
    FlaggedPaper,
    IngestItem,
    IngestReport,
    ItemStatus,
    Paper,
    PaperFileError,
    SkippedEntry,
)
from tools.papers.parsers import ParsedDoc, parse_file_entries, walk

if TYPE_CHECKING:
    from tools.embeddings import MiniLMEmbedder
    from tools.papers.library import LibraryConfig
    from tools.papers.retrieval import Snapshot
    from tools.papers.store import ChromaStore

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
"""``progress(done, total, what)``: called as files are parsed and as chunks are embedded."""


def _content_hash(doc: ParsedDoc, flags: Sequence[str] = ()) -> str:
    payload = {
        "flags": list(flags),
        "title": doc.title,
        "authors": doc.authors,
        "year": doc.year,
        "arxiv": doc.arxiv_id,
        "doi": doc.doi,
        "abstract": doc.abstract,
        "tags": doc.tags,
        "url": doc.url,
        "sections": [[s.title, s.page, s.text] for s in doc.sections],
    }
    return "sha256:" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _text_len(doc: ParsedDoc) -> int:
    return len(doc.abstract) + sum(len(s.text) for s in doc.sections)


_KEY_KINDS = {"src": "source entry", "arxiv": "arXiv id", "doi": "DOI", "title": "title"}


def _item(status: ItemStatus, paper_id: str, doc: ParsedDoc, notes: Sequence[str]) -> IngestItem:
    return IngestItem(
        status=status, paper_id=paper_id, title=doc.title, source=doc.source, line=doc.line, note="; ".join(notes)
    )


def _dedupe_keys(doc: ParsedDoc, *, trust_arxiv: bool = True) -> list[str]:
    keys = []
    if doc.arxiv_id and trust_arxiv:
        keys.append(f"arxiv:{doc.arxiv_id}")
    if doc.doi:
        keys.append(f"doi:{doc.doi}")
    title = normalise_title(doc.title)
    if len(title) >= 12:
        keys.append(f"title:{title}")
    return keys


class IngestMixin:
    """The ingest methods of ``PaperLibrary`` (which provides the attributes declared here)."""

    catalog: Catalog
    config: LibraryConfig
    _arxiv_index: ArxivTitleIndex | None
    _snapshot: Snapshot | None
    _embedded_last = 0

    if TYPE_CHECKING:

        @property
        def embedder(self) -> MiniLMEmbedder: ...

        @property
        def chroma(self) -> ChromaStore: ...

        def _rebuild_snapshot(self, generation: int) -> Snapshot: ...

    def add_paths(self, paths: Iterable[Path | str], progress: Progress | None = None) -> IngestReport:
        """Ingest files and directories (walked recursively for supported suffixes), and papers named by arXiv id,
        arXiv URL or DOI (filled from the local arXiv index; see ``identifiers``).

        Each file or identifier that fails is reported in ``IngestReport.errors`` and skipped; the rest of the batch
        is stored. Papers already stored with the same content are left alone, so re-ingesting adds nothing.
        """
        started = time.perf_counter()
        docs: list[ParsedDoc] = []
        errors: list[FileError] = []
        skipped: list[SkippedEntry] = []
        given: list[Path] = []
        for item in paths:
            ident = None if Path(item).exists() else parse_identifier(str(item))
            if ident is None:
                given.append(Path(item))
                continue
            try:
                docs.append(identifier_doc(ident, self.arxiv_index))
            except PaperFileError as err:
                log.info("skipped %s: %s", ident.raw, err)
                errors.append(FileError(path=ident.raw, error=str(err)))
        files = list(walk(given))
        for done, path in enumerate(files, start=1):
            try:
                parsed = parse_file_entries(path, self.config.max_file_bytes)
                docs.extend(parsed.docs)
                skipped.extend(parsed.skipped)
                for entry in parsed.skipped:
                    log.info("skipped %s:%d (%s): %s", entry.path, entry.line, entry.entry, entry.reason)
            except PaperFileError as err:
                log.info("skipped %s: %s", path, err)
                errors.append(FileError(path=str(path), error=str(err)))
            if progress:
                progress(done, len(files), "files")
        report = self.add_docs(docs, progress=progress)
        return report.model_copy(
            update={
                "errors": tuple(errors) + report.errors,
                "skipped": tuple(skipped) + report.skipped,
                "seconds": time.perf_counter() - started,
            }
        )

    def add_docs(self, docs: Sequence[ParsedDoc], progress: Progress | None = None) -> IngestReport:
        """Dedupe, chunk, embed and store parsed documents; rebuild the search snapshot when anything changed."""
        started = time.perf_counter()
        planned: dict[str, tuple[Paper, list[Chunk], list[str], int]] = {}
        planned_keys: dict[str, str] = {}
        items: list[IngestItem] = []
        seen_sources: dict[str, int] = {}
        flagged: list[FlaggedPaper] = []
        for doc in docs:
            seen_sources[doc.source] = seen_sources.get(doc.source, 0) + 1
            if seen_sources[doc.source] > 1:
                doc.source = f"{doc.source}~{seen_sources[doc.source]}"
            flags = self._flags(doc)
            keys = [f"src:{doc.source}", *_dedupe_keys(doc, trust_arxiv=not flags)]
            matched = next((k for k in keys if k in planned_keys), None)
            existing_id = planned_keys[matched] if matched else None
            for key in keys if existing_id is None else ():
                existing_id = self.catalog.find_paper([key])
                if existing_id is not None:
                    matched = key
                    break
            content_hash = _content_hash(doc, flags)
            notes = list(doc.notes)
            if existing_id is not None:
                assert matched is not None
                stored = planned.get(existing_id)
                if stored is not None:
                    old_paper, old_len = stored[0], stored[3]
                else:
                    row = self.catalog.paper_row(existing_id)
                    assert row is not None, f"dedupe key points at missing paper {existing_id}"
                    old_paper, _, old_len = row
                planned_keys.update({k: existing_id for k in keys if k not in planned_keys})
                same_source = old_paper.source == doc.source
                if old_paper.content_hash == content_hash:
                    flagged.extend(FlaggedPaper(paper_id=existing_id, flag=f) for f in flags)
                    items.append(_item("unchanged", existing_id, doc, []))
                    continue
                why = f"same {_KEY_KINDS[matched.split(':', 1)[0]]} as {old_paper.title!r} from {old_paper.source}"
                if not same_source and _text_len(doc) <= old_len * 1.2:
                    items.append(_item("duplicate", existing_id, doc, [f"{why}; the stored paper was kept"]))
                    continue
                paper_id = existing_id
                if not same_source:
                    notes.append(f"{why}; replaced its text with this source's, which is longer")
                elif not notes:
                    notes.append("its content changed since the last import")
                items.append(_item("updated", paper_id, doc, notes))
            else:
                paper_id = paper_id_for(arxiv_id=None if flags else doc.arxiv_id, doi=doc.doi, title=doc.title)
                if paper_id in planned or self.catalog.get_paper(paper_id) is not None:
                    paper_id = f"{paper_id}-{content_hash[7:13]}"
                items.append(_item("added", paper_id, doc, notes))
            planned_keys.update({k: paper_id for k in keys if k not in planned_keys})
            tags = apply_tag_edits(doc.tags, self.catalog.tag_edits(paper_id)) if existing_id else tuple(doc.tags)
            paper = Paper(
                paper_id=paper_id,
                title=doc.title,
                authors=tuple(doc.authors),
                year=doc.year,
                arxiv_id=doc.arxiv_id,
                doi=doc.doi,
                url=doc.url,
                abstract=doc.abstract,
                tags=tags,
                source=doc.source,
                source_kind=doc.source_kind,
                content_hash=content_hash,
                flags=tuple(flags),
            )
            flagged.extend(FlaggedPaper(paper_id=paper_id, flag=f) for f in flags)
            chunks = chunk_doc(doc, paper_id, self.config.chunk_words, self.config.chunk_overlap)
            planned[paper_id] = (paper, chunks, keys, _text_len(doc))
        embedded = self._store(planned, planned_keys, progress)
        added = [i.paper_id for i in items if i.status == "added"]
        return IngestReport(
            added=tuple(dict.fromkeys(added)),
            updated=tuple(
                dict.fromkeys(i.paper_id for i in items if i.status == "updated" and i.paper_id not in added)
            ),
            unchanged=sum(i.status == "unchanged" for i in items),
            duplicates=sum(i.status == "duplicate" for i in items),
            chunks_added=sum(len(c) for _, c, _, _ in planned.values()),
            embedded_texts=embedded,
            seconds=time.perf_counter() - started,
            flagged=tuple(flagged),
            items=tuple(items),
        )

    @property
    def arxiv_index(self) -> ArxivTitleIndex | None:
        """The configured local arXiv id -> title index (loaded on first use), or None."""
        if self.config.arxiv_index is None:
            return None
        if self._arxiv_index is None:
            self._arxiv_index = ArxivTitleIndex.load(self.config.arxiv_index)
        return self._arxiv_index

    def _flags(self, doc: ParsedDoc) -> list[str]:
        """Why ``doc``'s metadata cannot be trusted: an arXiv id the local index knows under another title."""
        if not doc.arxiv_id or self.arxiv_index is None:
            return []
        check = check_arxiv_id(doc.arxiv_id, title=doc.title, index=self.arxiv_index)
        if check.status != "title-mismatch":
            return []
        where = f" (line {doc.line})" if doc.line else ""
        flag = (
            f"arXiv {check.arxiv_id} is {check.known_titles[0]!r} in the local arXiv index, not {doc.title!r}: "
            f"the id or the title in {doc.source.split('#')[0]}{where} is wrong"
        )
        log.warning("flagged %s", flag)
        return [flag]

    def _store(
        self,
        planned: dict[str, tuple[Paper, list[Chunk], list[str], int]],
        keys: dict[str, str],
        progress: Progress | None,
    ) -> int:
        if not planned:
            if keys:
                self.catalog.put_keys(keys.items())
                self.catalog.commit()
            return 0
        if self.config.use_chroma:
            self.chroma.count()  # a damaged Chroma store stops the ingest before the catalogue changes
        model_id = self.embedder.model_id
        items = [(paper, chunk) for paper, chunks, _, _ in planned.values() for chunk in chunks]
        texts = [embed_text(paper.title, chunk) for paper, chunk in items]
        hashes = [vector_hash(model_id, t) for t in texts]
        vectors = self._embed_cached(texts, hashes, progress)
        for paper, chunks, _, text_len in planned.values():
            hashes_of = [vector_hash(model_id, embed_text(paper.title, c)) for c in chunks]
            self.catalog.put_paper(paper, chunks, hashes_of, text_len)
        self.catalog.put_keys(keys.items())
        generation = int(self.catalog.get_meta("generation") or 0) + 1
        self.catalog.set_meta("generation", str(generation))
        self.catalog.set_meta("model_id", model_id)
        self.catalog.commit()
        if self.config.use_chroma:
            self.chroma.delete_papers(list(planned))
            self.chroma.upsert(items, vectors)
        self._snapshot = self._rebuild_snapshot(generation)
        return self._embedded_last

    def _embed_cached(
        self, texts: Sequence[str], hashes: Sequence[str], progress: Progress | None
    ) -> npt.NDArray[np.float32]:
        cached = self.catalog.cached_vectors(hashes)
        missing = list(dict.fromkeys(h for h in hashes if h not in cached))
        text_of = dict(zip(hashes, texts, strict=True))
        step = max(self.config.embedding_batch_size * 4, 64)
        for start in range(0, len(missing), step):
            part = missing[start : start + step]
            vecs = self.embedder.embed([text_of[h] for h in part])
            self.catalog.put_vectors(zip(part, vecs, strict=True))
            cached.update(zip(part, vecs, strict=True))
            if progress:
                progress(min(start + step, len(missing)), len(missing), "chunks embedded")
        self._embedded_last = len(missing)
        return np.stack([cached[h] for h in hashes]) if hashes else np.zeros((0, 384), np.float32)

    def embed_hashed(self, texts: Sequence[str], hashes: Sequence[str]) -> npt.NDArray[np.float32]:
        """Vectors of ``texts`` whose cache keys are ``hashes`` (embedded only where the cache misses)."""
        return self._embed_cached(texts, hashes, None)
