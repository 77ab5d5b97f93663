"""Citations in reports: the ``paper_id#chunk_id`` key form and a numbered ``Reference`` from a resolved citation.

The report depends on ``tools.papers``' typed seam only: a ``CitationResolver`` is ``tools.papers.CitationSource``
(``PaperLibrary`` or ``InMemoryCitations``), whose ``resolve`` returns a ``ResolvedCitation`` or raises
``tools.papers.UnknownCitationError``; arXiv ids are checked by ``tools.papers.ids`` alone. Does not cover
retrieval, storage or identifier rules (``tools.papers``).
"""

from __future__ import annotations

import re

from assistant.report.model import Reference
from tools.papers.citations import CitationSource
from tools.papers.models import ResolvedCitation

CitationResolver = CitationSource
"""What resolves citation keys for a report (``tools.papers.CitationSource``)."""

KEY_RE = re.compile(r"^[^\s#<>\"'`{}|\\]+#[^\s#<>\"'`{}|\\]+$")
"""``paper_id#chunk_id``: exactly one ``#``, no whitespace, quotes, angle brackets, braces or pipes."""


def reference_from(number: int, citation: ResolvedCitation) -> Reference:
    """The report's numbered reference for a resolved citation."""
    paper, chunk = citation.paper, citation.chunk
    return Reference(
        key=citation.key,
        number=number,
        title=paper.title or "(untitled)",
        year=paper.year,
        authors=list(paper.authors),
        arxiv_id=paper.arxiv_id,
        url=paper.url,
        anchor=(chunk.anchor or None) if chunk is not None else None,
    )
