"""Paper-library benchmark: retrieval quality, search latency, ingest throughput, cold CLI time, corpus re-ingest.

Run: ``nice -n 10 .venv/bin/python -m bench.retrieval`` (first run embeds ~2.4k chunks: tens of minutes on a
busy 2-core machine; embeddings are cached under bench/.cache so reruns take a few minutes).

Quality: ``retrieval_dev_pairs.jsonl`` queries (Alignment Newsletter summaries) against the papers of
``tai_safety_bibliography.csv``. The pairs are split in half with a fixed seed; fusion parameters are fitted on
one half only and reported on the other (and the swap, so every pair is scored once by parameters that never saw
it). The plain baseline (one title+abstract vector per paper, MiniLM at 256 tokens, rank-bm25 BM25Okapi with
k1=1.5 b=0.75 on whitespace tokens, RRF k=60) is rerun in the same process, and so is the previous ranking
(tokenizer 2, no title-first ordering: ``retrieval_titles.baseline_snapshot``) beside the current one, on the
same pairs, plus exact-title queries and the chat relevance threshold. Writes the ``papers`` section of
docs/benchmarks.md and bench/.cache/papers-results.json (ara.results/1).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._results import write_section
from bench.retrieval_perf import cold_cli, corpus_twice, ingest_throughput, latency, synthetic_library
from bench.retrieval_titles import baseline_snapshot, chat_threshold, dev_titles, title_rates
from tools.papers import LibraryConfig, PaperLibrary, RetrievalParams
from tools.papers.retrieval import Signals, Snapshot, compute_signals, paper_order, rank, segment_query

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
SEED = 20261124


def shared_corpus() -> Path:
    """``../shared/corpus`` beside the checkout (or ``$ARA_SHARED/corpus``)."""
    return Path(os.environ.get("ARA_SHARED", ROOT.parent / "shared")) / "corpus"


def metrics(ranked: list[list[str]], targets: list[str], k: int = 10) -> dict[str, float]:
    """recall@k and MRR (reciprocal rank of the target within the full ranking given; 0 when absent)."""
    hits = [t in r[:k] for r, t in zip(ranked, targets, strict=True)]
    rr = [1.0 / (r.index(t) + 1) if t in r else 0.0 for r, t in zip(ranked, targets, strict=True)]
    return {"recall@10": float(np.mean(hits)), "mrr": float(np.mean(rr))}


# --- corpus and pairs ----------------------------------------------------------------------------------------


def build_library(corpus: Path, store: Path) -> tuple[PaperLibrary, dict[str, str], float]:
    """The bench library of tai_safety_bibliography.csv and the Zotero key -> paper id map."""
    lib = PaperLibrary.open(store, LibraryConfig(use_chroma=False))
    started = time.perf_counter()
    report = lib.add_paths([corpus / "tai_safety_bibliography.csv"])
    print(f"library: {report.added and len(report.added)} added, {report.embedded_texts} embedded", file=sys.stderr)
    csv_path = corpus / "tai_safety_bibliography.csv"
    key_to_paper: dict[str, str] = {}
    with csv_path.open(encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            found = lib.catalog.find_paper([f"src:{csv_path}#row{number}"])
            if found and row["Key"]:
                key_to_paper[row["Key"]] = found
    return lib, key_to_paper, time.perf_counter() - started


def load_pairs(lib: PaperLibrary, corpus: Path, key_to_paper: dict[str, str]) -> list[dict[str, str]]:
    """Dev pairs with their target paper id: by Zotero key, or by arXiv id where the key is empty (9 pairs
    point at CSV rows without a key)."""
    pairs = []
    for line in (corpus / "retrieval_dev_pairs.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        target = key_to_paper.get(row["target_tai_key"]) if row["target_tai_key"] else None
        target = target or lib.catalog.find_paper([f"arxiv:{row['arxiv_id']}"])
        if target is None:
            raise SystemExit(f"dev pair target not in the library: {row['target_title']!r}")
        pairs.append({"query": row["query_an_summary"], "target": target})
    return pairs


# --- baseline ------------------------------------------------------------------------------------------------


def baseline(lib: PaperLibrary, pairs: list[dict[str, str]]) -> dict[str, dict[str, float]]:
    """The plain implementation the issue's baselines were measured with, rerun here."""
    from rank_bm25 import BM25Okapi

    papers = list(lib.catalog.papers())
    docs = [f"{p.title}. {p.abstract}" if p.abstract else p.title for p in papers]
    ids = [p.paper_id for p in papers]
    dense = lib.embed_cached(docs)
    bm25 = BM25Okapi([d.lower().split() for d in docs], k1=1.5, b=0.75)
    queries = [p["query"] for p in pairs]
    qv = lib.embed_cached(queries)
    out: dict[str, list[list[str]]] = {"dense": [], "bm25": [], "rrf": []}
    for q, v in zip(queries, qv, strict=True):
        d = dense @ v
        b = bm25.get_scores(q.lower().split())
        rd, rb = np.argsort(-d, kind="stable"), np.argsort(-b, kind="stable")
        out["dense"].append([ids[i] for i in rd])
        out["bm25"].append([ids[i] for i in rb])
        fused = np.zeros(len(ids))
        fused[rd] += 1 / (60 + np.arange(1, len(ids) + 1))
        fused[rb] += 1 / (60 + np.arange(1, len(ids) + 1))
        out["rrf"].append([ids[i] for i in np.argsort(-fused, kind="stable")])
    targets = [p["target"] for p in pairs]
    return {name: metrics(r, targets) for name, r in out.items()}


