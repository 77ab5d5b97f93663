"""Chunking: parsed sections -> ``Chunk`` records that keep their section title and page as anchors.

Chunks are sentence-aligned windows of at most ``max_words`` words (MiniLM reads 256 word pieces; ~1.3 pieces
per word leaves room for the title prefix that ``embed_text`` adds) with a small overlap, never crossing a
section or page boundary. Does not cover embedding or storage.
"""

from __future__ import annotations

import re

from tools.papers.models import Chunk
from tools.papers.parsers import ParsedDoc, Section

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\[(\"'])")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (a regex splitter: full stop, question or exclamation mark, then a capital)."""
    return [s.strip() for s in _SENTENCE.split(text.replace("\n", " ")) if s.strip()]


def _windows(text: str, max_words: int, overlap: int) -> list[str]:
    sentences = split_sentences(text)
    out: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        words = sentence.split()
        while len(words) > max_words:
            if current:
                out.append(" ".join(current))
                current = []
            out.append(" ".join(words[:max_words]))
            words = words[max_words - overlap :]
        if current and len(current) + len(words) > max_words:
            out.append(" ".join(current))
            current = current[-overlap:] if overlap else []
            if len(current) + len(words) > max_words:
                current = []
        current.extend(words)
    if current:
        out.append(" ".join(current))
    return out


def chunk_doc(doc: ParsedDoc, paper_id: str, max_words: int = 160, overlap: int = 24) -> list[Chunk]:
    """Chunks of one parsed document: the abstract first (anchor ``abstract``), then each section's windows.

    A document with no text at all (a bibliography entry without abstract) gets one chunk holding its title,
    so every paper can be found and cited.
    """
    sections = ([Section(title="abstract", text=doc.abstract)] if doc.abstract.strip() else []) + doc.sections
    chunks: list[Chunk] = []
    for section in sections:
        for window in _windows(section.text, max_words, overlap):
            chunks.append(
                Chunk(
                    paper_id=paper_id,
                    chunk_id=f"c{len(chunks)}",
                    ordinal=len(chunks),
                    text=window,
                    section=section.title[:200],
                    page=section.page,
                )
            )
    if not chunks:
        chunks.append(Chunk(paper_id=paper_id, chunk_id="c0", ordinal=0, text=doc.title, section="title"))
    return chunks


def embed_text(title: str, chunk: Chunk) -> str:
    """The text embedded (and BM25-indexed) for a chunk: the paper title, the section, then the passage.

    The title gives every passage its paper's context; a title-only chunk is not repeated.
    """
    if chunk.section == "title":
        return title
    section = f" ({chunk.section})" if chunk.section and chunk.section != "abstract" else ""
    return f"{title}{section}. {chunk.text}"
