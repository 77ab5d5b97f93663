"""Sparse retrieval: a tokenizer (lower case, stop words, light suffix stemming, hyphen- and spacing-insensitive
compounds) and a BM25 index stored as precomputed per-posting impacts in numpy arrays, so a saved index loads in
milliseconds and scores a query with one ``bincount``.

Covers Okapi BM25 (Robertson idf with the +1 floor that rank-bm25's ``BM25Okapi`` replaces with an epsilon; the
ranking is the same for any term present in under half the documents) with query-term frequency weighting.
Does not cover dense retrieval or fusion.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

TOKENIZER_VERSION = 3
"""Bumped whenever ``tokenize`` changes, so saved BM25 indexes are rebuilt. Version 2 (hyphenated words kept as
one token) stays available to ``tokenize(..., version=2)`` so benchmarks can compare both in one run."""
_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u00ad"})
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "et",
        "al",
        "paper",
        "papers",
        "propose",
        "proposes",
        "proposed",
        "show",
        "shows",
        "shown",
        "use",
        "uses",
        "used",
        "using",
        "also",
        "however",
        "thus",
        "may",
        "might",
        "one",
        "two",
        "new",
        "work",
        "works",
        "approach",
        "method",
        "methods",
        "results",
        "result",
        "via",
        "e",
        "g",
        "i",
        "e",
        "s",
        "t",
    ]
)


def stem(word: str) -> str:
    """A light English suffix stripper (plurals, -ing, -ed, -ly, -ation...): merges common inflections only."""
    if len(word) <= 4 or word.isdigit():
        return word
    for suffix, repl in (
        ("izations", "ize"),
        ("isations", "ize"),
        ("ational", "ate"),
        ("ization", "ize"),
        ("isation", "ize"),
        ("fulness", "ful"),
        ("iveness", "ive"),
        ("ations", "ate"),
        ("ation", "ate"),
        ("ities", "ity"),
        ("ingly", ""),
        ("edly", ""),
        ("ies", "y"),
        ("ing", ""),
        ("ness", ""),
        ("ment", ""),
        ("ally", "al"),
        ("ly", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: len(word) - len(suffix)] + repl
    return word


def _keep(token: str) -> bool:
    return token not in STOP_WORDS and len(token) > 1


def tokenize(text: str, version: int = TOKENIZER_VERSION) -> list[str]:
    """Lower-cased, stop words removed, stemmed tokens of ``text``.

    A hyphenated word gives its parts and the joined word (``contrast-consistent`` -> ``contrast``,
    ``consistent``, ``contrastconsistent``), so a query matches it with the hyphen, with a space or written as
    one word. ``version=2`` is the earlier tokenizer (hyphenated words as one token), kept for benchmarks.
    """
    words = _TOKEN.findall(text.lower().translate(_DASHES))
    if version == 2:
        return [stem(t) for t in words if _keep(t)]
    tokens: list[str] = []
    for word in words:
        if "-" not in word:
            if _keep(word):
                tokens.append(stem(word))
            continue
        tokens.extend(stem(part) for part in word.split("-") if _keep(part))
        tokens.append(stem(word.replace("-", "")))
    return tokens


def tokenize_query(text: str, version: int = TOKENIZER_VERSION) -> list[str]:
    """``tokenize`` plus each pair of adjacent words joined (``pre training`` also gives ``pretrain``), so a
    query with a space matches a word written as one (terms absent from the index cost nothing)."""
    tokens = tokenize(text, version)
    if version == 2:
        return tokens
    words = [w.replace("-", "") for w in _TOKEN.findall(text.lower().translate(_DASHES))]
    for left, right in itertools.pairwise(words):
        if len(left) > 1 and len(right) > 1 and not (left in STOP_WORDS or right in STOP_WORDS):
            tokens.append(stem(left + right))
    return tokens


class BM25Index:
    """Okapi BM25 over a fixed set of documents, stored as (term -> postings with impacts).

    Args:
        vocabulary: term -> column.
        offsets: ``offsets[t]:offsets[t+1]`` slices ``docs``/``impacts`` for term ``t``.
        docs: Document index of each posting.
        impacts: ``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen))`` of each posting.
        n_docs: Number of documents.
    """

    def __init__(
        self,
        vocabulary: dict[str, int],
        offsets: npt.NDArray[np.int64],
        docs: npt.NDArray[np.int32],
        impacts: npt.NDArray[np.float32],
        n_docs: int,
    ) -> None:
        self.vocabulary = vocabulary
        self.offsets = offsets
        self.docs = docs
        self.impacts = impacts
        self.n_docs = n_docs

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> BM25Index:
        """Index tokenised documents with BM25 parameters ``k1`` and ``b``."""
        n_docs = len(token_lists)
        lengths = np.asarray([len(t) for t in token_lists], dtype=np.float32)
        avg = float(lengths.mean()) if n_docs and lengths.sum() else 1.0
        postings: dict[str, list[tuple[int, int]]] = {}
        for doc, tokens in enumerate(token_lists):
            for term, tf in Counter(tokens).items():
                postings.setdefault(term, []).append((doc, tf))
        vocabulary = {term: i for i, term in enumerate(sorted(postings))}
        sizes = np.asarray([len(postings[t]) for t in vocabulary], dtype=np.int64)
        offsets = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        docs = np.empty(int(offsets[-1]), dtype=np.int32)
        tfs = np.empty(int(offsets[-1]), dtype=np.float32)
        for term, col in vocabulary.items():
            rows = postings[term]
            docs[offsets[col] : offsets[col + 1]] = [d for d, _ in rows]
            tfs[offsets[col] : offsets[col + 1]] = [f for _, f in rows]
        df = np.repeat(sizes, sizes).astype(np.float32)
        idf = np.log((n_docs - df + 0.5) / (df + 0.5) + 1.0)
        norm = k1 * (1 - b + b * lengths[docs] / avg) if len(docs) else np.zeros(0, np.float32)
        impacts = (idf * tfs * (k1 + 1) / (tfs + norm)).astype(np.float32)
        return cls(vocabulary, offsets, docs, impacts, n_docs)

    def scores(self, query_tokens: Sequence[str], query_tf: bool = True) -> npt.NDArray[np.float32]:
        """BM25 score of every document for the tokenised query (repeated query terms count again if query_tf)."""
        counts = Counter(query_tokens)
        cols = [(self.vocabulary[t], n if query_tf else 1) for t, n in counts.items() if t in self.vocabulary]
        if not cols:
            return np.zeros(self.n_docs, dtype=np.float32)
        idx = np.concatenate([np.arange(self.offsets[c], self.offsets[c + 1]) for c, _ in cols])
        weights = np.concatenate([np.full(self.offsets[c + 1] - self.offsets[c], w, np.float32) for c, w in cols])
        return np.bincount(self.docs[idx], weights=self.impacts[idx] * weights, minlength=self.n_docs).astype(
            np.float32
        )

    def save(self, path: Path) -> None:
        """Write the index to ``path`` (an ``.npz``; the vocabulary as one newline-joined string)."""
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        np.savez(
            path,
            vocab=np.asarray("\n".join(terms)),
            offsets=self.offsets,
            docs=self.docs,
            impacts=self.impacts,
            n_docs=np.asarray(self.n_docs),
        )

    @classmethod
    def load(cls, path: Path) -> BM25Index:
        """Read an index written by ``save``."""
        with np.load(path) as data:
            vocab_text = str(data["vocab"])
            terms = vocab_text.split("\n") if vocab_text else []
            return cls(
                {t: i for i, t in enumerate(terms)},
                data["offsets"],
                data["docs"],
                data["impacts"],
                int(data["n_docs"]),
            )
