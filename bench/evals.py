"""Evals on the embedded SmolLM2-135M server: accuracies with CIs beside a random baseline, critique-assisted
judging, CoT faithfulness, the honesty-probe table, and the throughput of ``tools.evals`` vs Inspect directly.

Throughput: the same Inspect task (first N misconceptions items, letter-logprob scoring) on the same endpoint,
run alternately through ``run_mc_eval`` (our wrapper: loading, Inspect, summarising, results.json) and through
``inspect_ai.eval`` alone, after one untimed warm-up; the ratio of items/s (target >= 0.95).

Every phase writes its ``results.json`` (or ``throughput.json``) under ``--out``; the docs section is rendered from
whatever that directory holds, so phases can run separately (``--only probes``) into the same directory. Run:
``nice -n 10 .venv/bin/python -m bench.evals --out DIR`` (options below). The server uses one thread: minutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench._results import write_section
from tools.evals.data import load_bigbench
from tools.evals.endpoint import Endpoint
from tools.evals.mc import MCEvalConfig, build_task, run_inspect, run_mc_eval

TASKS = Path(os.environ.get("ARA_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "datasets/bigbench_tasks"
MC_TASKS = ("truthful_qa", "hhh_alignment", "misconceptions")
PHASES = ("throughput", "overhead", "mc", "oversight", "cot", "probes")
PROBE_TASKS = (("misconceptions", None), ("truthful_qa", 30))


def _ci(metric: dict[str, Any]) -> str:
    if metric.get("mean") is None:
        return "n/a"
    return f"{metric['mean']:.3f} [{metric['ci_low']:.3f}, {metric['ci_high']:.3f}]"


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _answers(log_path: Path) -> str:
    """How often each option letter was the model's answer, read back from the Inspect log."""
    from inspect_ai.log import read_eval_log

    counts = Counter(
        next(iter((sample.scores or {}).values())).answer for sample in read_eval_log(str(log_path)).samples or []
    )
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: str(kv[0])))


def throughput(endpoint: Endpoint, out: Path, n_items: int, rounds: int) -> dict[str, float]:
    """Items/s of ``run_mc_eval`` vs ``inspect_ai.eval`` on the same task and endpoint, alternating order."""
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
    return {"ours": ours, "direct": direct, "ratio": ours / direct, "n": len(items), "rounds": rounds}


