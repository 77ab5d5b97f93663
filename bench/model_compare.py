"""SmolLM2-135M (``tiny``) beside Qwen2.5-Coder-1.5B (``default``), in one run, phase by phase.

Phases (each writes ``OUT/<profile>/<phase>...`` and is skipped or resumed when already there; every phase runs
for both profiles before the next starts, so both meet the same machine load):

- ``speed``: prompt and decode tokens/s and peak memory (``bench.model_threads`` cells at one thread, idle).
- ``cycle``: one ``ara run QUESTION --auto-approve-plans`` as ``make demo`` runs it (tiny in recipe mode, default
  in free mode), timed end to end, with each node's seconds from the event log.
- ``calls``: for the labelled tool-choice questions (``--questions`` testable ones, dev and held out interleaved, and
  every out-of-scope one), intake, the real ``choose_tool`` node (shortlist, then the model) and the plans call on
  the chosen tool, as the loop makes them in free mode; tool-choice accuracy against the labels.
- ``code``: the config call (``fill_config.recipe``) and a free cell for each question's plan; the free cells run
  in real sandboxed kernels, failures go through the debug prompt up to three times (``--debug-rounds``;
  first-run and after-debug success).
- ``analysis``: the analysis call for each question's plan over one real ``results.json`` (``--results``), with
  the verdicts computed for its hypotheses there.
- ``critique``: for each testable question, the critique call over the analysis phase's ``results.json``, for a
  plan written by code from the question's label (``model_calls.labelled_plan``: the same plan on both profiles,
  no plan call).
- ``review``: for the same questions and plans, the analysis call and then the model's report draft.
- ``scope``: the scope note for ``--scope-notes`` questions (every out-of-scope labelled one first), as
  ``answer_out_of_scope`` asks it.
- ``cells``: free cells (and their debug calls) as in ``code``, for the same code-written plans as ``review``
  instead of ``plans.jsonl``'s, so the phase needs no plan calls and both profiles get the same plans.
- ``evals``: TruthfulQA, HHH and misconceptions multiple choice (letter log-probabilities) with random baselines.
- ``extract``: hidden-state extraction for the research tools (``CausalLMActivations``): load time, peak memory
  and texts/s for 64 Rotten Tomatoes reviews to layer 8 (64 tokens, 2 torch threads, a fresh process), then the
  same call again, served from the activation cache.

Run: ``.venv/bin/python -m bench.model_compare --out DIR`` (``--only`` picks phases, ``--profiles`` profiles).
Rendering reads whatever ``DIR`` holds, so phases can run separately into the same directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._results import peak_rss_mb, write_section
from bench.model_report import SETUP, render

PROFILES = ("tiny", "default")
PHASES = ("speed", "cycle", "calls", "code", "analysis", "critique", "scope", "review", "cells", "evals", "extract")
EXTRACT_TEXTS = 64
EXTRACT_LAYER = 8
QUESTION = (
    "Does training a strong student on a weak supervisor's labels recover part of the gap to the strong ceiling "
    "(positive PGR)?"
)
TASKS = Path(os.environ.get("ARA_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "datasets/bigbench_tasks"
EVAL_LIMITS = {"truthful_qa": 40, "hhh_alignment": 10, "misconceptions": 40}
"""Items per category: TruthfulQA and misconceptions have one category each, HHH four (40 items in all)."""


def _settings(workspace: Path, profile: str) -> Any:
    from assistant.settings import load_settings

    return load_settings(workspace).with_overrides(**{"local_llm.profile": profile})


def speed(out: Path, profile: str) -> None:
    """Tokens/s and peak memory at the default thread count, idle (a fresh process)."""
    from bench.model_threads import measure

    row = measure(profile, 1, False, rounds=3, n_ctx=8192)
    (out / "speed.json").write_text(json.dumps(row))
    print(profile, "speed", json.dumps({k: row[k] for k in ("prompt_tps", "decode_tps", "peak_rss_mb")}), flush=True)


def cycle(out: Path, profile: str) -> None:
    """One full research cycle through ``ara run``, as ``make demo`` starts it."""
    workspace = out / "cycle-ws"
    env = {**os.environ, "ARA_WORKSPACE": str(workspace), "ARA_LOCAL_LLM_PROFILE": profile}
    ara = [sys.executable, "-m", "assistant.cli"]
    started = time.perf_counter()
    subprocess.run([*ara, "llm", "start"], env=env, capture_output=True, check=True)
    start_s = time.perf_counter() - started  # the model loads once per workspace; timed apart from the cycle
    started = time.perf_counter()
    done = subprocess.run(
        [*ara, "run", QUESTION, "--auto-approve-plans", "--json"], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    subprocess.run([*ara, "llm", "stop"], env=env, capture_output=True, check=False)
    outcome = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {"status": "crashed"}
    nodes: dict[str, float] = {}
    mode = None
    if outcome.get("run_id"):
        for line in (workspace / "runs" / outcome["run_id"] / "events.jsonl").read_text().splitlines():
            event = json.loads(line)
            if event["type"] == "node_finished":
                nodes[event["node"]] = nodes.get(event["node"], 0.0) + event["duration_s"]
            if event["type"] == "run_started":
                mode = event["code_mode"]
    record = {
        "seconds": seconds,
        "server_start_s": start_s,
        "outcome": outcome,
        "nodes": nodes,
        "code_mode": mode,
        "rc": done.returncode,
    }
    (out / "cycle.json").write_text(json.dumps(record))
    print(profile, "cycle", f"{seconds:.0f}s", outcome.get("status"), mode, flush=True)


def model_phase(out: Path, profile: str, phase: str, args: argparse.Namespace) -> None:
    """A phase that calls the model (``calls``, ``code``, ``analysis``, ``critique``, ``scope``, ``review``,
    ``cells``) against the profile's server (started here, stopped after)."""
    from assistant.kernels import kernel_pool
    from assistant.llm import connect_llm
    from assistant.llm.client import LLMCall
    from assistant.llm.local_server import LocalServer
    from bench import model_calls

    workspace = out / "calls-ws"
    settings = _settings(workspace, profile)
    calls: list[LLMCall] = []
    client = connect_llm(settings, on_call=calls.append)
    try:
        if phase == "calls":
            from assistant.toolchoice import ShortlistRule

            k, n = (int(x) for x in args.part.split("/"))
            rule = ShortlistRule()
            if args.shortlist_rule:
                low, margin, limit = args.shortlist_rule.split("/")
                rule = ShortlistRule(float(low), float(margin), int(limit))
            model_calls.plan_calls(client, calls, out, args.questions, (k, n), rule)
        elif phase == "code":
            model_calls.config_calls(client, calls, out)

            async def run_free() -> None:
                pool = kernel_pool(settings)
                try:
                    await model_calls.free_cells(client, calls, out, pool, args.cell_timeout, args.debug_rounds)
                finally:
                    await pool.shutdown()

            asyncio.run(run_free())
        elif phase == "cells":
            k, n = (int(x) for x in args.part.split("/"))
            plans = model_calls.labelled_plan_records(args.questions, (k, n))

            async def run_cells() -> None:
                pool = kernel_pool(settings)
                try:
                    await model_calls.free_cells(client, calls, out, pool, args.cell_timeout, args.debug_rounds, plans)
                finally:
                    await pool.shutdown()

            asyncio.run(run_cells())
        elif phase == "review":
            k, n = (int(x) for x in args.part.split("/"))
            model_calls.review_calls(client, calls, out, args.results, args.questions, (k, n))
        elif phase == "critique":
            k, n = (int(x) for x in args.part.split("/"))
            model_calls.critique_calls(client, calls, out, args.results, args.questions, (k, n))
        elif phase == "scope":
            k, n = (int(x) for x in args.part.split("/"))
            model_calls.scope_note_calls(client, calls, out, args.scope_notes, (k, n))
        else:
            model_calls.analysis_calls(client, calls, out, args.results)
    finally:
        LocalServer(workspace, settings.local_llm).stop()


