"""Overhead of ara's LLM client over a bare ``openai`` call against the same local server.

Interleaves N calls of each kind (same prompt, temperature 0, fixed max_tokens) so load drifts hit both equally,
and reports medians and their ratio (target <= 1.05). Run: ``.venv/bin/python -m bench.llm_overhead``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import openai

from assistant.llm import connect_llm
from assistant.llm.local_server import LocalServer
from assistant.settings import load_settings
from bench._results import write_section

PROMPT = [{"role": "user", "content": "Name one technique for scalable oversight."}]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=25, help="calls of each kind (>= 20)")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    workspace = Path(tempfile.mkdtemp(prefix="ara-bench-llm-"))
    settings = load_settings(workspace).with_overrides(**{"llm.temperature": 0.0, "local_llm.profile": "tiny"})
    server = LocalServer(workspace, settings.local_llm)
    info = server.ensure()
    alias = info.alias
    try:
        ours = connect_llm(settings)
        bare = openai.OpenAI(base_url=info.base_url, api_key="local", max_retries=2, timeout=120)
        ours.chat(PROMPT, max_tokens=args.max_tokens)
        bare.chat.completions.create(model=alias, messages=PROMPT, temperature=0.0, max_tokens=args.max_tokens)
        t_ours: list[float] = []
        t_bare: list[float] = []
        for _ in range(args.n):
            start = time.perf_counter()
            bare.chat.completions.create(model=alias, messages=PROMPT, temperature=0.0, max_tokens=args.max_tokens)  # type: ignore[call-overload]
            t_bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            ours.chat(PROMPT, max_tokens=args.max_tokens)
            t_ours.append(time.perf_counter() - start)
    finally:
        server.stop()
    m_ours, m_bare = statistics.median(t_ours), statistics.median(t_bare)
    ratio = m_ours / m_bare
    table = (
        "| client | median (ms) | p90 (ms) |\n|---|---|---|\n"
        f"| bare `openai` | {m_bare * 1000:.1f} | {statistics.quantiles(t_bare, n=10)[-1] * 1000:.1f} |\n"
        f"| ara `OpenAIClient.chat` | {m_ours * 1000:.1f} | {statistics.quantiles(t_ours, n=10)[-1] * 1000:.1f} |\n"
    )
    text = (
        "## LLM client overhead (`bench/llm_overhead.py`)\n\n"
        f"Command: `.venv/bin/python -m bench.llm_overhead -n {args.n} --max-tokens {args.max_tokens}`. "
        f"{args.n} interleaved calls each against the embedded SmolLM2-135M server (1 thread), same prompt, "
        f"temperature 0, {args.max_tokens} tokens.\n\n{table}\n"
        f"**Ratio ours / bare: {ratio:.3f}** (target <= 1.05; the difference is {1000 * (m_ours - m_bare):+.1f} ms "
        "per call: pydantic records, usage accounting and the ledger).\n"
    )
    print(text)
    if not args.no_write:
        write_section("llm", text)


if __name__ == "__main__":
    main()