def overhead(out: Path, n_items: int, rounds: int) -> dict[str, float]:
    """Items/s of ``run_mc_eval`` vs ``inspect_ai.eval`` with Inspect's instant ``mockllm``: the wrapper's own cost.

    mockllm counts input tokens with tiktoken, which downloads its encoding on first use; offline the count is
    replaced by a length estimate (it only feeds Inspect's bookkeeping).
    """
    from inspect_ai.model import ModelOutput, get_model
    from inspect_ai.model._providers.mockllm import MockLLM

    async def count_text_tokens(self: MockLLM, text: str) -> int:
        return max(1, len(text) // 4)

    MockLLM.count_text_tokens = count_text_tokens  # type: ignore[method-assign,assignment]
    items = load_bigbench(TASKS, "misconceptions", limit=n_items)

    def model() -> Any:
        return get_model("mockllm/model", custom_outputs=lambda *a: ModelOutput.from_content("m", "A"), memoize=False)

    unused = Endpoint(base_url="http://127.0.0.1:9/v1", model="unused")
    run_inspect(build_task(items[:2], "generate", name="warmup"), model(), out / "warmup")
    seconds: dict[str, float] = {"ours": 0.0, "direct": 0.0}
    for r in range(rounds):
        for path in ("direct", "ours") if r % 2 == 0 else ("ours", "direct"):
            start = time.perf_counter()
            if path == "direct":
                run_inspect(build_task(items, "generate", name="misconceptions"), model(), out / f"direct{r}")
            else:
                config = MCEvalConfig(task="misconceptions", source=TASKS, endpoint=unused, scoring="generate",
                                      run_dir=out / f"ours{r}", limit=n_items)  # fmt: skip
                run_mc_eval(config, model=model())
            seconds[path] += time.perf_counter() - start
    ours, direct = rounds * len(items) / seconds["ours"], rounds * len(items) / seconds["direct"]
    return {"ours": ours, "direct": direct, "ratio": ours / direct, "n": len(items), "rounds": rounds}


def run_phases(args: argparse.Namespace, out: Path, phases: list[str]) -> None:
    """Run the chosen phases, each writing its results under ``out``."""
    from assistant.llm.local_server import LocalServer
    from assistant.settings import load_settings
    from tools.evals.cot import CoTConfig, run_cot_faithfulness
    from tools.evals.oversight import OversightConfig, run_oversight

    if "overhead" in phases:
        cost = overhead(out / "overhead", args.overhead_items, args.rounds)
        (out / "overhead.json").write_text(json.dumps(cost))
        print(json.dumps(cost), flush=True)
    needs_server = set(phases) - {"probes", "overhead"}
    settings = load_settings(out / "workspace").with_overrides(**{"local_llm.profile": args.profile})
    server = LocalServer(out / "workspace", settings.local_llm) if needs_server else None
    try:
        if server is not None:
            info = server.ensure()
            endpoint = Endpoint(base_url=info.base_url, model=info.alias, timeout_s=args.timeout)
            if "throughput" in phases:
                speed = throughput(endpoint, out / "throughput", args.throughput_items, args.rounds)
                (out / "throughput.json").write_text(json.dumps(speed))
                print(json.dumps(speed), flush=True)
            if "mc" in phases:
                for task in MC_TASKS:
                    config = MCEvalConfig(
                        task=task, source=TASKS, endpoint=endpoint, run_dir=out / task, limit=args.limit
                    )
                    result = run_mc_eval(config)
                    print(task, _ci(result.accuracy), result.scoring_counts, flush=True)
            if "oversight" in phases:
                run_oversight(
                    OversightConfig(task=args.oversight_task, source=TASKS, judge=endpoint, critic=endpoint,
                                    limit=args.oversight_limit, run_dir=out / "oversight")
                )  # fmt: skip
            if "cot" in phases:
                run_cot_faithfulness(
                    CoTConfig(task="misconceptions", source=TASKS, model=endpoint, limit=args.cot_limit,
                              run_dir=out / "cot")
                )  # fmt: skip
    finally:
        if server is not None:
            server.stop()
    if "probes" in phases:
        from tools.evals.probes import HonestyProbeConfig, run_honesty_probes
        from tools.probes import SmolLM2Activations

        cache = args.activation_cache or out / "activation-cache"
        activations = SmolLM2Activations(cache, max_tokens=96, threads=1)
        for task, limit in PROBE_TASKS:
            probe_config = HonestyProbeConfig(task=task, source=TASKS, run_dir=out / "probes" / task, limit=limit)
            run_honesty_probes(probe_config, activations=activations)


def render(out: Path) -> str:
    """The docs section from the results under ``out`` and the commands that produced them."""
    log = out / "commands.txt"
    commands = log.read_text().splitlines() if log.is_file() else []
    parts = [
        "## Evals on Inspect (`bench/evals.py`)",
        "Commands (in order, into one results directory): " + "; ".join(f"`{c}`" for c in commands) + ".",
        "Model: the embedded SmolLM2-135M-Instruct (Q4_1 GGUF, llama-cpp-python server, 1 thread), temperature 0, "
        "on the shared 2-core machine while other engineers' jobs ran (load average 7-14), so items/s are low and "
        "noisy. Scoring: log-probability of the option letter at the first answer token (options shuffled per "
        "item with seed 0; TruthfulQA and HHH list the correct option first). CIs: 95% percentile "
        "bootstrap over items. The random baseline draws one option per item with a seeded RNG in the same run; "
        "'expected' is the mean of 1/#options.",
    ]
    mc = {task: _load(out / task / "results.json") for task in MC_TASKS}
    if any(mc.values()):
        rows = []
        for task, res in mc.items():
            if res is None:
                continue
            m = res["metrics"]
            scoring = {row[0]: row[1] for row in res["tables"]["scoring"]["rows"]}
            acc, expected = m["accuracy"], m["expected_random"]["value"]
            full = len(load_bigbench(TASKS, task))
            verdict = (
                "overlaps chance"
                if acc["ci_low"] <= expected <= acc["ci_high"]
                else ("above chance" if acc["ci_low"] > expected else "below chance")
            )
            rows.append(
                f"| {task} | {acc['n']} of {full} | {_ci(acc)} | {_ci(m['random_baseline'])} | {expected:.3f} | "
                f"{verdict} | {_answers(out / task / res['provenance']['inspect_log'])} | {scoring} | "
                f"{m['items_per_s']['value']:.2f} |"
            )
        parts.append(
            "### Multiple choice\n\n| task | n | accuracy [95% CI] | random choice [95% CI] | expected random | "
            "CI vs expected random | answers given | scored by | items/s |\n|---|---|---|---|---|---|---|---|---|\n"
            + "\n".join(rows)
        )
        hhh = mc.get("hhh_alignment")
        if hhh:
            cats = [
                f"| {k.split('.', 1)[1]} | {v['n']} | {_ci(v)} |"
                for k, v in hhh["metrics"].items()
                if k.startswith("accuracy_by_category.")
            ]
            parts.append(
                "HHH alignment by category:\n\n| category | n | accuracy [95% CI] |\n|---|---|---|\n" + "\n".join(cats)
            )
        parts.append(
            "How weak a 135M model is: read every row against its random baseline. Where the CI overlaps chance, the "
            "model shows no measurable ability on that task. The 'answers given' column shows why: SmolLM2-135M "
            "answers 'A' almost every time, so its accuracy is the share of items whose correct option the seeded "
            "shuffle put first (without the shuffle it would score 100% on TruthfulQA and HHH, whose files list the "
            "correct option first in all 299 and 221 items). The limit keeps "
            "the first N items per category because one shared thread serves ~0.2-0.9 items/s; HHH's categories are "
            "smaller than the limit, so HHH ran in full. Use these runs to test the harness, and a real endpoint "
            "(`Endpoint(base_url=..., model=...)`) for findings."
        )
    ov = _load(out / "oversight" / "results.json")
    if ov:
        m = ov["metrics"]
        conds = [k.split(".", 1)[1] for k in m if k.startswith("judge_accuracy.")]
        statuses = {row[0]: json.loads(row[-1]) for row in ov["tables"]["judge_accuracy"]["rows"]}
        rows = [
            f"| {c} | {m[f'judge_accuracy.{c}']['n']} | {_ci(m[f'judge_accuracy.{c}'])} | "
            f"{_ci(m[f'delta_vs_alone.{c}']) if f'delta_vs_alone.{c}' in m else '-'} | "
            f"{', '.join(f'{k} {v}' for k, v in statuses[c].items()) or '-'} |"
            for c in conds
        ]
        parts.append(
            f"### Critique-assisted judging ({ov['config']['task']}, first {ov['config']['limit']} items; judge = critic = "
            "SmolLM2)\n\n| condition | n | judge accuracy [95% CI] | paired difference vs alone [95% CI] | "
            "failed decisions (counted wrong) |\n|---|---|---|---|---|\n"
            + "\n".join(rows)
            + "\n\n`unparsed`: the judge named no option. With a 135M critic the critiques and arguments are mostly "
            "noise, so extra text distracts the judge; the protocol is meant for a weak judge with a strong critic."
        )
    cot = _load(out / "cot" / "results.json")
    if cot:
        m = cot["metrics"]
        rows = [
            f"| answer same as with the full CoT, keeping {k}% of steps | {_ci(m[f'early_answering.same_as_full.k{k}'])} |"
            for k in (0, 25, 50, 75)
        ]
        rows += [
            f"| early-answering AOC (higher = the reasoning matters more) | {_ci(m['early_answering.aoc'])} |",
            f"| answer changed after an inserted mistake | {_ci(m['mistake_insertion.changed'])} |",
            f"| accuracy with full CoT / with no CoT | {_ci(m['accuracy.full_cot'])} / {_ci(m['accuracy.no_cot'])} |",
            f"| failed items (timeout / error / no steps) | {m['failures.timeout']['value']} / "
            f"{m['failures.error']['value']} / {m['failures.no_steps']['value']} |",
        ]
        parts.append(
            f"### CoT faithfulness (misconceptions, first {cot['config']['limit']} items; Lanham et al. 2023)\n\n"
            "| measure | value [95% CI] |\n|---|---|\n" + "\n".join(rows)
        )
    for task, _ in PROBE_TASKS:
        pr = _load(out / "probes" / task / "results.json")
        if not pr:
            continue
        m = pr["metrics"]
        rows = [
            f"| {r[0]} | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.3f} [{r[4]:.3f}, {r[5]:.3f}] |"
            for r in pr["tables"]["by_layer"]["rows"]
        ]
        n = pr["provenance"]["n_pairs"]
        best = max(pr["tables"]["by_layer"]["rows"], key=lambda r: r[1])
        majority = m["majority_class_acc"]["value"]
        limit = pr["config"]["limit"]
        parts.append(
            f"### Honesty probes by layer: {task}{'' if limit is None else f' (first {limit} questions)'}\n\n"
            f"Contrast pairs `<statement>\\nIs this true? Yes/No`, last-token SmolLM2 hidden states, split so a "
            f"question's options (TruthfulQA) or a misconception and its correction stay together ({n['train']} "
            f"train / {n['test']} test pairs). Zero-shot (log P(Yes) > log P(No)): "
            f"{_ci(m['zero_shot_acc'])}; majority class: {m['majority_class_acc']['value']:.3f}.\n\n"
            "| layer | supervised probe | CCS (lowest-loss restart) | CCS restarts mean [min, max] |\n"
            "|---|---|---|---|\n" + "\n".join(rows) + f"\n\nBest supervised probe: {best[1]:.3f} at layer {best[0]} "
            f"against a majority-class rate of {majority:.3f} on {n['test']} test pairs: "
            + ("no layer beats always answering the majority class." if best[1] <= majority else "above majority.")
        )
    speed = _load(out / "throughput.json")
    if speed:
        parts.append(
            f"### Throughput: `run_mc_eval` vs `inspect_ai.eval` directly\n\nSame task (first {speed['n']:.0f} "
            f"misconceptions items), same endpoint, one untimed warm-up, then {speed['rounds']:.0f} rounds in "
            "alternating order; items/s = all items over all seconds per path.\n\n| path | items/s |\n|---|---|\n"
            f"| Inspect directly (`inspect_ai.eval`) | {speed['direct']:.3f} |\n"
            f"| ours (`tools.evals.mc.run_mc_eval`) | {speed['ours']:.3f} |\n\n"
            f"**Ratio ours / direct: {speed['ratio']:.3f}** (target >= 0.95; under this load the difference is "
            "within run-to-run noise: our wrapper adds only file reading and summarising around the same Inspect run)."
        )
    cost = _load(out / "overhead.json")
    if cost:
        parts.append(
            f"Wrapper cost alone, with Inspect's instant `mockllm` instead of the server ({cost['n']:.0f} items, "
            f"{cost['rounds']:.0f} alternating rounds): Inspect directly {cost['direct']:.1f} items/s, ours "
            f"{cost['ours']:.1f} items/s, **ratio {cost['ratio']:.3f}**. (Before `summarise` read Inspect's sample "
            "summaries instead of the full samples, this ratio was 0.891: loading 200 full samples back took 0.6 s.)"
        )
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None, help="items per category for the MC evals (None = all)")
    parser.add_argument("--oversight-limit", type=int, default=12)
    parser.add_argument("--oversight-task", default="misconceptions", help="short prompts keep it to minutes")
    parser.add_argument("--cot-limit", type=int, default=12)
    parser.add_argument("--throughput-items", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--overhead-items", type=int, default=200, help="items per run with the instant mockllm")
    parser.add_argument("--only", default=",".join(PHASES), help=f"comma-separated phases of {', '.join(PHASES)}")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default: a new temp dir)")
    parser.add_argument("--activation-cache", type=Path, default=None, help="SmolLM2 activation cache (default: OUT)")
    parser.add_argument("--profile", default="tiny", help="embedded model profile (tiny = SmolLM2, as documented)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    phases = [p for p in args.only.split(",") if p]
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}; choose from {', '.join(PHASES)}")
    out = args.out or Path(tempfile.mkdtemp(prefix="ara-bench-evals-"))
    out.mkdir(parents=True, exist_ok=True)
    argv = " ".join("DIR" if a == str(args.out) else shlex.quote(a) for a in sys.argv[1:] if a != "--no-write")
    if phases:
        with (out / "commands.txt").open("a") as handle:
            handle.write(f"nice -n 10 .venv/bin/python -m bench.evals {argv}".strip() + "\n")
    run_phases(args, out, phases)
    text = render(out)
    print(text)
    print(f"results directory: {out}")
    if not args.no_write:
        write_section("evals", text)


if __name__ == "__main__":
    main()
