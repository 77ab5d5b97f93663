"""Citation keys and references: the resolver protocol, an in-memory resolver, arXiv id checks.

Covers the ``CitationResolver`` protocol that ``tools.papers.PaperLibrary`` satisfies (``resolve(key)`` returning
a record, raising ``UnknownCitationError`` for an unknown key), turning whatever record a resolver returns into a
``Reference``, the ``paper_id#chunk_id`` key form, arXiv id form, and an id -> title index for existence and
title checks. Does not cover retrieval or storage of papers (``tools.papers``).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import json
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from assistant.report.errors import ReportError, UnknownCitationError

KEY_RE = re.compile(r"^[^\s#<>\"'`{}|\\]+#[^\s#<>\"'`{}|\\]+$")
"""``paper_id#chunk_id``: exactly one ``#``, no whitespace, quotes, angle brackets, braces or pipes."""
ARXIV_NEW_RE = re.compile(r"^\d{4}\.\d{4,5}(v\d+)?$")
ARXIV_OLD_RE = re.compile(r"^[a-z]+(-[a-z]+)*(\.[A-Z]{2})?/\d{7}(v\d+)?$")


@runtime_checkable
class CitationResolver(Protocol):
    """Anything that turns a ``paper_id#chunk_id`` key into a record with at least a ``title``.

    The record may be a pydantic model, a dataclass, any object with attributes, or a mapping; ``title``,
    ``year``, ``authors``, ``arxiv_id``, ``url`` and an anchor (``anchor`` or ``section``/``page``) are read
    from it or from its ``paper`` and ``chunk`` attributes (the shape of ``tools.papers.ResolvedCitation``). Unknown keys raise ``UnknownCitationError`` or another
    ``LookupError`` (or the library's own ``UnknownCitationError``), or return None.
    """

    def resolve(self, key: str, /) -> Any:
        """The record for ``key``."""
        ...


class InMemoryResolver:
    """A resolver over a dict of key -> record (mapping or object); for tests, benchmarks and snapshots."""

    def __init__(self, records: Mapping[str, Any]) -> None:
        self._records = dict(records)

    def resolve(self, key: str) -> Any:
        """The record for ``key``; raises ``UnknownCitationError`` when absent."""
        try:
            return self._records[key]
        except KeyError:
            raise UnknownCitationError(f"unknown citation key {key!r}: not in this resolver") from None


@functools.cache
def unknown_citation_errors() -> tuple[type[BaseException], ...]:
    """Exception types meaning "unknown key": ``LookupError`` plus the paper library's own, where installed."""
    found: list[type[BaseException]] = [LookupError]
    for module_name in ("tools.papers", "tools.errors"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        err = getattr(module, "UnknownCitationError", None)
        if isinstance(err, type) and issubclass(err, BaseException) and err not in found:
            found.append(err)
    return tuple(found)


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _pick(obj: Any, *names: str) -> Any:
    for holder in (obj, _get(obj, "paper"), _get(obj, "chunk")):
        if holder is None:
            continue
        for name in names:
            value = _get(holder, name)
            if value not in (None, "", []):
                return value
    return None


def reference_from(key: str, number: int, record: Any) -> Any:
    """Build a ``Reference`` from whatever a resolver returned (see ``CitationResolver``)."""
    from assistant.report.model import Reference

    title = _pick(record, "title")
    year = _pick(record, "year")
    authors = _pick(record, "authors") or []
    if isinstance(authors, str):
        authors = [a.strip() for a in re.split(r";| and ", authors) if a.strip()]
    anchor = _pick(record, "anchor")
    if anchor is None:
        section, page = _pick(record, "section"), _pick(record, "page")
        parts = ([str(section)] if section else []) + ([f"p. {page}"] if page is not None else [])
        anchor = ", ".join(parts) or None
    try:
        year_int = int(year) if year is not None else None
    except (TypeError, ValueError):
        year_int = None
    arxiv = _pick(record, "arxiv_id", "arxiv")
    url = _pick(record, "url")
    return Reference(
        key=key,
        number=number,
        title=str(title) if title else "(untitled)",
        year=year_int,
        authors=[str(a) for a in authors],
        arxiv_id=str(arxiv) if arxiv else None,
        url=str(url) if url else None,
        anchor=str(anchor) if anchor else None,
    )


def arxiv_form_ok(arxiv_id: str) -> bool:
    """True for ``2312.09390``, ``2312.09390v2`` and old-style ``cs.LG/0601001``-like ids."""
    bare = arxiv_id.strip().removeprefix("arXiv:").removeprefix("arxiv:")
    return bool(ARXIV_NEW_RE.match(bare) or ARXIV_OLD_RE.match(bare))


def _norm_title(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().casefold()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


class ArxivIndex:
    """arXiv id -> known titles, to check that a cited id exists and names the cited paper.

    Reads the shape of ``corpus/arxiv_id_title_index.json``: ``{"2312.09390": {"titles": [...]}, ...}``
    (a plain ``{"id": "title"}`` mapping works too).
    """

    def __init__(self, titles: Mapping[str, list[str]], source: str = "(in memory)") -> None:
        self._titles = {k.split("v")[0] if ARXIV_NEW_RE.match(k) else k: v for k, v in titles.items()}
        self.source = source

    @classmethod
    def load(cls, path: Path) -> ArxivIndex:
        """Load an index file; raises ``ReportError`` naming the file when it is missing or malformed."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise ReportError(f"arXiv index {path} not found; pass an existing file or drop the option.") from err
        except json.JSONDecodeError as err:
            raise ReportError(f"arXiv index {path} is not valid JSON (line {err.lineno}): {err.msg}.") from err
        if not isinstance(data, dict):
            raise ReportError(f"arXiv index {path} must be a JSON object of id -> titles.")
        titles: dict[str, list[str]] = {}
        for arxiv_id, entry in data.items():
            if isinstance(entry, str):
                titles[arxiv_id] = [entry]
            elif isinstance(entry, dict) and isinstance(entry.get("titles"), list):
                titles[arxiv_id] = [str(t) for t in entry["titles"]]
        return cls(titles, source=str(path))

    def titles(self, arxiv_id: str) -> list[str] | None:
        """Known titles for an id (version suffix ignored), or None when the index lacks it."""
        bare = arxiv_id.strip().removeprefix("arXiv:").removeprefix("arxiv:")
        bare = re.sub(r"v\d+$", "", bare)
        return self._titles.get(bare)

    def title_matches(self, arxiv_id: str, title: str) -> bool:
        """True when ``title`` matches one of the id's known titles (case, punctuation and accents ignored)."""
        wanted = _norm_title(title)
        for known in self.titles(arxiv_id) or []:
            norm = _norm_title(known)
            if norm == wanted or difflib.SequenceMatcher(None, norm, wanted).ratio() >= 0.9:
                return True
        return False
