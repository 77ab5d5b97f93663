"""The research agenda through an unattended campaign on the embedded model: what an hour of the loop produces.

Runs ``bench/data/agenda_campaign.toml`` (one question per agenda tool: a critique question, a TruthfulQA question,
an early-answering question, a steering question, a weak-to-strong loss question and a CCS-by-layer question) with
``ara campaign run --until <now + minutes>`` in a fresh workspace, one entry at a time (one model process on two
cores), then renders what each entry's run did from its own files: the tool chosen, the config that ran, the
experiments and follow-ups of its tree, and every pre-registered hypothesis with the verdict code computed from
its interval. Nothing here reads a model's prose.

Run: ``.venv/bin/python -m bench.agenda_campaign --workspace DIR --minutes 60`` (the default profile; set
``ARA_LOCAL_LLM_PROFILE=tiny`` for a quick look), or ``--render-only`` over a workspace a campaign already ran in.
Writes the ``agenda-campaign`` section of docs/benchmarks.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from assistant.report.model import Report
from assistant.schemas import threshold
from bench._results import write_section

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = ROOT / "bench" / "data" / "agenda_campaign.toml"
ENV = {
    "ARA_LOCAL_LLM_PROFILE": "default",
    "ARA_LOCAL_LLM_N_THREADS": "2",
    "ARA_LOCAL_LLM_N_THREADS_BATCH": "2",
    "ARA_SUBJECT_ENABLED": "true",
    "ARA_KERNEL_CELL_TIMEOUT_S": "1500",
}
"""The embedded default model on two threads; the subject model on (the eval tools call it); cells may take
25 minutes (an oversight cell with critiques and debates makes hundreds of subject calls)."""


def run_campaign(workspace: Path, minutes: float) -> float:
    """Run the campaign until now + ``minutes``; the model server is stopped afterwards. Returns the wall time."""
    env = {**os.environ, **{k: os.environ.get(k, v) for k, v in ENV.items()}}
    until = (datetime.now() + timedelta(minutes=minutes)).isoformat(timespec="seconds")
    ara = [sys.executable, "-m", "assistant.cli", "--workspace", str(workspace)]
    start = time.perf_counter()
    try:
        subprocess.run([*ara, "campaign", "run", str(CAMPAIGN), "--until", until], env=env, check=False)
    finally:
        subprocess.run([*ara, "llm", "stop"], env=env, check=False)
    return time.perf_counter() - start


def _events(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "events.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a stop mid-write: the rest of the log still counts
    return out


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}" if abs(value) < 10 else f"{value:.4g}"


def entry_row(entry: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """What one campaign entry's run did, read from its run log and its report.json (if it got that far)."""
    events = _events(run_dir)
    kinds = [e.get("type") for e in events]
    chosen = next((e for e in events if e.get("type") == "tool_chosen"), None)
    finished = next((e for e in reversed(events) if e.get("type") in ("run_finished", "run_failed")), None)
    row: dict[str, Any] = {
        "id": entry.get("entry_id"),
        "status": entry.get("status"),
        "tool": (chosen or {}).get("chosen") or ("none" if chosen else "-"),
        "offered": (chosen or {}).get("offered", []),
        "wall_s": round(events[-1]["ts"] - events[0]["ts"], 1) if len(events) > 1 else 0.0,
        "subject_calls": kinds.count("subject_model_called"),
        "cells": kinds.count("cell_executed"),
        "end": (finished or {}).get("status") or (finished or {}).get("error") or "",
        "adjustments": [e.get("change", "") for e in events if e.get("type") == "plan_adjusted"],
        # a run stopped before its report (the deadline mid-cell) is counted from its log: the last results read
        # name each finished experiment's metrics under its node ('f1/accuracy'; the first experiment's bare), and
        # each follow-up the policy approves is planned before its cell starts
        "experiments": len(
            {
                str(m).split("/", 1)[0] if "/" in str(m) else ""
                for m in next((e.get("metrics", []) for e in reversed(events) if e.get("type") == "results_read"), [])
            }
        ),
        "followups": sum(
            1
            for e in events
            if e.get("type") == "plan_approved" and str(e.get("plan_title", "")).startswith("Follow-up")
        ),
        "hypotheses": [],
        "verdicts": next(
            (e.get("verdicts", {}) for e in reversed(events) if e.get("type") == "hypotheses_evaluated"), {}
        ),
        "config": {},
    }
    report_path = run_dir / "report.json"
    if report_path.is_file():
        report = Report.model_validate_json(report_path.read_text(encoding="utf-8"))
        if report.experiment is not None:
            row["config"] = report.experiment.approved_config
        if report.tree is not None:
            row["experiments"] = len(report.tree.nodes)
            row["followups"] = report.tree.followups
        elif report.experiment is not None:
            row["experiments"] = 1
        row["hypotheses"] = [
            {
                "id": h.id,
                "effect": f"{h.metric}{' - ' + h.baseline if h.baseline else ''}",
                "estimate": h.estimate,
                "ci": [h.ci_low, h.ci_high],
                "n": h.n,
                "over": h.over,
                "verdict": h.verdict,
                "method": h.method,
                "prediction": f"{'>' if h.predicted == 'increase' else '<'} {threshold(h):g}",
            }
            for h in report.hypotheses
        ]
    return row


