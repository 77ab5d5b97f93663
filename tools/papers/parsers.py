"""Parsers: one file -> parsed documents, chosen by suffix; directories walked.

Covers the suffix -> parser table (single documents from ``documents``: PDF, HTML, Markdown, LaTeX; files of many
entries from ``entries``: BibTeX, CSV, arXiv id lists), the size and emptiness checks made before reading, arXiv's
own DOIs turned into arXiv ids (the DOI is kept), and walking directories. Re-exports the parsed shapes. Every
failure raises ``PaperFileError`` naming the file and what to do. Does not cover chunking, dedupe or storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from tools.papers.documents import (
    MAX_FILE_BYTES,
    Parsed,
    ParsedDoc,
    Section,
    parse_html,
    parse_latex,
    parse_markdown,
    parse_pdf,
    read_text,
)
from tools.papers.entries import (
    arxiv_list_entries,
    bibtex_entries,
    csv_entries,
    parse_arxiv_list,
    parse_bibtex,
    parse_csv,
)
from tools.papers.ids import normalise_arxiv_id
from tools.papers.models import PaperFileError

__all__ = [
    "MAX_FILE_BYTES",
    "PARSERS",
    "Parsed",
    "ParsedDoc",
    "Section",
    "parse_file",
    "parse_file_entries",
    "read_text",
    "walk",
]


PARSERS: dict[str, Callable[[Path], list[ParsedDoc]]] = {
    ".pdf": parse_pdf,
    ".html": parse_html,
    ".htm": parse_html,
    ".ejs": parse_html,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".tex": parse_latex,
    ".bib": parse_bibtex,
    ".csv": parse_csv,
    ".txt": parse_arxiv_list,
    ".jsonl": parse_arxiv_list,
}
"""File suffix -> parser. Files with other suffixes are skipped when a directory is walked."""


_WITH_SKIPS: dict[str, Callable[[Path], Parsed]] = {
    ".bib": bibtex_entries,
    ".csv": csv_entries,
    ".txt": arxiv_list_entries,
    ".jsonl": arxiv_list_entries,
}
"""Formats holding many entries, some of which may be skipped (each reported with its line and why)."""


def parse_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> list[ParsedDoc]:
    """Parse one file by its suffix; raises ``PaperFileError`` on any failure."""
    return parse_file_entries(path, max_bytes).docs


def parse_file_entries(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Parsed:
    """Parse one file by its suffix: its papers and the entries skipped (with line and reason).

    Raises:
        PaperFileError: the file cannot be read or holds no paper at all.
    """
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        raise PaperFileError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; supported: {', '.join(sorted(PARSERS))}"
        )
    try:
        size = path.stat().st_size
    except OSError as err:
        raise PaperFileError(f"{path}: cannot read the file ({err.strerror})") from err
    if size > max_bytes:
        raise PaperFileError(
            f"{path}: file is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit; split it or "
            "raise max_file_bytes"
        )
    if size == 0:
        raise PaperFileError(f"{path}: file is empty")
    multi = _WITH_SKIPS.get(path.suffix.lower())
    parsed = multi(path) if multi is not None else Parsed(parser(path), [])
    docs = parsed.docs
    for doc in docs:
        if doc.doi and doc.doi.startswith("10.48550/arxiv."):  # arXiv's own DOIs name the arXiv id
            doc.arxiv_id = doc.arxiv_id or normalise_arxiv_id(doc.doi.removeprefix("10.48550/arxiv."))
    return parsed


def walk(paths: list[Path]) -> Iterator[Path]:
    """Files under ``paths`` (directories walked recursively, sorted) with a supported suffix; files as given."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in PARSERS and not child.name.startswith("."):
                    yield child
        else:
            yield path
