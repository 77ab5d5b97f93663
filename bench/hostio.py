"""Host-side cost of the safe run-file layer (``tools.runfiles``) on a normal run, against plain path I/O.

First one normal research-loop run is made: the ``w2s`` recipe (host export, the kernel step, host scoring) with a
scripted model and the cell executed in-process, through the real graph, run log, report and proposal. Its run
directory gives the host's file traffic: every run-log line appended, every file the host wrote (cell records,
the task, results, config, figures, report, evidence) and every file it read back (submissions, results, config,
cell records, figures, report.json, the run log). That traffic is then replayed, into a fresh directory per
repeat and interleaved, by two arms that do the same operations:

- plain: what the host did before, by path: ``open(..., "a")`` + fsync for the log, write + fsync + rename for
  records, ``Path.read_bytes``/``json.loads``, ``np.load`` for submissions;
- safe: ``tools.runfiles.RunFiles`` (directory handle, ``O_NOFOLLOW`` per component, regular-file and size checks,
  temporary file + rename) and ``load_array``'s header and value checks for submissions.

Both arms parse the results document with ``tools.results.parse_results``. Reported: medians per run, the ratio,
and the same with fsync off (so the layer's own system calls are not hidden behind the disk); and the host I/O's
share of the run's wall time. Writes the ``hostio`` section of docs/benchmarks.md.

Command: ``nice -n 10 .venv/bin/python -m bench.hostio --repeat 30``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bench._inprocess import InProcessPool
from bench._loop_replies import loop_replies
from bench._results import write_section
from tools.results import parse_results
from tools.runfiles import KERNEL_DIR, ArraySpec, RunFiles

COMMAND = "nice -n 10 .venv/bin/python -m bench.hostio --repeat 30"
W2S = {
    "dataset": "sk_digits_parity",
    "weak_features": "tab_coarse",
    "strong_features": "tab_raw",
    "strong_head": "mlp",
    "n_weak_train": 300,
    "n_strong_train": 300,
    "n_test": 300,
    "seeds": [0, 1, 2],
    "epochs": 5,
}


class Trace(NamedTuple):
    """The host's file traffic of one run."""

    appends: list[bytes]
    """Run-log lines, in order."""
    writes: list[tuple[str, bytes]]
    """Files the host wrote (path relative to the run directory, content)."""
    reads: list[str]
    """Files the host read back (relative paths)."""
    arrays: list[tuple[str, int]]
    """Submissions the host loaded (relative path, expected length)."""
    run_s: float
    """Wall time of the run."""


async def _normal_run(root: Path) -> Trace:
    from langgraph.checkpoint.memory import InMemorySaver

    from assistant.budget import Budget
    from assistant.graph import compile_graph, start_run
    from assistant.graph.context import RunContext
    from assistant.llm.testing import ScriptedLLM
    from assistant.recipes import default_registry
    from assistant.runlog import RunLog
    from tools.vcs import Workspace

    workspace = Workspace.open_or_create(root / "ws")
    run = workspace.new_run("bench")
    recipes = default_registry()
    [card] = [c for c in recipes.cards() if c.name == "w2s"]
    question = card.answers[0]  # the card's own example, so the shortlist offers w2s
    plan = {
        "title": "t",
        "hypothesis": "h",
        "method": "m",
        "recipe": "w2s",
        "config": W2S,
        "expected_outcome": "pgr is written",
        "controls": [],
        "seeds": W2S.get("seeds", [0]),
        "citations": [],
    }
    script = ScriptedLLM(  # the loop's replies: brief, tool choice, plans (config complete), analysis, critique
        replies=[*loop_replies("w2s", plan, "pgr")]
    )
    ctx = RunContext(
        llm=script.client(),
        runlog=RunLog(run.events_path),
        workspace=workspace,
        kernels=InProcessPool(),
        budget=Budget(cells=1, debug_attempts=0),
        approval_policy="auto-approve",
        recipes=recipes,
        host_cache_dir=root / "cache",
    )
    started = time.perf_counter()
    outcome = await start_run(
        compile_graph(InMemorySaver()),
        ctx,
        run_id=run.run_id,
        question=question,
        run_dir=run.path,
        workspace=workspace.path,
    )
    run_s = time.perf_counter() - started
    if outcome.status != "done":
        raise RuntimeError(f"the normal run ended {outcome.status}: {outcome.failure}")
    path = run.path
    appends = [line + b"\n" for line in path.joinpath("events.jsonl").read_bytes().splitlines()]
    written = [
        "cells/00.py",
        "cells/00.result.json",
        "evidence.json",
        f"{KERNEL_DIR}/task.npz",
        f"{KERNEL_DIR}/task.json",
        "results.json",
        "config.json",
        "figures/seed_accuracies.png",
        "report_figures/metrics_ci.png",
        "report.json",
        "report.md",
        "report.html",
    ]
    writes = [(rel, (path / rel).read_bytes()) for rel in written if (path / rel).is_file()]
    submissions = sorted((path / KERNEL_DIR / "submissions").iterdir())
    arrays = [(f"{KERNEL_DIR}/submissions/{p.name}", int(np.load(p).size)) for p in submissions]
    reads = ["cells/00.result.json", "results.json", "results.json", "config.json", "figures/seed_accuracies.png"]
    reads += ["report_figures/metrics_ci.png", "report.json", "events.jsonl"]
    return Trace(appends, writes, reads, arrays, run_s)


