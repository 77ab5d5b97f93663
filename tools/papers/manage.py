"""Curating the library by hand: list papers, remove them, add and remove tags.

Covers ``list_papers`` (filtered, in the order added), ``remove_papers`` (catalogue rows, dedupe keys, tag edits,
Chroma chunks and the search snapshot, in an order that leaves every part consistent when a step fails) and
``edit_tags``. Tags a person adds or removes are kept as edits in the catalogue and applied again when the paper
is re-imported, so a changed source never undoes them. Does not cover ingest or search (``library``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from tools.errors import UserInputError
from tools.papers.catalog import vector_hash
from tools.papers.chunking import embed_text
from tools.papers.filters import Filters, matches, no_match_error
from tools.papers.models import Paper

if TYPE_CHECKING:
    from tools.papers.library import PaperLibrary

_BAD_TAG = re.compile(r"[,;\n\r\t]")


class UnknownPaperError(UserInputError):
    """A paper id given by a person is not in the library."""

    title = "Unknown paper"


class RemoveReport(BaseModel):
    """What ``remove_papers`` removed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    removed: tuple[Paper, ...]
    """The papers removed, as they were stored."""
    chunks: int
    """Chunks removed with them (from the catalogue, the search index and Chroma)."""


class TagReport(BaseModel):
    """What ``edit_tags`` changed on one paper."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paper: Paper
    """The paper with its tags after the edit."""
    added: tuple[str, ...] = ()
    """Tags it did not have before."""
    removed: tuple[str, ...] = ()
    """Tags it had before."""
    unchanged: tuple[str, ...] = ()
    """Tags asked for that it already had (tag) or already lacked (untag)."""


def apply_tag_edits(tags: Sequence[str], edits: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """``tags`` with a person's edits applied in order (case-insensitive; the first spelling kept)."""
    out = list(tags)
    for tag, op in edits:
        present = [t for t in out if t.lower() == tag.lower()]
        if op == "add" and not present:
            out.append(tag)
        elif op == "remove":
            out = [t for t in out if t.lower() != tag.lower()]
    return tuple(out)


def list_papers(lib: PaperLibrary, filters: Filters | None = None) -> list[Paper]:
    """Papers in the order they were added; raises ``NoMatchError`` when filters select none."""
    papers = list(lib.catalog.papers())
    if filters is None or filters == Filters():
        return papers
    kept = [p for p in papers if matches(p, filters)]
    if not kept:
        raise no_match_error(papers, filters)
    return kept


def _known(lib: PaperLibrary, paper_ids: Sequence[str]) -> list[Paper]:
    found, missing = [], []
    for paper_id in dict.fromkeys(paper_ids):
        paper = lib.catalog.get_paper(paper_id.strip())
        if paper is None:
            missing.append(paper_id)
        else:
            found.append(paper)
    if missing:
        hint = "; paper ids look like arxiv:1805.00899, doi:10.1145/... or t:<hex> (see 'ara papers list')"
        raise UnknownPaperError(
            f"no paper {', '.join(repr(m) for m in missing)} in the library{hint}. Nothing was changed."
        )
    return found


def remove_papers(lib: PaperLibrary, paper_ids: Sequence[str]) -> RemoveReport:
    """Remove papers from the catalogue, the search index and Chroma.

    Every id is checked and the Chroma store opened before anything changes; the catalogue is committed in one
    transaction, then Chroma and the index follow (a Chroma failure after the commit says to run
    ``ara papers reindex``, which rebuilds both from the catalogue). Cached vectors stay.

    Raises:
        UnknownPaperError: an id is not in the library (nothing removed).
        LibraryStoreError: the Chroma store cannot be read (nothing removed).
    """
    papers = _known(lib, paper_ids)
    chroma = lib.config.use_chroma and (lib.store_dir / "chroma").exists()
    if chroma:
        lib.chroma.count()
    chunks = sum(len(lib.catalog.chunks_of(p.paper_id)) for p in papers)
    try:
        for paper in papers:
            lib.catalog.delete_paper(paper.paper_id)
        generation = int(lib.catalog.get_meta("generation") or 0) + 1
        lib.catalog.set_meta("generation", str(generation))
    except BaseException:
        lib.catalog.rollback()
        raise
    lib.catalog.commit()
    if chroma:
        lib.chroma.delete_papers([p.paper_id for p in papers])
    lib.rebuild_snapshot()
    return RemoveReport(removed=tuple(papers), chunks=chunks)


def _check_tags(tags: Sequence[str]) -> list[str]:
    cleaned = [t.strip() for t in tags]
    for tag in cleaned:
        if not tag or _BAD_TAG.search(tag) or len(tag) > 100:
            raise UserInputError(
                f"{tag!r} is not a usable tag: tags are 1-100 characters without commas, semicolons or line breaks "
                "(give several tags as separate arguments)"
            )
    return cleaned


def edit_tags(lib: PaperLibrary, paper_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()) -> TagReport:
    """Add and remove tags of one paper (kept across re-imports); Chroma's copy of the tags follows.

    Raises:
        UnknownPaperError: no such paper.
        UserInputError: a tag is empty or holds a comma, semicolon or line break.
        LibraryStoreError: the Chroma store cannot be read (nothing changed).
    """
    [paper] = _known(lib, [paper_id])
    to_add, to_remove = _check_tags(add), _check_tags(remove)
    have = {t.lower() for t in paper.tags}
    added = tuple(t for t in dict.fromkeys(to_add) if t.lower() not in have)
    removed = tuple(t for t in paper.tags if t.lower() in {r.lower() for r in to_remove})
    unchanged = tuple(t for t in to_add if t.lower() in have) + tuple(t for t in to_remove if t.lower() not in have)
    edits = [(t, "add") for t in added] + [(t, "remove") for t in removed]
    updated = paper.model_copy(update={"tags": apply_tag_edits(paper.tags, edits)})
    if not edits:
        return TagReport(paper=paper, unchanged=unchanged)
    chroma = lib.config.use_chroma and (lib.store_dir / "chroma").exists()
    if chroma:
        lib.chroma.count()
    for tag, op in edits:
        lib.catalog.put_tag_edit(paper.paper_id, tag, op)
    lib.catalog.put_record(updated)
    lib.catalog.commit()
    if chroma:
        chunks = lib.catalog.chunks_of(paper.paper_id)
        model_id = lib.catalog.get_meta("model_id") or lib.embedder.model_id
        texts = [embed_text(updated.title, c) for c in chunks]
        vectors = lib.embed_hashed(texts, [vector_hash(model_id, t) for t in texts])
        lib.chroma.upsert([(updated, c) for c in chunks], vectors)
    return TagReport(paper=updated, added=added, removed=removed, unchanged=unchanged)
