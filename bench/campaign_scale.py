"""Campaign queue at scale: PostgreSQL vs the SQLite default with 1, 2 and 4 worker processes, in one run.

Each worker is a separate process with its own queue connection that claims an entry (``claim``: row lock and
update), optionally "works" for ``--work-ms``, and finishes it (``finish``), until the campaign is empty. Measured:

1. Queue overhead per entry (instant entries: claim + finish + event log) and claim latency (median and p95 of the
   ``claim`` call), PostgreSQL / SQLite as ratios at each worker count.
2. Throughput (entries per second) with ``--work-ms`` of work per entry, as a ratio to one worker, per backend:
   how far adding workers scales before the queue is the bottleneck.

PostgreSQL is a throwaway server started here from Debian's binaries (``tests/campaign/pgserver.py``; fsync on,
unlike the tests); SQLite is ``<workspace>/.ara/campaigns.sqlite`` with its production settings (WAL, synchronous=FULL).

Command: ``nice -n 10 .venv/bin/python -m bench.campaign_scale``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.campaign.postgres import PostgresDatabase
from assistant.campaign.queue import CampaignQueue, EntryOutcome
from assistant.campaign.spec import load_campaign
from bench._results import write_section
from tests.campaign.pgserver import find_binaries, start_server

WORKERS = (1, 2, 4)


def _queue(ws: Path, url: str | None) -> CampaignQueue:
    return CampaignQueue(ws, database=PostgresDatabase(url) if url else None)


def _worker(ws: str, url: str | None, cid: str, index: int, work_s: float, ready: Any, go: Any, out: Any) -> None:
    queue = _queue(Path(ws), url)
    queue.pending(cid)  # connected and warm before the clock starts
    owner = f"bench-host-{index}:{os.getpid()}:1.000"  # another "host": only leases matter, as across machines
    latencies: list[float] = []
    ready.release()
    go.wait()
    while True:
        started = time.perf_counter()
        claimed = queue.claim(cid, owner, stale_after_s=3600)
        latencies.append(time.perf_counter() - started)
        if claimed is None:
            break
        if work_s:
            time.sleep(work_s)
        queue.finish(cid, claimed[0].entry.id, owner, EntryOutcome(status="done", tokens=1))
    out.put((latencies, time.perf_counter()))


def measure(root: Path, url: str | None, n: int, workers: int, work_s: float) -> dict[str, float]:
    """Run one campaign of ``n`` entries with ``workers`` processes; wall time and claim latencies."""
    ws = root / f"ws-{'pg' if url else 'sqlite'}-{workers}-{int(work_s * 1000)}"
    spec_path = root / f"c-{ws.name}.toml"
    entries = "".join(f'\n[[entries]]\nid = "e{i}"\nquestion = "Q {i}?"\n' for i in range(n))
    spec_path.write_text(f'name = "scale"\nconcurrency = 1\n{entries}', encoding="utf-8")
    queue = _queue(ws, url)
    cid = queue.create(load_campaign(spec_path), spec_path)
    ctx = mp.get_context("spawn")
    out, ready, go = ctx.Queue(), ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=_worker, args=(str(ws), url, cid, i, work_s, ready, go, out)) for i in range(workers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire(timeout=600)  # every worker imported, connected and waiting: start the clock
    started = time.perf_counter()
    go.set()
    results = [out.get(timeout=1800) for _ in procs]
    wall = max(end for _, end in results) - started  # perf_counter is system-wide (CLOCK_MONOTONIC) on Linux
    latencies = [x for lat, _ in results for x in lat]
    for p in procs:
        p.join()
    record = queue.get(cid)
    assert [e.status for e in record.entries] == ["done"] * n, "every entry done"
    ordered = sorted(latencies)
    return {
        "wall": wall,
        "per_entry_ms": 1000 * wall / n,
        "claim_p50_ms": 1000 * statistics.median(ordered),
        "claim_p95_ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))],
        "per_s": n / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200, help="instant entries per run (queue overhead)")
    parser.add_argument("--work-n", type=int, default=80, help="entries per run with --work-ms of work")
    parser.add_argument("--work-ms", type=float, default=100.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    bindir = find_binaries()
    if bindir is None:
        raise SystemExit("PostgreSQL server binaries not found: apt-get install postgresql")
    server = start_server(bindir, fsync=True)
    try:
        with tempfile.TemporaryDirectory(prefix="ara-bench-scale-") as tmp:
            root = Path(tmp)
            overhead: dict[tuple[str, int], dict[str, float]] = {}
            scaling: dict[tuple[str, int], dict[str, float]] = {}
            for workers in WORKERS:
                for backend in ("sqlite", "postgresql"):
                    url = None if backend == "sqlite" else server.create_database(f"o{workers}")
                    overhead[backend, workers] = measure(root, url, args.n, workers, 0.0)
                    url = None if backend == "sqlite" else server.create_database(f"w{workers}")
                    scaling[backend, workers] = measure(root, url, args.work_n, workers, args.work_ms / 1000)
                    print(backend, workers, overhead[backend, workers], scaling[backend, workers], flush=True)
    finally:
        server.stop()
    load = os.getloadavg()[0]
    rows = []
    for workers in WORKERS:
        s, p = overhead["sqlite", workers], overhead["postgresql", workers]
        rows.append(
            f"| {workers} | {s['per_entry_ms']:.1f} | {p['per_entry_ms']:.1f} | "
            f"**{p['per_entry_ms'] / s['per_entry_ms']:.2f}** | {s['claim_p50_ms']:.1f} / {s['claim_p95_ms']:.1f} | "
            f"{p['claim_p50_ms']:.1f} / {p['claim_p95_ms']:.1f} | **{p['claim_p50_ms'] / s['claim_p50_ms']:.2f}** |"
        )
    scale_rows = []
    for workers in WORKERS:
        s, p = scaling["sqlite", workers], scaling["postgresql", workers]
        s1, p1 = scaling["sqlite", 1], scaling["postgresql", 1]
        scale_rows.append(
            f"| {workers} | {s['per_s']:.1f} | **{s['per_s'] / s1['per_s']:.2f}** | {p['per_s']:.1f} | "
            f"**{p['per_s'] / p1['per_s']:.2f}** |"
        )
    text = (
        "## Campaign queue at scale: PostgreSQL vs SQLite (`bench/campaign_scale.py`)\n\n"
        f"Command: `nice -n 10 .venv/bin/python -m bench.campaign_scale -n {args.n} --work-n {args.work_n} "
        f"--work-ms {args.work_ms:g}` (load average {load:.1f} on 2 cores when it finished; other work shared the "
        "machine). Workers are separate processes claiming from one campaign, timed from when all of them are "
        "connected; PostgreSQL 15 runs on this machine (loopback TCP, fsync on, default commit settings), SQLite is "
        "the workspace file (WAL, synchronous=FULL); both make every committed claim durable.\n\n"
        f"Queue overhead ({args.n} instant entries: claim + finish + event log per entry; wall time / entries) "
        "and claim latency (median / p95 of one `claim` call, the last empty claim included):\n\n"
        "| workers | SQLite ms/entry | PostgreSQL ms/entry | PG / SQLite | SQLite claim ms p50 / p95 "
        "| PostgreSQL claim ms p50 / p95 | PG / SQLite claim p50 |\n|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nThroughput with {args.work_ms:g} ms of work per entry ({args.work_n} entries), as a ratio to one "
        "worker:\n\n| workers | SQLite entries/s | SQLite vs 1 worker | PostgreSQL entries/s | PostgreSQL vs 1 "
        "worker |\n|---|---|---|---|---|\n" + "\n".join(scale_rows) + "\n\n"
        "A research-loop entry takes seconds to hours, so either queue's cost per entry is noise next to it; "
        "PostgreSQL is for sharing one queue between machines, which one SQLite file cannot do safely.\n"
    )
    cores = os.cpu_count() or 1
    if load > cores:
        text += (
            f"\nThe machine was oversubscribed (load {load:.1f} on {cores} cores): each process waited for a CPU "
            "after every sleep and every commit, so per-entry times include that wait, and a scaling ratio above "
            "the worker count means more processes won more of the shared CPU, not that the queue got faster. "
            "Run it on an idle machine for numbers to plan with.\n"
        )
    print(text)
    if not args.no_write:
        write_section("campaign-scale", text)


if __name__ == "__main__":
    main()
