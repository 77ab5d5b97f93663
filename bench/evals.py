"""Evals on the embedded SmolLM2-135M server: accuracies with CIs beside a random baseline, oversight, CoT
faithfulness, and the throughput of ``tools.evals`` against Inspect called directly.

Throughput: the same Inspect task (first N misconceptions items, letter-logprob scoring) on the same endpoint,
run alternately through ``run_mc_eval`` (our wrapper: loading, Inspect, summarising, results.json) and through
``inspect_ai.eval`` alone; the ratio of items/s (target >= 0.95). Run:
``nice -n 10 .venv/bin/python -m bench.evals`` (options: ``--limit`` items per category, ``--oversight-limit``,
``--cot-limit``, ``--throughput-items``, ``--no-write``). Runs take minutes: the server uses one thread.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.llm.local_server import MODEL_ALIAS, LocalServer
from assistant.settings import load_settings
from bench._results import write_section
from tools.evals.cot import CoTConfig, run_cot_faithfulness
from tools.evals.data import load_bigbench
from tools.evals.endpoint import Endpoint
from tools.evals.mc import MCEvalConfig, MCEvalResult, build_task, run_inspect, run_mc_eval
from tools.evals.oversight import OversightConfig, run_oversight

TASKS = Path(os.environ.get("ARA_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "datasets/bigbench_tasks"


def _ci(metric: dict[str, Any]) -> str:
    if metric["mean"] is None:
        return "n/a"
    return f"{metric['mean']:.3f} [{metric['ci_low']:.3f}, {metric['ci_high']:.3f}]"


def throughput(endpoint: Endpoint, out: Path, n_items: int, rounds: int) -> dict[str, float]:
    """Items/s of ``run_mc_eval`` vs ``inspect_ai.eval`` on the same task and endpoint, interleaved."""
    items = load_bigbench(TASKS, "misconceptions", limit=n_items)
    run_inspect(build_task(items[:2], name="warmup"), endpoint, out / "warmup")
    seconds: dict[str, float] = {"ours": 0.0, "direct": 0.0}
    for r in range(rounds):
        for path in ("direct", "ours") if r % 2 == 0 else ("ours", "direct"):
            start = time.perf_counter()
            if path == "direct":
                run_inspect(build_task(items, name="misconceptions"), endpoint, out / f"direct{r}")
            else:
                config = MCEvalConfig(
                    task="misconceptions", source=TASKS, endpoint=endpoint, run_dir=out / f"ours{r}", limit=n_items
                )
                run_mc_eval(config)
            seconds[path] += time.perf_counter() - start
    ours, direct = rounds * len(items) / seconds["ours"], rounds * len(items) / seconds["direct"]
    return {"ours": ours, "direct": direct, "ratio": ours / direct, "n": len(items)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None, help="items per category for the MC evals (None = all)")
    parser.add_argument("--oversight-limit", type=int, default=12)
    parser.add_argument("--cot-limit", type=int, default=12)
    parser.add_argument("--throughput-items", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None, help="run directory (default: a temp dir)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = args.out or Path(tempfile.mkdtemp(prefix="ara-bench-evals-"))
    workspace = out / "workspace"
    settings = load_settings(workspace)
    server = LocalServer(workspace, settings.local_llm)
    endpoint = Endpoint(base_url=server.ensure().base_url, model=MODEL_ALIAS, timeout_s=120)
    started = time.perf_counter()
    try:
        speed = throughput(endpoint, out / "throughput", args.throughput_items, args.rounds)
        print(json.dumps(speed))
        mc: dict[str, MCEvalResult] = {}
        for task in ("truthful_qa", "hhh_alignment", "misconceptions"):
            config = MCEvalConfig(task=task, source=TASKS, endpoint=endpoint, run_dir=out / task, limit=args.limit)
            mc[task] = run_mc_eval(config)
            print(task, _ci(mc[task].accuracy), mc[task].scoring_counts)
        oversight = run_oversight(
            OversightConfig(
                task="truthful_qa",
                source=TASKS,
                judge=endpoint,
                critic=endpoint,
                limit=args.oversight_limit,
                run_dir=out / "oversight",
            )
        )
        cot = run_cot_faithfulness(
            CoTConfig(task="misconceptions", source=TASKS, model=endpoint, limit=args.cot_limit, run_dir=out / "cot")
        )
    finally:
        server.stop()
    wall = time.perf_counter() - started
    rows = []
    for task, result in mc.items():
        rows.append(
            f"| {task} | {result.accuracy['n']} | {_ci(result.accuracy)} | {_ci(result.random_baseline)} | "
            f"{result.expected_random:.3f} | {result.scoring_counts} | {result.items_per_s:.2f} |"
        )
    hhh = mc["hhh_alignment"].by_category
    hhh_rows = [f"| {c} | {m['n']} | {_ci(m)} |" for c, m in hhh.items()]
    o_rows = [
        f"| {c} | {m['n']} | {_ci(m)} | {_ci(oversight.delta_vs_alone[c]) if c in oversight.delta_vs_alone else '-'} "
        f"| {oversight.failures[c] or '-'} |"
        for c, m in oversight.accuracy.items()
    ]
    cm = cot.metrics
    c_rows = [f"| answer same as with full CoT, keeping {k}% of steps | {_ci(cm[f'early_answering.same_as_full.k{k}'])} |" for k in (0, 25, 50, 75)]  # fmt: skip
    c_rows += [
        f"| early-answering AOC (higher = reasoning matters more) | {_ci(cm['early_answering.aoc'])} |",
        f"| answer changed after an inserted mistake | {_ci(cm['mistake_insertion.changed'])} |",
        f"| accuracy with full CoT / without CoT | {_ci(cm['accuracy.full_cot'])} / {_ci(cm['accuracy.no_cot'])} |",
        f"| failed items (timeout / error / no steps) | {cm['failures.timeout']['value']} / "
        f"{cm['failures.error']['value']} / {cm['failures.no_steps']['value']} |",
    ]
    limit_note = "full task files" if args.limit is None else f"first {args.limit} items per category"
    text = f"""## Evals on Inspect (`bench/evals.py`)

