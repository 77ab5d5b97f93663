"""Papers named by identifier instead of a file: arXiv ids, arXiv URLs and DOIs, filled from the offline index.

Covers recognising an identifier where a path was expected (``1805.00899``, ``arXiv:1805.00899v2``,
``https://arxiv.org/abs/1805.00899``, ``https://arxiv.org/pdf/1805.00899v1``, ``hep-th/9901001``,
``10.48550/arXiv.1805.00899``, ``doi:10.1145/...``, ``https://doi.org/10.1145/...``) and turning an arXiv one into
a title-only ``ParsedDoc`` from the local arXiv id -> title index (title, year from the id, arXiv URL). No network
look-up is ever made: an id the index does not know, and a DOI that is not arXiv's, raise ``PaperFileError``
saying what to add instead. Does not cover dedupe or storage (``library``).
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from tools.papers.ids import ArxivTitleIndex, normalise_arxiv_id, normalise_doi
from tools.papers.models import PaperFileError
from tools.papers.parsers import ParsedDoc

_ARXIV_URL = re.compile(r"^(?:https?:/{1,2})?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/(.+?)(?:\.pdf)?/?$", re.I)
_DOI_URL = re.compile(r"^(?:https?:/{1,2})?(?:dx\.)?doi\.org/(10\..+)$", re.I)
_BARE_DOI = re.compile(r"^(?:doi:\s*)?(10\.\d{4,9}/\S+)$", re.I)


class Identifier(NamedTuple):
    """A paper named by id."""

    kind: Literal["arxiv", "doi"]
    """``arxiv`` (arXiv ids, URLs and arXiv's own DOIs) or ``doi``."""
    value: str
    """The normalised arXiv id or lower-cased DOI."""
    raw: str
    """As given."""
    doi: str | None = None
    """The DOI, when one was given (arXiv's ``10.48550/arXiv.<id>`` included)."""


def parse_identifier(text: str) -> Identifier | None:
    """The identifier ``text`` names, or None when it is not an arXiv id, arXiv URL or DOI."""
    raw = text.strip()
    url = _ARXIV_URL.match(raw)
    if url:
        arxiv = normalise_arxiv_id(url.group(1))
        return Identifier("arxiv", arxiv, raw) if arxiv else None
    arxiv = normalise_arxiv_id(raw)
    if arxiv:
        return Identifier("arxiv", arxiv, raw)
    match = _DOI_URL.match(raw) or _BARE_DOI.match(raw)
    doi = normalise_doi(match.group(1)) if match else None
    if doi is None:
        return None
    if doi.startswith("10.48550/arxiv."):
        arxiv = normalise_arxiv_id(doi.removeprefix("10.48550/arxiv."))
        if arxiv:
            return Identifier("arxiv", arxiv, raw, doi)
    return Identifier("doi", doi, raw, doi)


def _year_of(arxiv_id: str) -> int | None:
    digits = arxiv_id.split("/")[-1][:2] if "/" in arxiv_id else arxiv_id[:2]
    if not digits.isdigit():
        return None
    yy = int(digits)
    return 1900 + yy if yy >= 91 else 2000 + yy


def identifier_doc(ident: Identifier, index: ArxivTitleIndex | None) -> ParsedDoc:
    """A title-only document for ``ident`` from the local arXiv index.

    Raises:
        PaperFileError: a DOI that is not arXiv's, no index configured, or an id the index does not know.
    """
    if ident.kind == "doi":
        raise PaperFileError(
            f"{ident.raw}: DOI {ident.value} cannot be looked up offline (the local index holds arXiv ids only, and "
            "ara makes no network look-ups); add the paper's PDF, or a BibTeX or CSV entry with this DOI"
        )
    if index is None:
        raise PaperFileError(
            f"{ident.raw}: no local arXiv id -> title index is configured to fill in arXiv {ident.value}; set "
            "papers.arxiv_index (e.g. corpus/arxiv_id_title_index.json), or add the paper's PDF or a BibTeX entry"
        )
    titles = index.titles(ident.value)
    if not titles:
        raise PaperFileError(
            f"{ident.raw}: arXiv {ident.value} is not in the local arXiv index ({index.source}, {len(index)} ids) "
            f"and ara makes no network look-ups; add the paper's PDF, a BibTeX entry, or a line "
            f"'{ident.value} <title>' in a .txt arXiv list"
        )
    return ParsedDoc(
        title=titles[0],
        source=f"arxiv:{ident.value}",
        source_kind="identifier",
        arxiv_id=ident.value,
        doi=ident.doi,
        year=_year_of(ident.value),
        url=f"https://arxiv.org/abs/{ident.value}",
        notes=[f"metadata from the local arXiv index {index.source} (title only)"],
    )
