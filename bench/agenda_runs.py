"""Agenda questions through ``ara run`` on the embedded default model: one research run per question, plans
auto-approved, each rendered from its own files like a campaign entry (``bench.agenda_campaign.entry_row``).

Where the campaign bench shows what an hour holds, this shows single runs carried to their report: the tool chosen
from the shortlist, the experiments and follow-ups of the run's tree, the host's red flags, and every pre-registered
hypothesis with the verdict code computed from its interval. Nothing here reads a model's prose.

Run each question (``bench/data/agenda_campaign.toml``) in its own fresh workspace, one at a time::

    ARA_LOCAL_LLM_PROFILE=default ARA_LOCAL_LLM_N_THREADS=2 ARA_LOCAL_LLM_N_THREADS_BATCH=2 \\
    ARA_SUBJECT_ENABLED=true ARA_KERNEL_CELL_TIMEOUT_S=1500 \\
    .venv/bin/python -m assistant.cli --workspace WS run "QUESTION" --auto-approve-plans

then ``PYTHONPATH=. .venv/bin/python -m bench.agenda_runs WS [WS ...] --note "..."``, which writes the
``agenda-runs`` section of docs/benchmarks.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from bench._results import write_section
from bench.agenda_campaign import CAMPAIGN, _events, entry_row, verdict_lines
from tools.results import read_results


def _question(events: list[dict[str, Any]]) -> str:
    return str(next((e.get("question", "") for e in events if e.get("type") == "run_started"), ""))


def run_rows(workspace: Path) -> list[dict[str, Any]]:
    """One row per run in ``workspace``, named by the agenda entry whose question it asked."""
    entries = {e["question"]: e["id"] for e in tomllib.loads(CAMPAIGN.read_text(encoding="utf-8"))["entries"]}
    rows = []
    for run_dir in sorted(p for p in (workspace / "runs").iterdir() if p.is_dir()):
        events = _events(run_dir)
        question = _question(events)
        row = entry_row({"entry_id": entries.get(question, question[:40]), "status": "run"}, run_dir)
        row["status"] = row["end"] or "stopped"  # a run_failed event has an error, not a status
        row["flags"] = []
        if (run_dir / "results.json").is_file():
            verification = read_results(run_dir / "results.json", below=run_dir).verification
            row["flags"] = [f"{f.code}: {f.detail}" for f in verification.red_flags] if verification else []
        rows.append(row)
    return rows


def render(rows: list[dict[str, Any]], note: str = "") -> str:
    """The docs section."""
    lines = [
        "## Agenda questions through `ara run`, default model (`bench/agenda_runs.py`)",
        "",
        'Each question of `bench/data/agenda_campaign.toml` run alone with `ara run "..." --auto-approve-plans` in '
        "a fresh workspace: planner Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, two threads), the same embedded model as "
        "the subject the eval tools call through the proxy, cells limited to 1,500 s. Follow-ups are chosen by "
        f"code while the budget allows. This machine, {datetime.now():%Y-%m-%d}.",
        "",
        "| question | status | tool (offered) | cells | subject calls | experiments | follow-ups | wall (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['id']} | {r['status']} | {r['tool']} ({', '.join(r['offered'])}) | {r['cells']} | "
            f"{r['subject_calls']} | {r['experiments']} | {r['followups']} | {r['wall_s']:.0f} |"
        )
    lines += ["", "Verdicts, computed from each run's results and its pre-registered hypotheses:", ""]
    lines += verdict_lines(rows)
    flagged = [(r["id"], flag) for r in rows for flag in r["flags"]]
    if flagged:
        lines += ["", "The host's red flags on these results (each makes its report open with **Suspect result**):", ""]
        lines += [f"- **{run}** `{flag}`" for run, flag in flagged]
    if note:
        lines += ["", note]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("workspaces", type=Path, nargs="+", help="workspaces of `ara run`, one run or more each")
    parser.add_argument("--no-write", action="store_true", help="print the section; leave docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a paragraph on what the figures say, appended to the section")
    args = parser.parse_args(argv)
    rows = [row for workspace in args.workspaces for row in run_rows(workspace)]
    text = render(rows, args.note)
    print(text)
    if not args.no_write:
        write_section("agenda-runs", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