def evals(out: Path, profile: str) -> None:
    """The three multiple-choice evals with their random baselines."""
    from assistant.llm.local_server import LocalServer
    from tools.evals.endpoint import Endpoint
    from tools.evals.mc import MCEvalConfig, run_mc_eval

    workspace = out / "evals-ws"
    settings = _settings(workspace, profile).with_overrides(**{"llm.temperature": 0.0})
    server = LocalServer(workspace, settings.local_llm)
    info = server.ensure()
    try:
        endpoint = Endpoint(base_url=info.base_url, model=info.alias, timeout_s=600)
        for task, limit in EVAL_LIMITS.items():
            if (out / "evals" / task / "results.json").is_file():
                continue
            started = time.perf_counter()
            config = MCEvalConfig(task=task, source=TASKS, endpoint=endpoint, run_dir=out / "evals" / task, limit=limit)
            result = run_mc_eval(config)
            (out / "evals" / task / "seconds.json").write_text(json.dumps({"seconds": time.perf_counter() - started}))
            print(profile, task, result.accuracy.get("mean"), flush=True)
    finally:
        server.stop()


def _extract_child(model: str, cache: str) -> None:

    from tools.datasets import load_dataset
    from tools.research.activations import CausalLMActivations

    texts = list(load_dataset("rotten_tomatoes").texts[:EXTRACT_TEXTS])
    acts = CausalLMActivations(cache, model=model, threads=2, batch_size=16)
    started = time.perf_counter()
    acts._load()
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    acts.extract(texts, [EXTRACT_LAYER])
    extract_s = time.perf_counter() - started
    again = CausalLMActivations(cache, model=model, threads=2)
    started = time.perf_counter()
    again.extract(texts, [EXTRACT_LAYER])
    cached_s = time.perf_counter() - started
    record = {
        "model": model,
        "load_s": load_s,
        "texts_per_s": len(texts) / extract_s,
        "cached_s": cached_s,
        "cache_hits": again.cache.hits,
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(record))


