"""Answers grounded in the paper library: find relevant passages, quote them as data, check what is cited.

Covers ``find_passages`` (hybrid search over the prompt; a passage is kept when its cosine similarity to the prompt
reaches ``RELEVANCE``, or it holds every content word of the prompt and its similarity reaches
``SUPPORTED_RELEVANCE`` (an acronym such as "What is CCS?" embeds poorly), or the prompt is the paper's title: both
thresholds are measured in ``bench/retrieval.py``), ``grounded_prompt`` (the passages quoted as untrusted data with their ``paper#chunk``
keys, then the instruction to cite them, then the question), and ``check_citations`` (every key the answer
cites, marked known when it is one of the passages given). Does not cover the model call or printing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from assistant.chat.log import Citation
from tools.papers.evidence import render_evidence
from tools.papers.sparse import tokenize

if TYPE_CHECKING:
    from tools.papers import Hit, PaperLibrary

RELEVANCE = 0.425
"""Cosine similarity (MiniLM) from which a passage counts as relevant to a chat prompt. Measured on the dev
pairs (short questions about a paper in the library vs prompts about nothing in it): docs/benchmarks.md."""
SUPPORTED_RELEVANCE = 0.3
"""The lower similarity that suffices when the passage (with its title) holds every content word of the prompt."""
MAX_PASSAGES = 6
"""Passages quoted with one prompt at most (two per paper at most)."""

INSTRUCTIONS = (
    "Answer the question below. Where one of the passages above supports a statement, cite it right after the "
    "statement by its key in square brackets, exactly as shown in the passage header (key=...). Cite only those "
    "keys. If the passages do not answer the question, say so and answer from general knowledge without citations."
)
_KEY = re.compile(r"(?:arxiv|doi|t):[^\s\[\]()#,;\"']+#c\d+")


def find_passages(
    library: PaperLibrary, prompt: str, *, k: int = MAX_PASSAGES, threshold: float = RELEVANCE
) -> list[Hit]:
    """The library's passages relevant to ``prompt`` (best first; empty when none reaches ``threshold``)."""
    snapshot = library.snapshot
    if snapshot is None or snapshot.n_chunks == 0:
        return []
    hits = library.search(prompt, k=k, max_per_paper=2)
    return [h for h in hits if is_relevant(prompt, h, threshold)]


def term_coverage(prompt: str, hit: Hit) -> float:
    """Share of the prompt's content words (BM25 tokens) found in the passage or its paper's title."""
    wanted = set(tokenize(prompt))
    if not wanted:
        return 0.0
    return len(wanted & set(tokenize(f"{hit.title} {hit.text}"))) / len(wanted)


def is_relevant(prompt: str, hit: Hit, threshold: float = RELEVANCE, supported: float = SUPPORTED_RELEVANCE) -> bool:
    """Whether ``hit`` is quoted for ``prompt``: a title match, a similarity of ``threshold``, or every content
    word of the prompt in the passage with a similarity of ``supported``."""
    similarity = hit.similarity or 0.0
    if hit.title_match is not None or similarity >= threshold:
        return True
    return similarity >= supported and term_coverage(prompt, hit) >= 1.0


def grounded_prompt(prompt: str, hits: Sequence[Hit]) -> str:
    """The user message: the passages as quoted data with their keys, the citation instruction, the question
    (the prompt as it is when there are no passages)."""
    if not hits:
        return prompt
    return f"{render_evidence(hits)}\n\n{INSTRUCTIONS}\n\nQuestion: {prompt}"


def cited_keys(text: str) -> list[str]:
    """``paper#chunk`` keys in ``text``, in order of first mention."""
    return list(dict.fromkeys(m.group(0) for m in _KEY.finditer(text)))


def check_citations(text: str, hits: Sequence[Hit]) -> list[Citation]:
    """Each key the answer cites, ``known`` when it is one of the passages given."""
    given = {h.key for h in hits}
    return [Citation(key=key, known=key in given) for key in cited_keys(text)]
