"""Exporting references: BibTeX and CSL-JSON for papers of the library or a report's reference list.

Covers ``BibRecord`` (the fields a reference manager needs, from a ``Paper`` or from a report's resolved
reference), citation keys in the Google Scholar style (``irving2018ai``, made unique with a/b/c), LaTeX escaping
of BibTeX values (so ``R&D`` and ``50%`` survive a LaTeX build and our own BibTeX import reads them back), and
CSL-JSON as Zotero, pandoc and citeproc read it. Does not cover choosing which papers (the CLI does).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from tools.papers.models import Paper

_KEY_SKIP = frozenset({"a", "an", "the", "on", "of", "in", "for", "to", "and", "towards", "toward"})
_LATEX = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


class BibRecord(BaseModel):
    """One reference to export."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paper_id: str
    """The library's paper id (``arxiv:1805.00899``), kept in the export as a note."""
    title: str
    """Title."""
    authors: tuple[str, ...] = ()
    """Authors as stored (``Last, First`` or ``First Last``)."""
    year: int | None = None
    """Year."""
    arxiv_id: str | None = None
    """arXiv id."""
    doi: str | None = None
    """DOI."""
    url: str | None = None
    """Link."""
    abstract: str = ""
    """Abstract."""
    tags: tuple[str, ...] = ()
    """Tags, exported as keywords."""

    @classmethod
    def of_paper(cls, paper: Paper) -> BibRecord:
        """The record of a stored paper."""
        return cls(
            paper_id=paper.paper_id,
            title=paper.title,
            authors=paper.authors,
            year=paper.year,
            arxiv_id=paper.arxiv_id,
            doi=paper.doi,
            url=paper.url,
            abstract=paper.abstract,
            tags=paper.tags,
        )


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in folded if ch.isascii() and ch.isalnum()).lower()


def split_name(author: str) -> tuple[str, str]:
    """(family, given) of ``Last, First`` or ``First Last``; a single word is a family name."""
    if "," in author:
        family, _, given = author.partition(",")
        return family.strip(), given.strip()
    parts = author.split()
    if len(parts) < 2:
        return author.strip(), ""
    return parts[-1], " ".join(parts[:-1])


def citation_keys(records: Sequence[BibRecord]) -> list[str]:
    """A unique key per record: first author's family name, year, first word of the title (``irving2018ai``)."""
    base = []
    for record in records:
        family = _ascii(split_name(record.authors[0])[0]) if record.authors else ""
        words = [_ascii(w) for w in record.title.split()]
        word = next((w for w in words if w and w not in _KEY_SKIP), "") or next((w for w in words if w), "")
        base.append(f"{family}{record.year or ''}{word}" or "ref")
    counts: dict[str, int] = {}
    for key in base:
        counts[key] = counts.get(key, 0) + 1
    seen: dict[str, int] = {}
    keys = []
    for key in base:
        if counts[key] == 1:
            keys.append(key)
            continue
        seen[key] = seen.get(key, 0) + 1
        keys.append(key + _suffix(seen[key]))
    return keys


def _suffix(n: int) -> str:
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped and white space collapsed."""
    return "".join(_LATEX.get(ch, ch) for ch in " ".join(text.split()))


def to_bibtex(records: Sequence[BibRecord]) -> str:
    """BibTeX entries (``@misc``, arXiv ids as ``eprint`` with ``archivePrefix``); titles double-braced so their
    capitalisation survives."""
    entries = []
    for key, record in zip(citation_keys(records), records, strict=True):
        fields: list[tuple[str, str]] = [("title", "{" + latex_escape(record.title) + "}")]
        if record.authors:
            fields.append(("author", " and ".join(latex_escape(a) for a in record.authors)))
        if record.year is not None:
            fields.append(("year", str(record.year)))
        if record.arxiv_id:
            fields += [("eprint", record.arxiv_id), ("archivePrefix", "arXiv")]
        if record.doi:
            fields.append(("doi", latex_escape(record.doi)))
        if record.url:
            fields.append(("url", record.url.replace("}", "%7D").replace("{", "%7B")))
        if record.tags:
            fields.append(("keywords", ", ".join(latex_escape(t) for t in record.tags)))
        if record.abstract:
            fields.append(("abstract", latex_escape(record.abstract)))
        fields.append(("note", f"ara paper id: {latex_escape(record.paper_id)}"))
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        entries.append(f"@misc{{{key},\n{body}\n}}")
    return "\n\n".join(entries) + ("\n" if entries else "")


def to_csl_json(records: Sequence[BibRecord]) -> list[dict[str, Any]]:
    """CSL-JSON items (``type`` article; arXiv preprints with ``publisher`` arXiv and ``number`` arXiv:<id>)."""
    items: list[dict[str, Any]] = []
    for key, record in zip(citation_keys(records), records, strict=True):
        item: dict[str, Any] = {"id": key, "type": "article", "title": record.title}
        if record.authors:
            item["author"] = [_csl_name(a) for a in record.authors]
        if record.year is not None:
            item["issued"] = {"date-parts": [[record.year]]}
        if record.arxiv_id:
            item["publisher"] = "arXiv"
            item["number"] = f"arXiv:{record.arxiv_id}"
        if record.doi:
            item["DOI"] = record.doi
        if record.url:
            item["URL"] = record.url
        if record.abstract:
            item["abstract"] = record.abstract
        if record.tags:
            item["keyword"] = ", ".join(record.tags)
        item["note"] = f"ara paper id: {record.paper_id}"
        items.append(item)
    return items


def _csl_name(author: str) -> dict[str, str]:
    family, given = split_name(author)
    return {"family": family, "given": given} if given else {"literal": author.strip()}
