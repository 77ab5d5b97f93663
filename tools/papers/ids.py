"""Identifiers: arXiv ids (form check and extraction), DOIs, normalised titles, stable paper ids, and an
arXiv id -> title index for checking that a cited id exists and matches its title.

Covers pure string work and reading the index file the caller names. Does not cover network look-ups (none
are possible offline).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import Literal, NamedTuple

from tools.errors import UserInputError

_NEW_ARXIV = re.compile(r"^(\d{2})(\d{2})\.(\d{4,5})(v\d+)?$")
_OLD_ARXIV = re.compile(r"^([a-z\-]+(?:\.[A-Z]{2})?)/(\d{7})(v\d+)?$")
_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf)/|arxiv:\s*)([a-z\-]+(?:\.[A-Z]{2})?/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?", re.IGNORECASE
)
_DOI = re.compile(r"(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)

ArxivCheck = Literal["ok", "malformed", "unknown", "title-mismatch"]


def normalise_arxiv_id(raw: str) -> str | None:
    """Canonical arXiv id (no ``arXiv:`` prefix, no version) or None when ``raw`` is not of arXiv form.

    New-style ids need a real month (01-12) and 4 digits (2007-2014) or 5 digits (2015 on) after the dot.
    """
    text = raw.strip()
    text = re.sub(r"^(?:arxiv:|https?://arxiv\.org/(?:abs|pdf)/)", "", text, flags=re.IGNORECASE)
    text = text.removesuffix(".pdf")
    match = _NEW_ARXIV.match(text)
    if match:
        yy, mm, number = int(match.group(1)), int(match.group(2)), match.group(3)
        if not 1 <= mm <= 12 or (yy, mm) < (7, 4):
            return None
        if len(number) != (5 if yy >= 15 else 4):
            return None
        return f"{match.group(1)}{match.group(2)}.{number}"
    match = _OLD_ARXIV.match(text)
    if match:
        return f"{match.group(1)}/{match.group(2)}"
    return None


def find_arxiv_id(*texts: str | None) -> str | None:
    """First arXiv id mentioned in ``texts`` (``arXiv:1706.03741``, an arxiv.org URL), normalised."""
    for text in texts:
        if not text:
            continue
        for match in _ARXIV_IN_TEXT.finditer(text):
            found = normalise_arxiv_id(match.group(1))
            if found:
                return found
    return None


def normalise_doi(raw: str | None) -> str | None:
    """Lower-cased DOI without resolver prefix or trailing punctuation; None when absent."""
    if not raw:
        return None
    match = _DOI.search(raw)
    if not match:
        return None
    return match.group(1).rstrip(".,;)").lower()


def normalise_title(title: str) -> str:
    """Title folded for matching: ASCII-folded, lower case, LaTeX braces and punctuation dropped."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"\\[a-zA-Z]+", " ", text).replace("{", "").replace("}", "")
    text = re.sub(r"[^a-z0-9]+", " ", text.lower())
    return " ".join(text.split())


def paper_id_for(*, arxiv_id: str | None, doi: str | None, title: str) -> str:
    """Stable paper id: ``arxiv:<id>``, else ``doi:<doi>``, else ``t:<12 hex of the normalised title>``."""
    if arxiv_id:
        return f"arxiv:{arxiv_id}"
    if doi:
        return f"doi:{doi}"
    digest = hashlib.sha256(normalise_title(title).encode()).hexdigest()[:12]
    return f"t:{digest}"


class ArxivCheckResult(NamedTuple):
    """Outcome of ``check_arxiv_id``."""

    status: ArxivCheck
    """ok, malformed, unknown (not in the index) or title-mismatch."""
    arxiv_id: str | None
    """The normalised id (None when malformed)."""
    known_titles: tuple[str, ...]
    """Titles the index holds for the id."""


