"""Does the loop answer the question asked? Tool-choice accuracy and verdict consistency, with a real model.

Part 1, tool choice: for every labelled question the real ``choose_tool`` node runs with the configured model: the
shortlist ranks the tools, the model picks one or none. The sets: ``tests/data/tool_questions.json`` and
``bench/data/tool_questions_heldout.json`` (the shortlist's thresholds were set on them, the choice prompt on the
first);
``bench/data/tool_questions_fresh.json`` (written before that; its misses were read when the choice prompt was
rewritten); ``bench/data/tool_questions_fresh2.json`` (written after that rewrite, before it was measured, never
tuned on until its misses led to the prompt's "what the tools measure" sentence and the steering card's layer
example); ``bench/data/tool_questions_fresh3.json`` (written after those two changes, before they were measured);
``bench/data/tool_questions_fresh4.json`` (written after the third set was measured, by someone who read the cards
but not the prompt; nothing tuned on it); ``bench/data/tool_questions_fresh5.json`` (written after the fourth set was
measured and before the change it measures); ``bench/data/tool_questions_fresh6.json`` (written after the fifth set
and the shortlist's words were measured, by a writer given only the cards' choice texts: no code, prompt, cue or
other set); ``bench/data/tool_questions_fresh7.json`` (written the same way by a second writer, after the sixth set's
misses were added to the words); ``bench/data/tool_questions_fresh8.json`` (by a third writer, the same way, after the
seventh set's misses changed the words and a card line); ``bench/data/tool_questions_fresh9.json`` (by a fourth
writer, the same way, after the eighth set's misses changed the words); ``bench/data/tool_questions_fresh10.json`` (by a
fifth writer, the same way, after the ninth set's misses changed the words and the choice prompt).
A choice is right when it is one of the question's labelled tools, or none for an out-of-scope question.
The shortlist alone (the model taking the first offered tool) is reported beside it.

Part 2, verdict consistency: ``--runs`` full research runs (auto-approved, in a fresh workspace, sandboxed kernels)
on questions the fast tools can test. For every report written, the verdict lines of report.md and the
hypotheses table are compared with the verdicts recomputed from results.json and the pre-registered hypotheses;
an accepted claim whose stance disagrees with a verdict also counts. Goal: 0 disagreements.

Command: ``nice -n 10 .venv/bin/python -m bench.research_quality --runs 10 --profile default`` (the embedded model
on a profile), or point ``ARA_LLM_BASE_URL``/``ARA_LLM_MODEL`` at another endpoint first. Writes the
``research-quality`` section of docs/benchmarks.md for the model used (``--no-write`` prints only). The two parts
can run as separate processes (``--runs 0`` / ``--no-choice``) that each ``--dump`` their rows to JSON;
``--load`` renders the section from such dumps.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from assistant.budget import Budget
from assistant.graph.context import RunContext
from assistant.graph.nodes.scope import choose_tool
from assistant.graph.session import RunSession
from assistant.llm import connect_llm
from assistant.llm.client import LLMClient
from assistant.llm.local_server import LocalServer
from assistant.recipes import default_registry
from assistant.report.build import evaluate_hypotheses
from assistant.report.model import Report
from assistant.runlog import RunLog
from assistant.settings import Settings, load_settings
from assistant.toolchoice import ShortlistRule, ToolRanker
from bench._results import write_section
from tools.results import read_results
from tools.vcs import Workspace

ROOT = Path(__file__).resolve().parent.parent
DEV_SET = ROOT / "tests" / "data" / "tool_questions.json"
HELD_OUT_SET = ROOT / "bench" / "data" / "tool_questions_heldout.json"
FRESH_SET = ROOT / "bench" / "data" / "tool_questions_fresh.json"
NEW_SET = ROOT / "bench" / "data" / "tool_questions_fresh2.json"
THIRD_SET = ROOT / "bench" / "data" / "tool_questions_fresh3.json"
FOURTH_SET = ROOT / "bench" / "data" / "tool_questions_fresh4.json"
FIFTH_SET = ROOT / "bench" / "data" / "tool_questions_fresh5.json"
SIXTH_SET = ROOT / "bench" / "data" / "tool_questions_fresh6.json"
SEVENTH_SET = ROOT / "bench" / "data" / "tool_questions_fresh7.json"
EIGHTH_SET = ROOT / "bench" / "data" / "tool_questions_fresh8.json"
NINTH_SET = ROOT / "bench" / "data" / "tool_questions_fresh9.json"
TENTH_SET = ROOT / "bench" / "data" / "tool_questions_fresh10.json"
SETS = {
    "dev (thresholds set here)": DEV_SET,
    "held out 1 (thresholds since set here too)": HELD_OUT_SET,
    "fresh held out": FRESH_SET,
    "new held out (written after the choice prompt was tuned on dev)": NEW_SET,
    "third held out (written after the new set's misses changed the prompt)": THIRD_SET,
    "fourth held out (written after the third set was measured, blind to the prompt)": FOURTH_SET,
    "fifth held out (written after the fourth set was measured)": FIFTH_SET,
    "sixth held out (written blind to the words and the prompt, from the cards' choice texts only)": SIXTH_SET,
    "seventh held out (written blind like the sixth, by another writer, after its misses changed the words)": (
        SEVENTH_SET
    ),
    "eighth held out (written blind by a third writer, after the seventh set's misses changed the words)": EIGHTH_SET,
    "ninth held out (written blind by a fourth writer, after the eighth set's misses changed the words)": NINTH_SET,
    "tenth held out (written blind by a fifth writer, after the ninth set's misses changed the words and the prompt)": (
        TENTH_SET
    ),
}
RUN_QUESTIONS = [
    "Run a synthetic smoke test: does the student trained on weak labels beat its weak supervisor?",
    "Synthetic sanity check: does the ground-truth ceiling beat the weak supervisor?",
    "Smoke test on synthetic data: is the performance gap recovered above zero with a logistic-regression student?",
    "Quick synthetic smoke test: does a small MLP student trained on weak labels exceed its teacher?",
    "Synthetic end-to-end check: is the weak supervisor better than chance?",
    "On the digits parity task, how much of the weak-to-strong gap does the student recover?",
    "Run a synthetic smoke test comparing the weak supervisor and the student over five seeds.",
    "Synthetic plumbing check: does weak-to-strong training give a positive PGR?",
    "Does a strong student trained on a weak supervisor's labels beat it on the breast-cancer tabular data?",
    "On tabular breast-cancer data, does the ceiling trained on ground truth beat the weak supervisor?",
]
"""Fast questions first: the real-data w2s runs (minutes of feature extraction each) come last."""
_VERDICT_LINE = re.compile(
    r"^- \*\*(?P<id>H[\w@.]+)\*\* .*?: (?P<verdict>\*\*supported\*\*|\*\*refuted\*\*|inconclusive|insufficient evidence)"
)
_WORDS = {
    "**supported**": "supported",
    "**refuted**": "refuted",
    "inconclusive": "inconclusive",
    "insufficient evidence": "insufficient",
}


class _NoKernels:
    """``choose_tool`` runs no cell: a pool that refuses to start one."""

    async def acquire(self, run_dir: Path) -> Any:
        raise AssertionError("the tool-choice bench runs no cell")


async def choose_update(client: LLMClient, workspace: Workspace, question: str, ranker: ToolRanker) -> dict[str, Any]:
    """The real ``choose_tool`` node's update for ``question`` (shortlist, tool, reason), in a fresh run."""
    run = workspace.new_run("choice")
    ctx = RunContext(
        llm=client,
        runlog=RunLog(run.path / "events.jsonl", fsync=False),
        workspace=workspace,
        kernels=_NoKernels(),
        recipes=default_registry(),
        ranker=ranker,
    )
    state = {"run_id": run.run_id, "question": question, "run_dir": str(run.path)}
    update: dict[str, Any] = await choose_tool(state, runtime=Runtime(context=ctx))  # type: ignore[arg-type]
    return update


