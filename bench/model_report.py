"""Render ``bench/model_compare.py``'s results directory as the side-by-side section of docs/benchmarks.md.

Reads ``OUT/<profile>/`` (``speed.json``, ``cycle.json``, ``plans.jsonl``, ``configs.jsonl``, ``free.jsonl``,
``analysis.jsonl``, ``review_*.jsonl``, ``scope.jsonl``, ``evals/<task>/results.json``); a phase that has not run shows as "not run".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROFILES = {"tiny": "SmolLM2-135M (`tiny`)", "default": "Qwen2.5-Coder-1.5B (`default`)"}
EVAL_TASKS = ("truthful_qa", "hhh_alignment", "misconceptions")


def _json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _rate(hits: int, n: int) -> str:
    return f"{hits}/{n} ({100 * hits / n:.0f}%)" if n else "not run"


def _calls(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Every structured-call record by call type."""
    found: dict[str, list[dict[str, Any]]] = {}
    for record in _jsonl(out / "plans.jsonl"):
        found.setdefault("intake (ResearchBrief)", []).append(record["intake"])
        if record.get("choice"):
            found.setdefault("choose_tool (ToolChoice)", []).append(record["choice"])
        if record.get("plans"):
            found.setdefault("propose_experiments (ExperimentPlans)", []).append(record["plans"])
    for record in _jsonl(out / "configs.jsonl"):
        found.setdefault("propose_experiments, fill_config (recipe config)", []).append(record["config"])
    for record in _jsonl(out / "free.jsonl"):
        found.setdefault("write_code, free (FreeCell)", []).append(record["free_cell"])
        found.setdefault("debug (FreeCell)", []).extend(record["debug"])
    for record in _jsonl(out / "analysis.jsonl"):
        found.setdefault("analyse_results (Analysis)", []).append(record["analysis"])
    for record in _jsonl(out / "review_analysis.jsonl"):
        found.setdefault("analyse_results (Analysis)", []).append(record["analysis"])
    for record in _jsonl(out / "review_critique.jsonl"):
        found.setdefault("critique (Critique)", []).append(record["critique"])
    for record in _jsonl(out / "review_draft.jsonl"):
        found.setdefault("write_report, model draft (ReportDraft)", []).append(record["draft"])
    for record in _jsonl(out / "scope.jsonl"):
        found.setdefault("answer_out_of_scope (ScopeNote)", []).append(record["note"])
    return found


def _ci(metric: dict[str, Any] | None) -> str:
    if not metric or metric.get("mean") is None:
        return "n/a"
    return f"{metric['mean']:.3f} [{metric['ci_low']:.3f}, {metric['ci_high']:.3f}]"