# --- ours ----------------------------------------------------------------------------------------------------


def query_vectors(lib: PaperLibrary, query: str, params: RetrievalParams) -> np.ndarray[Any, Any]:
    return lib.embed_cached([query, *segment_query(query, params)])


_SIGNALS: dict[tuple[int, str, int, int], Signals] = {}


def evaluate(
    lib: PaperLibrary, pairs: list[dict[str, str]], params: RetrievalParams, snapshot: Snapshot | None = None
) -> dict[str, float]:
    """Metrics of ``params`` on ``pairs`` over ``snapshot`` (default: the library's); per-query similarities are
    cached across settings: same maths as search."""
    snapshot = snapshot or lib.snapshot
    assert snapshot is not None
    ranked = []
    for pair in pairs:
        cache_key = (snapshot.tokenizer, pair["query"], params.segment_words, params.segment_min_words)
        if cache_key not in _SIGNALS:
            both = params.model_copy(update={"fusion": "linear"})
            vectors = query_vectors(lib, pair["query"], params)
            _SIGNALS[cache_key] = compute_signals(snapshot, pair["query"], vectors, both)
        ranking = rank(snapshot, pair["query"], np.zeros((1, 384), np.float32), params, signals=_SIGNALS[cache_key])
        ranked.append([snapshot.paper_ids[i] for i in paper_order(ranking, 100)])
    return metrics(ranked, [p["target"] for p in pairs])


GRID: dict[str, list[Any]] = {
    "fusion": ["linear", "rrf"],
    "dense_weight": [0.3, 0.4, 0.5, 0.6, 0.7],
    "full_query_weight": [0.0, 0.3, 0.6, 1.0],
    "segment_agg": ["mean", "max"],
    "segment_words": [25, 40],
    "second_chunk_weight": [0.0, 0.3],
}