async def _choose(
    client: LLMClient, workspace: Workspace, question: str, ranker: ToolRanker
) -> tuple[str | None, list[str]]:
    update = await choose_update(client, workspace, question, ranker)
    return update["tool"], list(update["shortlist"]["offered"])


def tool_choice(settings: Settings, root: Path, only: str | None = None) -> dict[str, Any]:
    """Per set (those whose name starts with ``only``, or all): rows of (question, labels, offered, chosen, right)."""
    client = connect_llm(settings)
    workspace = Workspace.open_or_create(root / "choice-ws")
    ranker = ToolRanker(default_registry().cards())
    out: dict[str, Any] = {}
    for name, path in SETS.items():
        if only and not name.startswith(only):
            continue
        rows = []
        for item in json.loads(path.read_text())["questions"]:
            started = time.perf_counter()
            chosen, offered = asyncio.run(_choose(client, workspace, item["question"], ranker))
            labels = item["tools"]
            right = chosen in labels if labels else chosen is None
            first = (offered[0] in labels) if (labels and offered) else (not labels and not offered)
            rows.append(
                {
                    "question": item["question"],
                    "labels": labels,
                    "offered": offered,
                    "chosen": chosen,
                    "right": right,
                    "shortlist_right": first,
                    "seconds": time.perf_counter() - started,
                }
            )
        out[name] = rows
    return out


