"""Measurements for ``bench.retrieval`` beyond recall and MRR: title queries and the chat relevance threshold.

Covers the baseline snapshot (the library's chunks indexed with the previous tokenizer, searched without title
matching: the ranking of the code before hyphen-insensitive tokens and title-first ordering, rerun in the same
process), the share of exact-title queries (and lower-cased and de-hyphenated variants) that put their paper
first, and the cosine threshold at which ``ara chat`` quotes library passages: short prompts about papers in the
library against prompts about nothing in it (``bench/data/chat_offtopic_prompts.txt``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.papers import PaperLibrary, RetrievalParams
from tools.papers.retrieval import Snapshot, paper_order, rank
from tools.papers.sparse import BM25Index, tokenize

OFFTOPIC = Path(__file__).resolve().parent / "data" / "chat_offtopic_prompts.txt"
THRESHOLDS = [round(0.20 + 0.025 * i, 3) for i in range(17)]
VARIANTS: dict[str, Callable[[str], str]] = {
    "exact title": lambda t: t,
    "lower case": lambda t: t.lower(),
    "hyphens as spaces": lambda t: t.replace("-", " "),
    "hyphens dropped": lambda t: t.replace("-", ""),
}


def baseline_snapshot(lib: PaperLibrary) -> Snapshot:
    """The library's snapshot with BM25 rebuilt by the previous tokenizer (version 2)."""
    snapshot = lib.snapshot
    assert snapshot is not None
    tokens = [tokenize(text, version=2) for text in lib.bm25_texts()]
    return dataclasses.replace(snapshot, bm25=BM25Index.build(tokens), tokenizer=2)


def dev_titles(corpus: Path, pairs: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(title, target paper id) of every dev pair."""
    rows = [json.loads(line) for line in (corpus / "retrieval_dev_pairs.jsonl").read_text("utf-8").splitlines()]
    return [(row["target_title"], pair["target"]) for row, pair in zip(rows, pairs, strict=True)]


def first_rank(lib: PaperLibrary, snapshot: Snapshot, query: str, target: str, params: RetrievalParams) -> int:
    """1-based rank of ``target`` for ``query`` (0 when not in the top 100)."""
    ranking = rank(snapshot, query, lib.embed_cached([query]), params)
    order = [snapshot.paper_ids[i] for i in paper_order(ranking, 100)]
    return order.index(target) + 1 if target in order else 0


def title_rates(
    lib: PaperLibrary, snapshot: Snapshot, titles: list[tuple[str, str]], params: RetrievalParams
) -> dict[str, dict[str, Any]]:
    """Per variant: the share of title queries whose paper ranks first, and the misses with their rank."""
    out: dict[str, dict[str, Any]] = {}
    for name, variant in VARIANTS.items():
        ranks = [
            (variant(title), first_rank(lib, snapshot, variant(title), target, params)) for title, target in titles
        ]
        out[name] = {
            "top1": sum(r == 1 for _, r in ranks) / len(ranks),
            "misses": [(q, r) for q, r in ranks if r != 1],
        }
    return out


def chat_threshold(lib: PaperLibrary, corpus: Path, pairs: list[dict[str, str]]) -> dict[str, Any]:
    """Grounding rates per threshold: on-topic prompts (the first sentence of each pair's summary, and a question
    naming the paper's title) should get their paper's passage; off-topic prompts should get none. The rule is
    ``assistant.chat.grounding.is_relevant``; first the main cosine threshold alone, then (at the shipped one) the
    lower threshold for passages holding every content word of the prompt."""
    from assistant.chat.grounding import MAX_PASSAGES, RELEVANCE, SUPPORTED_RELEVANCE, is_relevant

    rows = [json.loads(line) for line in (corpus / "retrieval_dev_pairs.jsonl").read_text("utf-8").splitlines()]
    on_topic: list[tuple[str, str | None]] = []
    for row, pair in zip(rows, pairs, strict=True):
        on_topic.append((row["query_an_summary"].split(". ")[0][:200], pair["target"]))
        on_topic.append((f"What does the paper '{row['target_title']}' find?", pair["target"]))
    off_topic: list[tuple[str, str | None]] = [
        (line.strip(), None)
        for line in OFFTOPIC.read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    searched = {prompt: lib.search(prompt, k=MAX_PASSAGES, max_per_paper=2) for prompt, _ in [*on_topic, *off_topic]}

    def rate(prompts: list[tuple[str, str | None]], threshold: float, supported: float) -> float:
        grounded = 0
        for prompt, target in prompts:
            kept = [h for h in searched[prompt] if is_relevant(prompt, h, threshold, supported)]
            grounded += any(target is None or h.paper_id == target for h in kept)
        return grounded / len(prompts)

    def row_of(threshold: float, supported: float) -> dict[str, float]:
        on, off = rate(on_topic, threshold, supported), rate(off_topic, threshold, supported)
        return {"threshold": threshold, "supported": supported, "on_topic": on, "off_topic": off, "j": on - off}

    table = [row_of(t, t) for t in sorted({*THRESHOLDS, RELEVANCE})]
    supported = [row_of(RELEVANCE, s) for s in sorted({0.2, 0.25, 0.3, 0.35, 0.4, SUPPORTED_RELEVANCE, RELEVANCE})]
    return {
        "table": table,
        "supported": supported,
        "best": max(table, key=lambda row: (round(row["j"], 9), row["threshold"])),
        "shipped": row_of(RELEVANCE, SUPPORTED_RELEVANCE),
        "n_on": len(on_topic),
        "n_off": len(off_topic),
    }