class ArxivTitleIndex:
    """arXiv id -> titles, read from a JSON file such as ``corpus/arxiv_id_title_index.json``.

    Accepts ``{"id": "title"}``, ``{"id": ["t1", ...]}`` or ``{"id": {"titles": [...]}}`` shapes.
    """

    def __init__(self, titles: Mapping[str, Sequence[str]], source: str = "(in memory)") -> None:
        self._titles: dict[str, tuple[str, ...]] = {}
        for key, found in titles.items():
            norm = normalise_arxiv_id(str(key))
            if norm is not None:
                self._titles[norm] = tuple(found)
        self.source = source
        """Where the index came from (a file path), named in check messages."""

    @classmethod
    def load(cls, path: Path) -> ArxivTitleIndex:
        """Read the index file at ``path``.

        Raises:
            UserInputError: the file is missing, not JSON, or not an object of id -> titles (file named).
        """
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise UserInputError(f"arXiv index {path} not found; pass an existing file or drop the option.") from err
        except json.JSONDecodeError as err:
            raise UserInputError(f"arXiv index {path} is not valid JSON (line {err.lineno}): {err.msg}.") from err
        if isinstance(raw, dict) and "index" in raw and isinstance(raw["index"], dict):
            raw = raw["index"]
        if not isinstance(raw, dict):
            raise UserInputError(f"arXiv index {path} must be a JSON object of id -> titles, not {type(raw).__name__}.")
        titles: dict[str, tuple[str, ...]] = {}
        for key, value in raw.items():
            norm = normalise_arxiv_id(str(key))
            if norm is None:
                continue
            if isinstance(value, str):
                found: list[str] = [value]
            elif isinstance(value, list):
                found = [v for v in value if isinstance(v, str)]
            elif isinstance(value, dict):
                inner = value.get("titles", value.get("title")) or []
                found = [inner] if isinstance(inner, str) else [v for v in inner if isinstance(v, str)]
            else:
                found = []
            titles[norm] = tuple(found)
        return cls(titles, source=str(path))

    def __len__(self) -> int:
        return len(self._titles)

    def titles(self, arxiv_id: str) -> tuple[str, ...]:
        """Known titles of ``arxiv_id`` (empty when unknown)."""
        norm = normalise_arxiv_id(arxiv_id)
        return self._titles.get(norm, ()) if norm else ()

    def __contains__(self, arxiv_id: object) -> bool:
        return isinstance(arxiv_id, str) and bool(normalise_arxiv_id(arxiv_id) in self._titles)


def titles_match(a: str, b: str, threshold: float = 0.85) -> bool:
    """Whether two titles name the same paper (normalised, then a similarity ratio or containment)."""
    na, nb = normalise_title(a), normalise_title(b)
    if not na or not nb:
        return False
    if na == nb or (min(len(na), len(nb)) >= 20 and (na in nb or nb in na)):
        return True
    return SequenceMatcher(None, na, nb).ratio() >= threshold


def check_arxiv_id(
    arxiv_id: str, *, title: str | None = None, index: ArxivTitleIndex | None = None
) -> ArxivCheckResult:
    """Check an arXiv id's form and, given an index, that it exists and (given a title) that the title matches.

    Args:
        arxiv_id: The id as cited (``1706.03741``, ``arXiv:1706.03741v2``, ``cs.LG/0101001``).
        title: The title the citation claims, if any.
        index: Known ids and titles (e.g. ``ArxivTitleIndex.load(corpus / "arxiv_id_title_index.json")``).

    Returns:
        ``ok`` when well formed (and known, and the title matches, when those were given); otherwise
        ``malformed``, ``unknown`` or ``title-mismatch``.
    """
    norm = normalise_arxiv_id(arxiv_id)
    if norm is None:
        return ArxivCheckResult("malformed", None, ())
    if index is None:
        return ArxivCheckResult("ok", norm, ())
    known = index.titles(norm)
    if not known:
        return ArxivCheckResult("unknown", norm, ())
    if title is not None and not any(titles_match(title, t) for t in known):
        return ArxivCheckResult("title-mismatch", norm, known)
    return ArxivCheckResult("ok", norm, known)
