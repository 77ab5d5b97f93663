"""Title matching for search: a query that is (nearly) a paper's title puts that paper first.

Covers the title keys stored in the search snapshot (the normalised title with spaces, hyphens and punctuation
removed, so ``Contrast-consistent search`` and ``contrast consistent search`` have one key; and the same for the
main title before a subtitle), and ``title_tiers``: 2 for an exact title, 1 for a near-exact one (the main title
without its subtitle, or a spelling a few characters off, judged among the best-ranked papers only), 0 otherwise.
Does not cover ranking (``retrieval``) or the normalisation rules themselves (``ids.normalise_title``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

import numpy as np
import numpy.typing as npt

from tools.papers.ids import normalise_title

MAX_QUERY_CHARS = 300
"""Longer queries are passages or summaries, not titles: no title matching."""
NEAR_RATIO = 0.9
"""Similarity (difflib ratio of the keys) from which a title counts as near-exact."""
MIN_KEY_CHARS = 6
"""Shorter keys (``RL``, ``GPT-4``) match exactly only."""
_SUBTITLE = re.compile(r"\s*(?::|\s[-\u2013\u2014]\s|\?)\s*")


def title_key(title: str) -> str:
    """The title folded for matching: normalised (case, accents, LaTeX, punctuation), then spaces removed."""
    return normalise_title(title).replace(" ", "")


def main_title_key(title: str) -> str:
    """The key of the title before its subtitle (``AI safety via debate: ...`` -> ``aisafetyviadebate``), or ""
    when the title has no subtitle or its main part is a single word."""
    parts = _SUBTITLE.split(title, maxsplit=1)
    if len(parts) < 2 or len(normalise_title(parts[0]).split()) < 2:
        return ""
    return title_key(parts[0])


class TitleIndex:
    """Title keys of the papers of one snapshot, with look-ups from key to papers."""

    def __init__(self, keys: Sequence[str], main_keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self.main_keys = list(main_keys)
        self._exact: dict[str, list[int]] = {}
        self._main: dict[str, list[int]] = {}
        for i, (key, main) in enumerate(zip(self.keys, self.main_keys, strict=True)):
            if key:
                self._exact.setdefault(key, []).append(i)
            if main:
                self._main.setdefault(main, []).append(i)

    @classmethod
    def of_titles(cls, titles: Sequence[str]) -> TitleIndex:
        """The index of raw titles."""
        return cls([title_key(t) for t in titles], [main_title_key(t) for t in titles])

    def tiers(self, query: str, candidates: Sequence[int]) -> npt.NDArray[np.int8]:
        """Per paper: 2 when ``query`` is its title, 1 when nearly, else 0.

        Args:
            query: The search query.
            candidates: Papers checked for near-exact spellings (the best-ranked ones; exact keys and main titles
                are looked up among all papers).
        """
        tiers = np.zeros(len(self.keys), dtype=np.int8)
        if len(query) > MAX_QUERY_CHARS:
            return tiers
        wanted = title_key(query)
        if len(wanted) < 2:
            return tiers
        tiers[self._main.get(wanted, [])] = 1
        tiers[self._exact.get(wanted, [])] = 2
        if len(wanted) < MIN_KEY_CHARS:
            return tiers
        for i in candidates:
            key = self.keys[i]
            if tiers[i] or len(key) < MIN_KEY_CHARS:
                continue
            matcher = SequenceMatcher(None, wanted, key, autojunk=False)
            if min(matcher.real_quick_ratio(), matcher.quick_ratio()) >= NEAR_RATIO and matcher.ratio() >= NEAR_RATIO:
                tiers[i] = 1
        return tiers