def _report_disagreements(run_dir: Path) -> tuple[int, int, list[str]]:
    """(hypotheses checked, disagreements, notes) for one run's report."""
    report = Report.model_validate_json((run_dir / "report.json").read_text())
    results = read_results(run_dir / "results.json")
    recomputed = {h.id: h.verdict for h in evaluate_hypotheses(results, report.experiment)}
    notes = []
    stored = {h.id: h.verdict for h in report.hypotheses}
    if stored != recomputed:
        notes.append(f"report.json {stored} != recomputed {recomputed}")
    lines = {}
    summary = (run_dir / "report.md").read_text().split("## Summary", 1)[-1].split("\n## ", 1)[0]
    for line in summary.splitlines():
        match = _VERDICT_LINE.match(line)
        if match:
            lines[match.group("id")] = _WORDS[match.group("verdict")]
    if lines != recomputed:
        notes.append(f"report.md verdict lines {lines} != recomputed {recomputed}")
    allowed = {"supports": {"supported"}, "refutes": {"refuted"}, "inconclusive": {"inconclusive", "insufficient"}}
    for checked in report.claims:
        if not checked.accepted or checked.claim.stance == "describes":
            continue
        for name in checked.claim.about:
            members = [v for k, v in recomputed.items() if k == name or k.split("@")[0] == name]
            if any(v not in allowed[checked.claim.stance] for v in members):
                notes.append(f"accepted claim {checked.claim.statement[:60]!r} says {checked.claim.stance} {name}")
    return len(recomputed), len(notes), notes


