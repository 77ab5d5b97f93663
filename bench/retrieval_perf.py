"""Performance parts of ``bench.retrieval``: search latency on synthetic libraries, ingest throughput, the cold
CLI, and ingesting the whole corpus twice.

Covers building a large library from the real one without re-embedding (chunks repeated, vectors jittered),
timing ``search`` end to end and ranking only, timing a fresh ingest against the raw embedder, timing a cold
``ara papers search`` process, and the corpus re-ingest. Does not cover quality (``bench.retrieval``).
"""

from __future__ import annotations

import csv
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tools.papers import LibraryConfig, PaperLibrary
from tools.papers.catalog import vector_hash
from tools.papers.chunking import embed_text

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
SEED = 20261124


# --- latency -------------------------------------------------------------------------------------------------


def synthetic_library(lib: PaperLibrary, store: Path, n_chunks: int) -> PaperLibrary:
    """A library of ``n_chunks`` chunks made by repeating the real papers with jittered vectors and new ids."""
    if store.exists():
        shutil.rmtree(store)
    syn = PaperLibrary.open(store, LibraryConfig(use_chroma=False), embedder=lib.embedder)
    model_id = lib.embedder.model_id
    real = [(paper, lib.catalog.chunks_of(paper.paper_id)) for paper in lib.catalog.papers()]
    base = {
        (p.paper_id, c.chunk_id): vector_hash(model_id, embed_text(p.title, c)) for p, chunks in real for c in chunks
    }
    base_vectors = lib.catalog.cached_vectors(list(base.values()))
    rng = np.random.default_rng(SEED)
    made = copy = 0
    while made < n_chunks:
        vectors = []
        for paper, chunks in real:
            pid = f"{paper.paper_id}~{copy}"
            clone = paper.model_copy(update={"paper_id": pid, "content_hash": f"{paper.content_hash}~{copy}"})
            new_chunks = [c.model_copy(update={"paper_id": pid}) for c in chunks]
            hashes = []
            for c in chunks:
                vec = base_vectors[base[(paper.paper_id, c.chunk_id)]]
                noisy = vec + rng.normal(0, 0.02, vec.shape).astype(np.float32)
                hashes.append(f"syn:{pid}#{c.chunk_id}")
                vectors.append((hashes[-1], noisy / np.linalg.norm(noisy)))
            syn.catalog.put_paper(clone, new_chunks, hashes, len(paper.abstract))
            made += len(new_chunks)
            if made >= n_chunks:
                break
        syn.catalog.put_vectors(vectors)
        copy += 1
    syn.catalog.set_meta("generation", "1")
    syn.catalog.commit()
    syn._snapshot = syn._rebuild_snapshot(1)  # the bench builds a store without re-embedding
    return syn


