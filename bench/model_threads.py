"""llama.cpp thread counts for both embedded models, on an idle machine and with the other core busy.

For each profile (``tiny`` = SmolLM2-135M, ``default`` = Qwen2.5-Coder-1.5B) x ``n_threads = n_threads_batch`` in
{1, 2} x load {idle, busy}, a fresh child process loads the verified GGUF with llama-cpp-python (``n_ctx`` as the
server uses it), evaluates a fixed ~300-token prompt (prompt tokens/s) and then decodes 64 single-token steps
(decode tokens/s; model compute only, no sampling), ``--rounds`` times, keeping the median. "busy" runs one CPU
spinner (``while True: pass``) beside it for the whole measurement, which is what another engineer's job or a
sandboxed cell does to a 2-core machine. The load average before each cell is recorded (the machine is shared).
Peak RSS of the child is the memory figure. Run: ``.venv/bin/python -m bench.model_threads``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from bench._results import peak_rss_mb, write_section

PROMPT = (
    "You are a research assistant. Read the question and the evidence, then propose an experiment.\n"
    "Question: Does training a strong student on a weak supervisor's labels recover part of the gap to the strong "
    "ceiling (positive PGR)? Evidence: [burns2023] Weak-to-strong generalization: strong students trained on labels "
    "from weak supervisors consistently perform better than their weak supervisors. The performance gap recovered "
    "(PGR) is the fraction of the gap between the weak supervisor and the strong ceiling that the student closes. "
    "An auxiliary confidence loss raises PGR on NLP tasks; bootstrapping helps on chess puzzles; reward modelling "
    "shows small PGR. Available recipes: w2s (weak-to-strong on frozen features: dataset, weak_features, "
    "strong_features, loss, seeds), probes (supervised probe vs CCS by layer on contrast pairs), honesty_probes "
    "(probes on true/false statements from TruthfulQA or misconceptions). Answer with one JSON object with the "
    "fields title, hypothesis, method, recipe, config, expected_outcome, controls, seeds and citations. Keep the "
    "method to two or three sentences, choose the recipe that can test the hypothesis, and cite only the evidence "
    "keys given above. Consider which datasets are text and which are tabular, and pick features accordingly."
)
DECODE_STEPS = 64


def _one(profile: str, threads: int, rounds: int, n_ctx: int) -> dict[str, Any]:
    """In the child: load, then time prompt evaluation and decode steps; median of ``rounds``."""
    from llama_cpp import Llama

    from assistant.llm.profiles import resolve_profile
    from assistant.settings import LocalLLMSettings

    model = resolve_profile(LocalLLMSettings(profile=profile))
    started = time.perf_counter()
    llm = Llama(model_path=str(model.path), n_threads=threads, n_threads_batch=threads, n_ctx=n_ctx, verbose=False)
    load_s = time.perf_counter() - started
    tokens = llm.tokenize(PROMPT.encode(), add_bos=True)
    prompt_rates, decode_rates = [], []
    for _ in range(rounds):
        llm.reset()  # type: ignore[no-untyped-call]
        started = time.perf_counter()
        llm.eval(tokens)
        prompt_rates.append(len(tokens) / (time.perf_counter() - started))
        started = time.perf_counter()
        for _ in range(DECODE_STEPS):
            llm.eval([tokens[-1]])
        decode_rates.append(DECODE_STEPS / (time.perf_counter() - started))
    return {
        "profile": profile,
        "threads": threads,
        "prompt_tokens": len(tokens),
        "load_s": load_s,
        "prompt_tps": statistics.median(prompt_rates),
        "decode_tps": statistics.median(decode_rates),
        "prompt_all": prompt_rates,
        "decode_all": decode_rates,
        "peak_rss_mb": peak_rss_mb(),
    }


def measure(profile: str, threads: int, busy: bool, rounds: int, n_ctx: int) -> dict[str, Any]:
    """One cell of the table, in a fresh child process (with a spinner beside it when ``busy``)."""
    load = os.getloadavg()[0]
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.model_threads", "--child", profile, str(threads), str(rounds), str(n_ctx)],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    row.update(busy=busy, load_before=load)
    return row


def render(rows: list[dict[str, Any]], command: str) -> str:
    """The docs section."""
    lines = [
        "## Embedded model threads (`bench/model_threads.py`)",
        "",
        f"Command: `{command}`. Each cell is a fresh process: load the GGUF, evaluate a {rows[0]['prompt_tokens']}-"
        f"token prompt (SmolLM2 tokeniser; Qwen's count is in its rows) and {DECODE_STEPS} decode steps, median of "
        "the rounds. `n_threads = n_threads_batch`. busy = one CPU spinner on the other core for the whole cell. "
        "Load average (1 min) before each cell is shown because the machine is shared.",
        "",
        "| profile | threads | load | prompt tokens | prompt tok/s | decode tok/s | peak RSS (MB) | load avg before |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['profile']} | {r['threads']} | {'busy' if r['busy'] else 'idle'} | {r['prompt_tokens']} | "
            f"{r['prompt_tps']:.1f} | {r['decode_tps']:.1f} | {r['peak_rss_mb']:.0f} | {r['load_before']:.1f} |"
        )
    lines += ["", "Per round (prompt tok/s; decode tok/s):", ""]
    for r in rows:
        lines.append(
            f"- {r['profile']}, {r['threads']} thread(s), {'busy' if r['busy'] else 'idle'}: "
            + ", ".join(f"{v:.1f}" for v in r["prompt_all"])
            + "; "
            + ", ".join(f"{v:.1f}" for v in r["decode_all"])
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        profile, threads, rounds, n_ctx = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        print(json.dumps(_one(profile, threads, rounds, n_ctx)))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", default="tiny,default")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = []
    for profile in args.profiles.split(","):
        for busy in (False, True):
            for threads in (1, 2):
                row = measure(profile, threads, busy, args.rounds, args.n_ctx)
                print(json.dumps({k: v for k, v in row.items() if not k.endswith("_all")}), flush=True)
                rows.append(row)
    command = f".venv/bin/python -m bench.model_threads --rounds {args.rounds} --n-ctx {args.n_ctx}"
    text = render(rows, command)
    print(text)
    if not args.no_write:
        write_section("model-threads", text)


if __name__ == "__main__":
    main()