def _plain(trace: Trace, root: Path, fsync: bool) -> None:
    log = root / "events.jsonl"
    root.mkdir(parents=True, exist_ok=True)
    for line in trace.appends:
        with log.open("ab") as handle:
            handle.write(line)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
    for rel, data in trace.writes:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    for rel, _length in trace.arrays:
        np.asarray(np.load(root / rel, allow_pickle=False), dtype=np.float64)
    for rel in trace.reads:
        data = (root / rel).read_bytes()
        if rel == "results.json":
            parse_results(data, rel)
        elif rel.endswith(".json"):
            json.loads(data)


def _safe(trace: Trace, root: Path, fsync: bool) -> None:
    with RunFiles(root, create=True) as files:
        for line in trace.appends:
            with RunFiles(root) as log:  # RunLog.append opens the directory per event
                log.append("events.jsonl", line, fsync=fsync)
        for rel, data in trace.writes:
            files.write_bytes(rel, data, fsync=fsync)
        for rel, length in trace.arrays:
            files.load_array(rel, ArraySpec(length=length))
        for rel in trace.reads:
            data = files.read_bytes(rel)
            if rel == "results.json":
                parse_results(data, rel)
            elif rel.endswith(".json"):
                json.loads(data)


def _seed_arrays(trace: Trace, root: Path) -> None:
    """The submissions both arms read (written once per repeat, outside the timing)."""
    rng = np.random.default_rng(0)
    for rel, length in trace.arrays:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, rng.random(length).astype(np.float32))
        target.write_bytes(buffer.getvalue())


def _time(arm: Any, trace: Trace, root: Path, fsync: bool) -> float:
    shutil.rmtree(root, ignore_errors=True)
    _seed_arrays(trace, root)
    started = time.perf_counter()
    arm(trace, root, fsync)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ara-bench-hostio-"))
    try:
        trace = asyncio.run(_normal_run(work))
        rows = []
        medians: dict[tuple[str, bool], float] = {}
        for fsync in (True, False):
            times: dict[str, list[float]] = {"plain": [], "safe": []}
            for i in range(args.repeat):  # interleaved, so drift in machine load hits both arms
                times["plain"].append(_time(_plain, trace, work / f"plain-{i % 2}", fsync))
                times["safe"].append(_time(_safe, trace, work / f"safe-{i % 2}", fsync))
            for arm in ("plain", "safe"):
                medians[(arm, fsync)] = statistics.median(times[arm])
            plain, safe = medians[("plain", fsync)], medians[("safe", fsync)]
            label = "fsync on (as ara runs)" if fsync else "fsync off (the layer's own cost exposed)"
            rows.append(
                f"| {label} | {plain * 1e3:.1f} | {safe * 1e3:.1f} | {safe / plain:.2f} | {(safe - plain) * 1e3:+.1f} |"
            )
            print(rows[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    volume = sum(len(d) for _, d in trace.writes) + sum(len(line) for line in trace.appends)
    share = medians[("safe", True)] / trace.run_s
    text = "\n".join(
        [
            "## Safe run-file I/O on the host (`bench/hostio.py`)",
            "",
            f"Command: `{COMMAND}`. {platform.machine()}, {platform.python_version()}; medians of {args.repeat} "
            "interleaved replays. The traffic is that of one normal run (the `w2s` recipe on sk_digits_parity, 3 "
            "seeds, host export and scoring, the cell in-process, report and proposal): "
            f"{len(trace.appends)} run-log lines, {len(trace.writes)} files written, {len(trace.arrays)} "
            f"submissions and {len(trace.reads)} files read back, {volume / 2**20:.1f} MiB in all. The plain arm "
            "does it by path as the host did before; the safe arm through `tools.runfiles` (directory handle, "
            "`O_NOFOLLOW` per component, regular-file and size checks, temporary file + rename, and the "
            "submissions' header and value checks).",
            "",
            "| run-file I/O of one run | plain (ms) | safe (ms) | ratio | difference (ms) |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"**The safe layer costs {(medians[('safe', True)] - medians[('plain', True)]) * 1e3:+.1f} ms per run "
            f"as ara runs it (ratio {medians[('safe', True)] / medians[('plain', True)]:.2f})**; the run itself "
            f"took {trace.run_s:.1f} s, so the host's run-file I/O is {share:.1%} of it. With fsync off the "
            "ratio shows the layer's own extra system calls (a directory open per run-log line and per file, "
            "an `fstat` per read, the checks on each array).",
        ]
    )
    print(text)
    if not args.no_write:
        write_section("hostio", text)


if __name__ == "__main__":
    main()
