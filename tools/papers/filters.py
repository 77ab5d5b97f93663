"""Metadata filters over the library's papers, and the plain message when a filter matches no paper.

Covers ``Filters`` (year range, author, tag, source kind), ``matches`` (one paper against them) and
``NoMatchError``: a filter that selects nothing names the value no paper has (an unknown tag, with the tags the
library does have) or the combination that excludes everything. Does not cover ranking (``retrieval``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from tools.errors import UserInputError
from tools.papers.models import Paper


class Filters(BaseModel):
    """Metadata filters for ``search`` and ``list_papers`` (all given conditions must hold)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    year_min: int | None = None
    """Earliest year (inclusive); papers without a year are excluded when set."""
    year_max: int | None = None
    """Latest year (inclusive)."""
    author: str | None = None
    """Case-insensitive substring of any author name."""
    tag: str | None = None
    """Case-insensitive exact tag."""
    source_kind: str | None = None
    """Only papers read by this parser (``pdf``, ``csv``...)."""

    def describe(self) -> str:
        """The filters as a user wrote them (``--tag debate --year-min 2020``)."""
        parts = [
            f"--{name.replace('_', '-')} {value}"
            for name, value in (
                ("year_min", self.year_min),
                ("year_max", self.year_max),
                ("author", self.author),
                ("tag", self.tag),
                ("source_kind", self.source_kind),
            )
            if value is not None
        ]
        return " ".join(parts)


class NoMatchError(UserInputError):
    """A filter selects no paper of the library; the message names what the library has instead."""

    title = "No papers match"


def matches(paper: Paper, filters: Filters) -> bool:
    """Whether ``paper`` passes every condition of ``filters``."""
    year = paper.year
    if filters.year_min is not None and (year is None or year < filters.year_min):
        return False
    if filters.year_max is not None and (year is None or year > filters.year_max):
        return False
    if filters.author and not any(filters.author.lower() in a.lower() for a in paper.authors):
        return False
    if filters.tag and filters.tag.lower() not in {t.lower() for t in paper.tags}:
        return False
    return not (filters.source_kind and paper.source_kind != filters.source_kind)


def _counted(values: Iterable[str], limit: int = 12) -> str:
    counts = Counter(values).most_common()
    shown = ", ".join(f"{value} ({n})" for value, n in counts[:limit])
    return shown + (f" and {len(counts) - limit} more" if len(counts) > limit else "")


def no_match_error(papers: Sequence[Paper], filters: Filters) -> NoMatchError:
    """Why no paper passes ``filters``: the first condition no paper meets on its own, or the combination."""
    if not papers:
        return NoMatchError("the paper library is empty; add papers first with 'ara papers add PATH'")
    if filters.tag and not any(matches(p, Filters(tag=filters.tag)) for p in papers):
        tags = _counted(t for p in papers for t in dict.fromkeys(x.lower() for x in p.tags))
        have = f"tags in the library: {tags}" if tags else "no paper has any tag yet (add one with 'ara papers tag')"
        return NoMatchError(f"no paper has the tag {filters.tag!r}; {have}")
    if filters.author and not any(matches(p, Filters(author=filters.author)) for p in papers):
        return NoMatchError(
            f"no author name in the library contains {filters.author!r}; try part of a last name (e.g. 'irving')"
        )
    if filters.source_kind and not any(matches(p, Filters(source_kind=filters.source_kind)) for p in papers):
        return NoMatchError(
            f"no paper was read as {filters.source_kind!r}; kinds in the library: "
            f"{_counted(p.source_kind for p in papers)}"
        )
    years = sorted(p.year for p in papers if p.year is not None)
    span = f"years in the library run from {years[0]} to {years[-1]}" if years else "no paper has a year"
    undated = sum(p.year is None for p in papers)
    span += f" ({undated} paper(s) without a year never pass a year filter)" if undated and years else ""
    return NoMatchError(f"no paper matches {filters.describe()}; {span}")