def collect(workspace: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The campaign's summary (``ara campaign summary --json``) and one row per entry."""
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "--workspace", str(workspace), "campaign", "summary", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(done.stdout)
    rows = [entry_row(e, workspace / "runs" / str(e.get("run_id"))) for e in summary.get("entries", [])]
    return summary, rows


def render(summary: dict[str, Any], rows: list[dict[str, Any]], minutes: float, command: str, note: str = "") -> str:
    """The docs section."""
    experiments = sum(r["experiments"] for r in rows)
    followups = sum(r["followups"] for r in rows)
    finished = [r for r in rows if r["end"] == "done"]
    lines = [
        "## The research agenda in a one-hour campaign, default model (`bench/agenda_campaign.py`)",
        "",
        f"Command: `{command}`. Campaign file: `bench/data/agenda_campaign.toml` (six questions, one entry at a "
        f"time, the policy approving plans for every research tool); deadline {minutes:g} minutes after the start. "
        "The planner is Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, two threads); the subject model the eval tools call "
        "through the proxy is the same embedded model (steering reads SmolLM2's activations). "
        f"This machine, {datetime.now():%Y-%m-%d}.",
        "",
        f"**In {minutes:g} minutes: {len(finished)} of {len(rows)} entries finished; {experiments} experiment(s) "
        f"finished (follow-ups included) and {followups} follow-up(s) were approved and started.**",
        "",
        "| entry | status | tool (offered) | cells | subject calls | experiments | follow-ups | wall (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        offered = ", ".join(r["offered"])
        lines.append(
            f"| {r['id']} | {r['status']}{' (' + r['end'] + ')' if r['end'] and r['end'] != 'done' else ''} | "
            f"{r['tool']} ({offered}) | {r['cells']} | {r['subject_calls']} | {r['experiments']} | "
            f"{r['followups']} | {r['wall_s']:.0f} |"
        )
    lines += ["", "Verdicts, computed from each run's results and its pre-registered hypotheses:", ""]
    lines += verdict_lines(rows)
    spend = {k: summary.get(k) for k in ("stop_reason", "tokens", "kernel_hours", "wall_hours")}
    lines += ["", f"The campaign's own summary: `{json.dumps(spend, sort_keys=True)}`."]
    if note:
        lines += ["", note]
    return "\n".join(lines)


def verdict_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Per run: its tool and config, the adjustments code made at proposal, and every hypothesis's verdict."""
    lines: list[str] = []
    for r in rows:
        if not r["hypotheses"] and not r["adjustments"]:
            continue
        if not r["hypotheses"] and r["verdicts"]:
            last = ", ".join(f"{k}: {v}" for k, v in sorted(r["verdicts"].items()))
            lines.append(
                f"- **{r['id']}** ({r['tool']}; no report: {r['end'] or 'stopped'}; last computed verdicts {last})"
            )
            lines += [f"  - adjusted at proposal: {change}" for change in r["adjustments"]]
            continue
        lines.append(f"- **{r['id']}** ({r['tool']}; config {json.dumps(r['config'], sort_keys=True)[:300]})")
        for change in r["adjustments"]:
            lines.append(f"  - adjusted at proposal: {change}")
        for h in r["hypotheses"]:
            low, high = h["ci"]
            ci = f" [{_num(low)}, {_num(high)}]" if low is not None or high is not None else ""
            over = f", n = {h['n']} {h['over']}" if h["n"] and h["over"] else ""
            lines.append(
                f"  - {h['id']} {h['effect']} {h['prediction']}: {_num(h['estimate'])}{ci}{over}: **{h['verdict']}**"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--workspace", type=Path, required=True, help="a fresh directory for the campaign")
    parser.add_argument("--minutes", type=float, default=60.0, help="the campaign's deadline from its start")
    parser.add_argument("--render-only", action="store_true", help="render a campaign that already ran here")
    parser.add_argument("--no-write", action="store_true", help="print the section; leave docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a paragraph on what the figures say, appended to the section")
    args = parser.parse_args(argv)
    if not args.render_only:
        if args.workspace.exists() and any(args.workspace.iterdir()):
            parser.error(f"{args.workspace} is not empty: give a fresh directory (or --render-only to read it)")
        run_campaign(args.workspace, args.minutes)
    summary, rows = collect(args.workspace)
    command = f".venv/bin/python -m bench.agenda_campaign --workspace DIR --minutes {args.minutes:g}"
    text = render(summary, rows, args.minutes, command, args.note)
    print(text)
    if not args.no_write:
        write_section("agenda-campaign", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