def full_runs(
    root: Path, n: int, dump: Path | None = None, choice: dict[str, Any] | None = None, skip: int = 0
) -> list[dict[str, Any]]:
    """``n`` auto-approved runs in a fresh workspace; what each ended as and its verdict consistency.

    With ``dump``, the rows so far (and ``choice``) are rewritten there after every run, so a bench stopped early
    keeps what it measured."""
    run_settings = load_settings(root / "runs-ws")
    rows = []
    for question in (RUN_QUESTIONS * ((n + skip) // len(RUN_QUESTIONS) + 1))[skip : skip + n]:
        started = time.perf_counter()
        row: dict[str, Any] = {"question": question}

        async def go(q: str = question) -> Any:
            async with RunSession(run_settings, approval_policy="auto-approve", budget=Budget(cells=4)) as session:
                run = session.new_run(q)
                return run, await session.start(run, q)

        try:
            run, outcome = asyncio.run(go())
            row.update(status=outcome.status, tokens=outcome.tokens, failure=(outcome.failure or "")[:160])
            report = run.path / "report.json"
            if outcome.status == "done" and report.is_file():
                checked, bad, notes = _report_disagreements(run.path)
                data = json.loads(report.read_text())
                row.update(
                    tool=data["experiment"]["tool"] if data.get("experiment") else "?",
                    hypotheses=checked,
                    disagreements=bad,
                    notes=notes,
                    verdicts=[h["verdict"] for h in data["hypotheses"]],
                    claims=f"{sum(c['accepted'] for c in data['claims'])}/{len(data['claims'])}",
                    verified=data["check"]["ok"],
                )
        except Exception as err:  # noqa: BLE001 - a bench records any failure of a run and goes on
            row.update(status="error", failure=f"{type(err).__name__}: {err}"[:200])
        row["seconds"] = time.perf_counter() - started
        rows.append(row)
        print(json.dumps(row)[:400], flush=True)
        if dump is not None:
            dump.write_text(json.dumps({"choice": choice or {}, "runs": rows}))
    return rows


SIMILARITY_ONLY = ShortlistRule(words=False)
"""Today's similarity thresholds without the cards' ``ruled_out`` words and ``OUT_OF_REACH``, measured beside them."""


def _shortlist_rows(ranker: ToolRanker) -> tuple[list[str], list[str]]:
    """Table rows and misses of the shortlist under ``ranker``'s rule."""
    rule = ranker.rule
    label = f"{rule.min_score} / {rule.margin} / {rule.limit}{' + words' if rule.words else ''}"
    rows, misses = [], []
    for name, path in SETS.items():
        items = json.loads(path.read_text())["questions"]
        offered = {i["question"]: ranker.rank(i["question"]).offered for i in items}
        testable = [i for i in items if i["tools"]]
        hit = [i for i in testable if set(i["tools"]) & set(offered[i["question"]])]
        first = [i for i in testable if offered[i["question"]][:1] and offered[i["question"]][0] in i["tools"]]
        empty = [i for i in items if not i["tools"] and not offered[i["question"]]]
        mean = sum(len(offered[i["question"]]) for i in testable) / max(1, len(testable))
        rows.append(
            f"| {label} | {name} | {len(hit)}/{len(testable)} | {len(first)}/{len(testable)} | "
            f"{len(empty)}/{len(items) - len(testable)} | {mean:.1f} |"
        )
        for i in items:
            shown = offered[i["question"]]
            if (i["tools"] and i not in hit) or (not i["tools"] and shown):
                misses.append(f"- ({name}) {i['question']!r}: labels {i['tools'] or 'out of scope'}, offered {shown}")
    return rows, misses


def shortlist_markdown() -> str:
    """The shortlist alone (no model) on every labelled set, by similarity alone and with the words: the section
    ``tool-shortlist``."""
    cards = default_registry().cards()
    before, _ = _shortlist_rows(ToolRanker(cards, rule=SIMILARITY_ONLY))
    now, misses = _shortlist_rows(ToolRanker(cards))
    out = [
        "## Tool shortlist alone, by labelled set (`bench/research_quality.py --shortlist-only`)",
        "",
        "A card is offered from a similarity (MiniLM embeddings of the question and the card's family and examples) "
        "within a margin of the best card, up to a number of cards, unless the question is as close to an "
        "untestable example; no model call. With the words (`+ words`), a card is not offered for a question "
        "naming what its card says it does not test (`ToolCard.ruled_out`: mc_eval for critiques, layers, "
        "steering or reasoning..., a probe card for a dataset it does not have), a card is offered for a question "
        "naming its own kind however low its similarity (`ToolCard.named_by`: 'w2s', 'CCS', 'steer', HHH...), and "
        "nothing is offered for a question naming what no tool has (`toolchoice.OUT_OF_REACH`: human raters, "
        "reward models, other model families or sizes, images, agents...). "
        "Testable: a labelled tool is among those offered (the model can then choose it); first: the first offered "
        "is a labelled tool; out of scope: nothing is offered (the run ends without asking the model). The "
        "similarity thresholds were set on the first two sets; the words were written from the cards' "
        '"does NOT test" lists and the misses of the first five sets, just after the fifth fresh set was written '
        "(the probe cards' 'help for a judge' after the fourth set's rerun with the model); the fifth set is measured "
        "only. The sixth to tenth sets were written blind to the words (from the cards' choice texts only), each "
        "measured with the model before its misses were added (after the sixth and seventh: a debate of more than "
        "one round, free-form generated text, a read-out with no intervention, 3B-parameter models, 'end to end' as "
        "a smoke test only when it is a check; after the eighth: `named_by`, datasets a card does not have, "
        "replacing the reasoning; after the ninth: critics and judges of different sizes, unlearning; after the "
        "tenth: the literature example reworded without 'alignment research', fine-tuning a language model); the "
        "rows here "
        "are after every change, so none of them is held out (the model's figures in 'Tool choice on held-out "
        "questions' were each measured before). Same run.",
        "",
        "| rule: min similarity / margin / most cards | set | testable: labelled tool offered | first offered "
        "right | out of scope: nothing offered | mean cards offered (testable) |",
        "|---|---|---|---|---|---|",
        *before,
        *now,
        "",
        "Misses with the words:",
        "",
        *(misses or ["- none"]),
    ]
    return "\n".join(out) + "\n"


def _markdown(settings: Settings, choice: dict[str, Any], runs: list[dict[str, Any]], args: argparse.Namespace) -> str:
    model = (
        f"the embedded model of profile {settings.local_llm.profile!r} (docs/llm.md)"
        if settings.uses_embedded_llm
        else settings.llm.model or "?"
    )
    out = [
        "## Research quality: tool choice and verdict consistency (`bench/research_quality.py`)",
        "",
        f"Command: `nice -n 10 .venv/bin/python -m bench.research_quality --runs {args.runs}"
        f"{' --profile ' + args.profile if args.profile else ''}` (the two parts as two processes, rendered with "
        "`--load`); model: "
        f"{model}{'' if settings.uses_embedded_llm else ' at ' + str(settings.llm.base_url)}. One run, this machine.",
        "",
        "### Tool choice on labelled questions",
        "",
        "| set | questions | right with the model | shortlist alone (first offered) |",
        "|---|---|---|---|",
    ]
    for name, rows in choice.items():
        right = sum(r["right"] for r in rows)
        first = sum(r["shortlist_right"] for r in rows)
        out.append(f"| {name} | {len(rows)} | {right} ({right / len(rows):.0%}) | {first} ({first / len(rows):.0%}) |")
    out += ["", "Misses:", ""]
    for name, rows in choice.items():
        for r in rows:
            if not r["right"]:
                out.append(
                    f"- ({name}) {r['question']!r}: labels {r['labels'] or 'out of scope'}, offered {r['offered']}, "
                    f"chose {r['chosen'] or 'none'}"
                )
    if runs:
        reports = [r for r in runs if "disagreements" in r]
        bad = sum(r["disagreements"] for r in reports)
        checked = sum(r.get("hypotheses", 0) for r in reports)
        with_hypotheses = sum(1 for r in reports if r.get("hypotheses"))
        out += [
            "",
            "### Verdict consistency over full runs",
            "",
            f"{len(runs)} auto-approved runs; {len(reports)} ended with a report; **{bad} reports' verdict lines or "
            f"accepted claims disagree with the verdicts recomputed from results.json** (goal 0); {with_hypotheses} "
            f"of the reports registered hypotheses, {checked} verdicts checked in all.",
            "",
            "| question | status | tool | verdicts | claims kept | verified | s |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in runs:
            verdicts = ", ".join(r.get("verdicts", [])) or "-"
            out.append(
                f"| {r['question'][:70]} | {r['status']} | {r.get('tool', '-')} | {verdicts} | {r.get('claims', '-')} | "
                f"{r.get('verified', '-')} | {r['seconds']:.0f} |"
            )
        failures = [r for r in runs if r["status"] != "done"]
        if failures:
            out += ["", "Runs that did not finish:", ""]
            out += [f"- {r['question'][:70]}: {r['status']}: {r.get('failure', '')}" for r in failures]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10, help="full research runs for verdict consistency (0 = none)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not update docs/benchmarks.md")
    parser.add_argument("--profile", help="embedded model profile (default, tiny or a .gguf path); else the setting")
    parser.add_argument("--no-choice", action="store_true", help="skip the tool-choice part")
    parser.add_argument("--skip", type=int, default=0, help="start the full runs at this question (a second process)")
    parser.add_argument(
        "--set",
        dest="only",
        help="tool choice on the labelled sets whose name starts with this ('dev', 'held', 'fresh', 'new', 'third', 'fourth', 'fifth' ... 'tenth')",
    )
    parser.add_argument("--shortlist-only", action="store_true", help="the shortlist alone on every set; no model")
    parser.add_argument("--dump", type=Path, help="also write the rows of the parts run here to this JSON file")
    parser.add_argument("--load", type=Path, nargs="*", default=[], help="render from these dumps; run nothing")
    args = parser.parse_args()
    if args.shortlist_only:
        text = shortlist_markdown()
        print(text)
        if not args.no_write:
            write_section("tool-shortlist", text)
        return
    if args.profile:
        os.environ["ARA_LOCAL_LLM_PROFILE"] = args.profile
    settings = load_settings(None)
    choice: dict[str, Any] = {}
    runs: list[dict[str, Any]] = []
    if args.load:
        for path in args.load:
            dumped = json.loads(path.read_text())
            choice.update(dumped.get("choice", {}))
            runs += dumped.get("runs", [])
        args.runs = len(runs)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                choice = {} if args.no_choice else tool_choice(settings, Path(tmp), args.only)
                if args.dump and choice:
                    args.dump.write_text(json.dumps({"choice": choice}))
                runs = full_runs(Path(tmp), args.runs, args.dump, choice, args.skip) if args.runs else []
            finally:
                if settings.uses_embedded_llm:  # the servers this bench started (one per workspace)
                    for workspace in (settings.workspace, Path(tmp) / "runs-ws", Path(tmp) / "choice-ws"):
                        LocalServer(workspace, settings.local_llm).stop()
    text = _markdown(settings, choice, runs, args)
    print(text)
    if not args.no_write:
        tag = (
            f"embedded {settings.local_llm.profile}"
            if settings.uses_embedded_llm
            else (settings.llm.model or "endpoint")
        )
        write_section(f"research-quality {tag}", text)


if __name__ == "__main__":
    main()