def extract(out: Path, profile: str) -> None:
    """Activation extraction throughput for the profile's model, in a fresh process."""
    from assistant.settings import PROFILES

    cache = out / "extract-cache"
    done = subprocess.run(
        [sys.executable, "-m", "bench.model_compare", "--extract-child", PROFILES[profile], str(cache)],
        capture_output=True,
        text=True,
        check=True,
    )
    (out / "extract.json").write_text(done.stdout.strip().splitlines()[-1])
    print(profile, "extract", done.stdout.strip().splitlines()[-1], flush=True)


def _shown(argv: list[str]) -> list[str]:
    """The command's arguments as the section quotes them: the results directory as ``DIR``, and without the
    prose options (``--note``, ``--title``, ``--setup``), whose text the section already shows."""
    shown: list[str] = []
    args = iter(argv)
    for arg in args:
        name = arg.split("=", 1)[0]
        if name in ("--note", "--title", "--setup"):
            if "=" not in arg:
                next(args, None)
        elif name == "--out":
            shown.append("--out DIR")
            if "=" not in arg:
                next(args, None)
        else:
            shown.append(arg)
    return shown


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--extract-child":
        _extract_child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(allow_abbrev=False)  # the section quotes the arguments: no abbreviations
    parser.add_argument("--out", type=Path, required=True, help="results directory (phases resume inside it)")
    parser.add_argument(
        "--results",
        type=Path,
        default=Path(__file__).parent / "data" / "synthetic_w2s_results.json",
        help="a real results.json for the analysis phase (default: a synthetic_w2s run's, kept in bench/data)",
    )
    parser.add_argument("--only", default=",".join(PHASES), help=f"comma-separated phases of {', '.join(PHASES)}")
    parser.add_argument("--profiles", default=",".join(PROFILES))
    parser.add_argument(
        "--questions",
        type=int,
        default=37,
        help="testable labelled questions used (dev and held out interleaved; the out-of-scope ones always)",
    )
    parser.add_argument(
        "--shortlist-rule",
        help="MIN/MARGIN/LIMIT: the tool shortlist's rule for this run (default: assistant.toolchoice's); keeps one "
        "rule across processes started before and after a change",
    )
    parser.add_argument(
        "--part", default="0/1", help="K/N: this process takes every N-th question from the K-th (merge the outputs)"
    )
    parser.add_argument(
        "--debug-rounds", type=int, default=3, help="debug calls after a failing free cell (the loop's 3)"
    )
    parser.add_argument(
        "--scope-notes",
        type=int,
        default=20,
        help="scope-note calls in the scope phase (out-of-scope questions first)",
    )
    parser.add_argument("--cell-timeout", type=float, default=180.0, help="seconds per free cell")
    parser.add_argument(
        "--section",
        default="model-compare",
        help="the docs/benchmarks.md section written (another name keeps the full comparison's section as it is)",
    )
    parser.add_argument("--title", default="", help="the section's heading after the profiles' names")
    parser.add_argument("--note", default="", help="how the run was scheduled, when not by this one command")
    parser.add_argument("--setup", default=SETUP, help="threads, temperature and machine of the run, as one sentence")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    phases = [p for p in args.only.split(",") if p]
    for phase in phases:
        for profile in args.profiles.split(","):
            out = args.out / profile
            out.mkdir(parents=True, exist_ok=True)
            if phase == "speed" and not (out / "speed.json").is_file():
                speed(out, profile)
            elif phase == "cycle" and not (out / "cycle.json").is_file():
                cycle(out, profile)
            elif phase in ("calls", "code", "analysis", "critique", "scope", "review", "cells"):
                model_phase(out, profile, phase, args)
            elif phase == "evals":
                evals(out, profile)
            elif phase == "extract" and not (out / "extract.json").is_file():
                extract(out, profile)
    command = "python -m bench.model_compare " + " ".join(
        a if a == "--out DIR" else shlex.quote(a) for a in _shown(sys.argv[1:])
    )
    text = render(args.out, command, args.note, args.title, args.setup)
    print(text)
    if not args.no_write:
        write_section(args.section, text)


if __name__ == "__main__":
    main()