def fit(
    lib: PaperLibrary, pairs: list[dict[str, str]], snapshot: Snapshot | None = None, *, title_first: bool = True
) -> tuple[RetrievalParams, dict[str, float]]:
    """Grid search on ``pairs`` maximising MRR + recall@10."""
    best: tuple[float, RetrievalParams, dict[str, float]] | None = None
    keys = list(GRID)
    for values in itertools.product(*(GRID[k] for k in keys)):
        params = RetrievalParams(**dict(zip(keys, values, strict=True)), rrf_k=30.0, title_first=title_first)
        score = evaluate(lib, pairs, params, snapshot)
        objective = score["mrr"] + score["recall@10"]
        if best is None or objective > best[0] + 1e-9:
            best = (objective, params, score)
    assert best is not None
    return best[1], best[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 100k-chunk latency and the corpus ingest")
    args = parser.parse_args()
    started = time.perf_counter()
    corpus = shared_corpus()
    store = CACHE / "papers-tai"
    lib, key_to_paper, _ = build_library(corpus, store)
    pairs = load_pairs(lib, corpus, key_to_paper)
    order = list(range(len(pairs)))
    random.Random(SEED).shuffle(order)
    half_a = [pairs[i] for i in order[: len(order) // 2]]
    half_b = [pairs[i] for i in order[len(order) // 2 :]]

    base_all = baseline(lib, pairs)
    base_b = baseline(lib, half_b)
    default = RetrievalParams()
    ours_default_all = evaluate(lib, pairs, default)
    fusions: dict[str, dict[str, float]] = {}
    for name in ("dense", "bm25"):
        fusions[name] = evaluate(lib, half_b, default.model_copy(update={"fusion": name}))
    params_a, fit_a = fit(lib, half_a)
    held_b = evaluate(lib, half_b, params_a)
    params_b, _ = fit(lib, half_b)
    held_a = evaluate(lib, half_a, params_b)
    cv = {m: (held_a[m] * len(half_a) + held_b[m] * len(half_b)) / len(pairs) for m in held_a}
    dense_b = evaluate(lib, half_b, params_a.model_copy(update={"fusion": "dense"}))
    bm25_b = evaluate(lib, half_b, params_a.model_copy(update={"fusion": "bm25"}))

    previous = baseline_snapshot(lib)
    previous_default = RetrievalParams(title_first=False)
    prev_all = evaluate(lib, pairs, previous_default, previous)
    prev_a, _ = fit(lib, half_a, previous, title_first=False)
    prev_held_b = evaluate(lib, half_b, prev_a, previous)
    prev_b, _ = fit(lib, half_b, previous, title_first=False)
    prev_held_a = evaluate(lib, half_a, prev_b, previous)
    prev_cv = {m: (prev_held_a[m] * len(half_a) + prev_held_b[m] * len(half_b)) / len(pairs) for m in prev_held_a}
    titles = dev_titles(corpus, pairs)
    titles_prev = title_rates(lib, previous, titles, previous_default)
    titles_ours = title_rates(lib, lib.snapshot, titles, default) if lib.snapshot else {}
    chat = chat_threshold(lib, corpus, pairs)
    print(
        json.dumps(
            {
                "base_all": base_all,
                "default_all": ours_default_all,
                "held_b": held_b,
                "cv": cv,
                "params_a": params_a.model_dump(),
                "params_b": params_b.model_dump(),
                "previous": {"all": prev_all, "held_b": prev_held_b, "cv": prev_cv},
                "titles": {"previous": titles_prev, "ours": titles_ours},
                "chat": chat,
            },
            indent=1,
        ),
        file=sys.stderr,
    )

    short_queries = [p["query"].split(". ")[0][:200] for p in pairs[:60]]
    lat: dict[str, dict[str, float]] = {}
    sizes = [10_000] if args.quick else [10_000, 100_000]
    for size in sizes:
        syn = synthetic_library(lib, CACHE / f"papers-syn-{size}", size)
        lat[f"{size // 1000}k"] = latency(syn, short_queries)
        lat[f"{size // 1000}k"]["chunks"] = syn.snapshot.n_chunks if syn.snapshot else 0
        syn.close()
    throughput = ingest_throughput(lib, corpus, 150)
    cli = cold_cli(store)
    twice = [] if args.quick else corpus_twice(corpus, store / "library.sqlite")
    wall = time.perf_counter() - started

    results = {
        "schema": "ara.results/1",
        "tool": "tools.papers",
        "title": "Paper retrieval on the dev pairs",
        "config": {
            "seed": SEED,
            "fitted_on": "half A (55 pairs)",
            "params_a": params_a.model_dump(),
            "params_b": params_b.model_dump(),
            "grid": GRID,
        },
        "metrics": {
            "baseline.all.dense.recall@10": {"value": base_all["dense"]["recall@10"]},
            "baseline.all.rrf.mrr": {"value": base_all["rrf"]["mrr"]},
            "heldout_b.hybrid.recall@10": {"value": held_b["recall@10"]},
            "heldout_b.hybrid.mrr": {"value": held_b["mrr"]},
            "cv.hybrid.recall@10": {"value": cv["recall@10"]},
            "cv.hybrid.mrr": {"value": cv["mrr"]},
            "latency.10k.p50_ms": {"value": lat["10k"]["p50_ms"]},
            "ingest.throughput_ratio": {"value": throughput["ratio"]},
            "cli.cold_search_s": {"value": cli["median_s"]},
            "previous.all.recall@10": {"value": prev_all["recall@10"]},
            "previous.all.mrr": {"value": prev_all["mrr"]},
            "ours.all.recall@10": {"value": ours_default_all["recall@10"]},
            "ours.all.mrr": {"value": ours_default_all["mrr"]},
            "titles.previous.top1": {"value": titles_prev["exact title"]["top1"]},
            "titles.ours.top1": {"value": titles_ours["exact title"]["top1"]},
            "chat.threshold": {"value": chat["shipped"]["threshold"]},
        },
        "provenance": {"packages": {"numpy": np.__version__}, "seeds": [SEED], "wall_time_s": wall},
    }
    (CACHE / "papers-results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")

    def row(name: str, m: dict[str, float]) -> str:
        return f"| {name} | {m['recall@10']:.3f} | {m['mrr']:.3f} |"

    def pair(m: dict[str, float]) -> str:
        return f"{m['recall@10']:.3f} / {m['mrr']:.3f}"

    def misses(rates: dict[str, dict[str, Any]]) -> str:
        found = [f"{q!r} (rank {r or '>100'})" for v in rates.values() for q, r in v["misses"]]
        return "; ".join(found[:8]) + (f" and {len(found) - 8} more" if len(found) > 8 else "") if found else "none"

    lines = [
        "## Paper retrieval (`tools.papers`)",
        "",
        "Command: `nice -n 10 .venv/bin/python -m bench.retrieval` (2-core shared CPU, int8 ONNX MiniLM, one "
        "thread). Library: the 1,791 rows of `tai_safety_bibliography.csv` ingested by `PaperLibrary` as "
        f"{lib.stats().papers} papers (rows with the same arXiv id, DOI or normalised title merged) / "
        f"{lib.stats().chunks} chunks; {len(pairs)} dev pairs (query = Alignment Newsletter summary, target = the "
        "paper; 9 pairs whose Zotero key is empty are matched by arXiv id). Pairs split in half with seed "
        f"{SEED}: parameters fitted on half A only are reported on half B; the swap (fit B, report A) gives a "
        "2-fold estimate over all pairs. Our rerun of the plain baseline scores higher than the issue's figures "
        "(different tokenisation/document details we cannot see); compare against the rerun, made in this process.",
        "",
        "| system | recall@10 | MRR |",
        "|---|---|---|",
        "| *plain baseline, all 110 pairs (issue: BM25 0.755/0.556, dense 0.855/0.603, RRF 0.855/0.659)* | | |",
        row("baseline BM25 (rank-bm25, whitespace tokens)", base_all["bm25"]),
        row("baseline dense (title+abstract vector)", base_all["dense"]),
        row("baseline RRF k=60", base_all["rrf"]),
        "| *held-out half B (55 pairs), parameters fitted on half A* | | |",
        row("baseline RRF k=60 on half B", base_b["rrf"]),
        row("ours: BM25 only (stemmed, stop words, title prefix)", bm25_b),
        row("ours: dense only (title-prefixed chunks, chunk->paper max)", dense_b),
        row("**ours: hybrid (fitted)**", held_b),
        "| *2-fold cross-fit, all pairs scored by parameters that never saw them* | | |",
        row("**ours: hybrid**", cv),
        row(
            "ours: shipped defaults (= the half-A fit), all pairs (half A in-sample: optimistic)",
            ours_default_all,
        ),
        "",
        f"Fitted on A: `{params_a.model_dump_json()}`; fit score on A: recall@10 {fit_a['recall@10']:.3f}, "
        f"MRR {fit_a['mrr']:.3f} (in-sample, optimistic). Fitted on B: `{params_b.model_dump_json()}`. "
        f"Shipped `RetrievalParams()` defaults equal the half-A fit: {default == params_a}.",
        "",
        "### The previous ranking and this one, in this process",
        "",
        "Previous = BM25 with the earlier tokenizer (a hyphenated word is one token) and no title-first ordering; "
        "this = hyphenated words also indexed as their parts and joined (queries add adjacent words joined), and "
        "papers whose title the query is (exactly, then nearly) first. Same library, same pairs, same grid; each "
        "variant fitted on its own.",
        "",
        "| ranking | all pairs, shipped defaults: recall@10 / MRR | held-out half B | 2-fold cross-fit |",
        "|---|---|---|---|",
        f"| previous | {pair(prev_all)} | {pair(prev_held_b)} | {pair(prev_cv)} |",
        f"| **this** | {pair(ours_default_all)} | {pair(held_b)} | {pair(cv)} |",
        "",
        f"Title queries: the target title of each of the {len(titles)} dev pairs as the query; share with the "
        "paper ranked first.",
        "",
        "| query | previous | this |",
        "|---|---|---|",
        *[
            f"| {name} | {titles_prev[name]['top1']:.3f} | **{titles_ours[name]['top1']:.3f}** |"
            for name in titles_ours
        ],
        "",
        f"Misses of this ranking: {misses(titles_ours)}. Misses of the previous one: {misses(titles_prev)}.",
        "",
        "### Chat relevance thresholds (`assistant.chat.grounding`)",
        "",
        "`ara chat` quotes a library passage when its cosine similarity to the prompt reaches `RELEVANCE`, or when "
        "it holds every content word of the prompt and its similarity reaches `SUPPORTED_RELEVANCE` (acronyms such "
        f"as 'CCS' embed poorly), or when the prompt is the paper's title. On-topic: {chat['n_on']} prompts about a "
        "paper of the library (the first sentence of each pair's summary, and \"What does the paper '<title>' "
        "find?\"), grounded when that paper's passage is among the 6 passages searched and kept. Off-topic: "
        f"{chat['n_off']} prompts about nothing in the library (`bench/data/chat_offtopic_prompts.txt`), wrongly "
        "grounded when any passage is kept. Thresholds maximising on-topic minus off-topic rate, chosen on these "
        "prompts (in-sample).",
        "",
        "| RELEVANCE (SUPPORTED_RELEVANCE equal) | on-topic grounded | off-topic grounded |",
        "|---|---|---|",
        *[
            f"| {r['threshold']:.3f} | {r['on_topic']:.3f} | {r['off_topic']:.3f} |"
            for r in chat["table"]
            if 0.3 <= r["threshold"] <= 0.5
        ],
        "",
        f"| SUPPORTED_RELEVANCE at RELEVANCE {chat['shipped']['threshold']:.3f} | on-topic grounded | "
        "off-topic grounded |",
        "|---|---|---|",
        *[
            f"| {r['supported']:.3f}{' (shipped)' if r['supported'] == chat['shipped']['supported'] else ''} | "
            f"{r['on_topic']:.3f} | {r['off_topic']:.3f} |"
            for r in chat["supported"]
        ],
        "",
        f"Best RELEVANCE alone: {chat['best']['threshold']:.3f}; shipped: RELEVANCE "
        f"{chat['shipped']['threshold']:.3f}, SUPPORTED_RELEVANCE {chat['shipped']['supported']:.3f} (on-topic "
        f"{chat['shipped']['on_topic']:.3f}, off-topic {chat['shipped']['off_topic']:.3f}). On-topic prompts whose "
        "paper is not among the top 6 at all cannot be grounded at any threshold.",
        "",
        "| latency of `search` (k=10, numpy snapshot) | chunks | p50 ms | p95 ms | ranking only p50 | p95 |",
        "|---|---|---|---|---|---|",
        *[
            f"| {name} (synthetic: real chunks repeated, vectors jittered) | {v['chunks']} | {v['p50_ms']:.1f} | "
            f"{v['p95_ms']:.1f} | {v['rank_p50_ms']:.1f} | {v['rank_p95_ms']:.1f} |"
            for name, v in lat.items()
        ],
        "",
        "End to end includes embedding the (new) query with MiniLM on one thread; 'ranking only' passes "
        "precomputed query vectors (dense dot product + BM25 + fusion + fetching the hits from SQLite).",
        "",
        f"Ingest throughput ({throughput['chunks']} chunks from 150 CSV rows, empty cache, Chroma on): "
        f"{throughput['ingest_chunks_per_s']:.1f} chunks/s vs the raw embedder's "
        f"{throughput['raw_chunks_per_s']:.1f} chunks/s on the same texts: **ratio {throughput['ratio']:.2f}** "
        "(target >= 0.8).",
        "",
        f"Cold `ara papers search --json` (new process each time, {lib.stats().papers} papers, a new query so the "
        f"model loads): median **{cli['median_s']:.2f} s**, max {cli['max_s']:.2f} s; the same query again (its "
        f"vector comes from the cache, the model is not loaded): median {cli['repeated_median_s']:.2f} s. Heavy "
        f"modules imported: {cli['heavy_modules']}. Load average during the measurement: "
        f"{cli['load_average']:.1f} on 2 cores (other engineers' jobs).",
    ]
    if twice:
        lines += [
            "",
            "Ingest of all of `shared/corpus` (`PaperLibrary.add_paths` on the directory, as `ara papers add` does: CSV, "
            "HTML, Markdown, BibTeX, JSONL) twice into a fresh library, only the embedding cache carried over from earlier runs. The one "
            "per-file error is expected: `retrieval_dev_pairs.jsonl` has no `title` field, so it is not an arXiv "
            "list.",
            "",
            "| run | added | updated | unchanged | duplicates | embedded | errors | seconds |",
            "|---|---|---|---|---|---|---|---|",
            *[
                f"| {n} | {r['added']} | {r['updated']} | {r['unchanged']} | {r['duplicates']} | {r['embedded']} | "
                f"{r['errors']} | {r['seconds']:.1f} |"
                for n, r in (("first", twice[0]), ("second", twice[1]))
            ],
            "",
            f"Final library: {twice[2]['papers']} papers, {twice[2]['chunks']} chunks (Chroma holds "
            f"{twice[2]['chroma_chunks']}).",
        ]
    lines += ["", f"Wall time of the whole benchmark: {wall:.0f} s."]
    write_section("papers", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