Command: `nice -n 10 .venv/bin/python -m bench.evals{"" if args.limit is None else f" --limit {args.limit}"} \
--oversight-limit {args.oversight_limit} --cot-limit {args.cot_limit} --throughput-items {args.throughput_items} \
--rounds {args.rounds}`.
Model: the embedded SmolLM2-135M-Instruct (Q4_1 GGUF, llama-cpp-python server, 1 thread), temperature 0. Wall time
{wall / 60:.1f} min. Scoring: log-probability of the option letter at the first answer token (options shuffled
per item with seed 0, because the BIG-bench files list the correct option first). CIs: 95% percentile bootstrap
over items. The random baseline draws one option per item with a seeded RNG in the same run; "expected" is the
mean of 1/#options.

### Multiple choice ({limit_note})

| task | n | accuracy [95% CI] | random choice [95% CI] | expected random | scored by | items/s |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

HHH alignment by category:

| category | n | accuracy [95% CI] |
|---|---|---|
{chr(10).join(hhh_rows)}

How weak a 135M model is: these numbers sit at or near chance. A 135M instruction model mostly expresses a
letter preference, not knowledge; an accuracy whose CI overlaps the random baseline is not evidence of any
ability. Use these runs to test the harness, and a real endpoint (``Endpoint(base_url=..., model=...)``) for
findings.

### Critique-assisted judging (TruthfulQA MC, first {args.oversight_limit} items; judge = critic = SmolLM2)

| condition | n | judge accuracy [95% CI] | paired difference vs alone [95% CI] | failures |
|---|---|---|---|---|
{chr(10).join(o_rows)}

### CoT faithfulness (misconceptions, first {args.cot_limit} items; Lanham et al. 2023 tests)

| measure | value [95% CI] |
|---|---|
{chr(10).join(c_rows)}

### Throughput: ``run_mc_eval`` vs ``inspect_ai.eval`` directly

Same task (first {speed["n"]:.0f} misconceptions items), same endpoint, {args.rounds} interleaved rounds each.

| path | items/s |
|---|---|
| Inspect directly (`inspect_ai.eval`) | {speed["direct"]:.3f} |
| ours (`tools.evals.mc.run_mc_eval`) | {speed["ours"]:.3f} |

**Ratio ours / direct: {speed["ratio"]:.3f}** (target >= 0.95).
"""
    print(text)
    print(f"run directory: {out}")
    if not args.no_write:
        write_section("evals", text)


if __name__ == "__main__":
    main()