def latency(lib: PaperLibrary, queries: list[str]) -> dict[str, float]:
    """p50/p95 of ``search`` over ``queries`` after one warm-up call: end to end (the query is embedded: each is
    new to the cache) and ranking only (query vectors precomputed)."""
    lib.search(queries[0], k=10)
    stamp = time.time_ns()
    full, ranking = [], []
    for query in queries:
        fresh = f"{query} {stamp}"
        started = time.perf_counter()
        lib.search(fresh, k=10)
        full.append((time.perf_counter() - started) * 1000)
        vectors = lib.embed_query(fresh)
        started = time.perf_counter()
        lib.search(fresh, k=10, query_vectors=vectors)
        ranking.append((time.perf_counter() - started) * 1000)
    full.sort()
    ranking.sort()
    return {
        "p50_ms": full[len(full) // 2],
        "p95_ms": full[int(len(full) * 0.95) - 1],
        "rank_p50_ms": ranking[len(ranking) // 2],
        "rank_p95_ms": ranking[int(len(ranking) * 0.95) - 1],
    }


# --- throughput, CLI, corpus ---------------------------------------------------------------------------------


def ingest_throughput(lib: PaperLibrary, corpus: Path, n_rows: int) -> dict[str, float]:
    """Chunks/s of a full ingest (CSV parse, chunk, embed, SQLite, Chroma, snapshot) vs the raw embedder alone."""
    tmp = CACHE / "throughput"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    src = corpus / "tai_safety_bibliography.csv"
    with src.open(encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [header, *[r for r in reader if r[10].strip()][:n_rows]]
    subset = tmp / "subset.csv"
    with subset.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    fresh = PaperLibrary.open(tmp / "store", LibraryConfig(use_chroma=True), embedder=lib.embedder)
    from tools.papers.chunking import chunk_doc
    from tools.papers.parsers import parse_csv

    texts = [embed_text(d.title, c) for d in parse_csv(subset) for c in chunk_doc(d, "x")]
    started = time.perf_counter()
    lib.embedder.embed(texts)
    raw_before = time.perf_counter() - started
    started = time.perf_counter()
    report = fresh.add_paths([subset])
    pipe_s = time.perf_counter() - started
    started = time.perf_counter()
    lib.embedder.embed(texts)
    raw_s = (raw_before + time.perf_counter() - started) / 2  # raw timed before and after: the CPU is shared
    fresh.close()
    return {
        "chunks": report.chunks_added,
        "raw_chunks_per_s": len(texts) / raw_s,
        "ingest_chunks_per_s": report.chunks_added / pipe_s,
        "ratio": (report.chunks_added / pipe_s) / (len(texts) / raw_s),
    }


def cold_cli(store: Path, runs: int = 5) -> dict[str, Any]:
    """Wall time of a cold ``ara papers search --json`` process, and whether heavy modules were imported."""
    workspace = CACHE / "cli-workspace"
    (workspace / ".ara").mkdir(parents=True, exist_ok=True)
    link = workspace / ".ara" / "papers"
    if not link.exists():
        link.symlink_to(store.resolve())
    env = {**os.environ, "ARA_WORKSPACE": str(workspace)}
    cmd = [sys.executable, "-c", "import sys; from assistant.cli import main; main(sys.argv[1:])"]

    def once(query: str) -> float:
        started = time.perf_counter()
        subprocess.run([*cmd, "papers", "search", query, "--json"], env=env, check=True, capture_output=True)
        return time.perf_counter() - started

    stamp = time.time_ns()
    times = [once(f"debate as a way to align AI {stamp} {i}") for i in range(runs)]  # new query: model loads
    repeated = [once(f"debate as a way to align AI {stamp} 0") for _ in range(runs)]  # cached query vector
    probe = (
        "import sys, io, contextlib; from assistant.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['papers', 'search', 'debate', '--json'])\n"
        "print(sorted(m for m in ('chromadb', 'torch', 'transformers', 'langgraph') if m in sys.modules))"
    )
    heavy = subprocess.run([sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True)
    return {
        "median_s": statistics.median(times),
        "max_s": max(times),
        "repeated_median_s": statistics.median(repeated),
        "heavy_modules": heavy.stdout.strip(),
        "load_average": os.getloadavg()[0],
    }


def corpus_twice(corpus: Path, seed_cache: Path) -> list[dict[str, Any]]:
    """Ingest all of the corpus twice into a fresh library; only the embedding cache is carried over (from the
    bench library and from the previous run of this step), so reruns do not re-embed."""
    store = CACHE / "papers-corpus"
    previous = CACHE / "papers-corpus-vectors.sqlite"
    if (store / "library.sqlite").exists():
        shutil.copy(store / "library.sqlite", previous)
    shutil.rmtree(store, ignore_errors=True)
    lib = PaperLibrary.open(store)
    for seed in (seed_cache, previous):
        if seed.exists():
            lib.catalog.db.execute("ATTACH ? AS seed", (str(seed),))
            lib.catalog.db.execute("INSERT OR IGNORE INTO vectors SELECT * FROM seed.vectors")
            lib.catalog.db.commit()
            lib.catalog.db.execute("DETACH seed")
    seeded = lib.catalog.counts()["vectors"]
    runs = []
    for _ in range(2):
        r = lib.add_paths([corpus])
        runs.append(
            {
                "added": len(r.added),
                "updated": len(r.updated),
                "unchanged": r.unchanged,
                "duplicates": r.duplicates,
                "embedded": r.embedded_texts,
                "errors": len(r.errors),
                "error_files": [Path(e.path).name for e in r.errors],
                "seconds": r.seconds,
            }
        )
    runs.append({**lib.stats().model_dump(include={"papers", "chunks", "chroma_chunks"}), "seeded_vectors": seeded})
    lib.close()
    return runs