def _rows(root: Path) -> list[tuple[str, dict[str, str]]]:
    rows: list[tuple[str, dict[str, str]]] = []

    def add(label: str, fn: Any) -> None:
        rows.append((label, {p: fn(root / p) for p in PROFILES}))

    def speed(key: str, fmt: str) -> Any:
        return lambda out: fmt.format((_json(out / "speed.json") or {}).get(key, float("nan")))

    add("prompt tokens/s (1 thread)", speed("prompt_tps", "{:.1f}"))
    add("decode tokens/s (1 thread)", speed("decode_tps", "{:.1f}"))
    add("peak memory, model loaded (RSS MB)", speed("peak_rss_mb", "{:.0f}"))

    def cycle(out: Path) -> str:
        data = _json(out / "cycle.json")
        if not data:
            return "not run"
        outcome = data["outcome"]
        return (
            f"{data['seconds']:.0f} s, {outcome.get('status')} ({data.get('code_mode')} mode, "
            f"{outcome.get('cells', 0)} cell(s), {outcome.get('tokens', 0)} tokens); server start "
            f"{data.get('server_start_s', float('nan')):.0f} s before it"
        )

    add("one full research cycle (`ara run`)", cycle)

    def nodes(out: Path) -> str:
        data = _json(out / "cycle.json")
        if not data:
            return "not run"
        return ", ".join(f"{k} {v:.0f}" for k, v in data["nodes"].items() if v >= 0.5)

    add("  seconds per node in that cycle", nodes)
    types = sorted({t for p in PROFILES for t in _calls(root / p)})
    for kind in types:

        def valid(out: Path, kind: str = kind) -> str:
            records = _calls(out).get(kind, [])
            if not records:
                return "not run"
            first = sum(r["first_valid"] for r in records)
            final = sum(r["ok"] for r in records)
            seconds = sum(r["seconds"] for r in records) / len(records)
            return f"first try {_rate(first, len(records))}; after retries {final}/{len(records)}; {seconds:.0f} s/call"

        add(f"schema-valid: {kind}", valid)

    def accuracy(out: Path) -> str:
        records = _jsonl(out / "plans.jsonl")
        if not records:
            return "not run"
        recipe = [r for r in records if r["accept"] != ["none"]]
        none = [r for r in records if r["accept"] == ["none"]]
        hits = sum(r["correct"] for r in records)
        held = [r for r in records if r["key"].startswith("h")]
        return (
            f"{_rate(hits, len(records))} (in-scope questions {sum(r['correct'] for r in recipe)}/{len(recipe)}, "
            f"out-of-scope {sum(r['correct'] for r in none)}/{len(none)}; held-out questions "
            f"{sum(r['correct'] for r in held)}/{len(held)})"
        )

    add("tool chosen = label (`choose_tool`, shortlist then model)", accuracy)

    def grounded(out: Path) -> str:
        records = _jsonl(out / "analysis.jsonl")
        if not records:
            return "not run"
        claims = sum(r.get("claims", 0) for r in records)
        named = sum(r.get("grounded_claims", 0) for r in records)
        return f"{claims} claims over {len(records)} calls; {_rate(named, claims)} name only real metrics or hypotheses"

    add("analysis claims naming their evidence", grounded)

    def reviewed(out: Path) -> str:
        records = _jsonl(out / "review_critique.jsonl")
        if not records:
            return "not run"
        said = [r["tests_question"] for r in records if r.get("tests_question")]
        counts = ", ".join(f"{v} {said.count(v)}" for v in ("yes", "partly", "no"))
        measured = [r for r in records if r["tool"] in ("w2s", "synthetic_w2s")]
        drafts = _jsonl(out / "review_draft.jsonl")
        full = sum(r.get("draft_required_filled", False) for r in drafts)
        return (
            f"critique's 'tests the question': {counts} (of {len(records)}; {len(measured)} plans are on the "
            f"results' own tool); model drafts with rationale and limitations filled {_rate(full, len(drafts))}"
        )

    add("review phase (critique, report draft)", reviewed)

    def free(out: Path) -> str:
        records = _jsonl(out / "free.jsonl")
        if not records:
            return "not run"
        n = len(records)
        first = sum(bool(r["runs"]) and r["runs"][0]["status"] == "ok" for r in records)
        after = sum(any(run["status"] == "ok" for run in r["runs"]) for r in records)
        results = sum(any(run.get("results_json") for run in r["runs"]) for r in records)
        blocked = sum(bool(r["runs"]) and r["runs"][0]["status"] == "blocked" for r in records)
        rounds = max(r.get("rounds", 3) for r in records)
        return (
            f"first run {_rate(first, n)}; after <= {rounds} debug round(s) {_rate(after, n)}; valid results.json "
            f"{results}/{n}; first cell refused before running (syntax error or guard rule) {blocked}/{n}"
        )

    add("free-mode cells", free)
    for task in EVAL_TASKS:

        def evaluation(out: Path, task: str = task) -> str:
            data = _json(out / "evals" / task / "results.json")
            if not data:
                return "not run"
            m = data["metrics"]
            expected = m["expected_random"]["value"]
            acc = m["accuracy"]
            verdict = (
                "overlaps chance"
                if acc["ci_low"] <= expected <= acc["ci_high"]
                else ("above chance" if acc["ci_low"] > expected else "below chance")
            )
            return (
                f"{_ci(acc)}, n={acc['n']}; random {_ci(m.get('random_baseline'))}, expected {expected:.3f}: {verdict}"
            )

        add(f"eval {task}: accuracy [95% CI] vs chance", evaluation)

    def extraction(out: Path) -> str:
        data = _json(out / "extract.json")
        if not data:
            return "not run"
        return (
            f"{data['texts_per_s']:.1f} texts/s after a {data['load_s']:.0f} s load, peak {data['peak_rss_mb']:.0f} MB;"
            f" again from the cache in {data['cached_s']:.2f} s ({data['cache_hits']} hit)"
        )

    add("activation extraction (64 reviews to layer 8, 2 threads)", extraction)
    return rows


def _questions(root: Path) -> str:
    by_profile = {p: {r["key"]: r for r in _jsonl(root / p / "plans.jsonl")} for p in PROFILES}
    keys = sorted(set().union(*[set(v) for v in by_profile.values()]))
    if not keys:
        return ""
    lines = ["| # | question | label | " + " | ".join(PROFILES) + " |", "|---|---|---|" + "---|" * len(PROFILES)]
    for key in keys:
        any_record = next(by_profile[p][key] for p in PROFILES if key in by_profile[p])
        cells = []
        for p in PROFILES:
            record = by_profile[p].get(key)
            cells.append("-" if record is None else f"{record['chosen'] or 'none'} {'✓' if record['correct'] else '✗'}")
        question = any_record["question"]
        lines.append(
            f"| {key} | {question[:90]}{'…' if len(question) > 90 else ''} | {'/'.join(any_record['accept'])} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


SETUP = (
    "one llama.cpp thread each (the measured default), temperature 0.2 as `make demo` uses it (0 for the evals), "
    "on the shared 2-core machine."
)


def render(root: Path, command: str, note: str = "", title: str = "", setup: str = SETUP) -> str:
    """The section's Markdown (``note``: how this run was scheduled, when it was not one plain command; ``title``:
    the heading after the profiles, for a section of some phases only; ``setup``: threads, temperature, machine).
    Rows no profile has data for are left out."""
    rows = _rows(root)
    table = ["| measure | " + " | ".join(PROFILES.values()) + " |", "|---|" + "---|" * len(PROFILES)]
    table += [
        f"| {label} | " + " | ".join(values[p] for p in PROFILES) + " |"
        for label, values in rows
        if any(values[p] != "not run" and not values[p].startswith("nan") for p in PROFILES)
    ]
    parts = [
        f"## SmolLM2-135M vs Qwen2.5-Coder-1.5B, {title or 'side by side'} (`bench/model_compare.py`)",
        f"Command: `{command}`. Both embedded profiles on the same phases and questions, {setup}"
        + (f" {note}" if note else ""),
        "\n".join(table),
        ""
        if not _questions(root)
        else "Tool choice per labelled question (`d`: `tests/data/tool_questions.json`, the set the shortlist's thresholds "
        "were set on; `h`: `bench/data/tool_questions_heldout.json`; ✓ = a tool that can test the question, or none "
        "where no tool can):",
        _questions(root),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"
