"""Reports built from the model's own drafts: do their verdicts agree with the verdicts code computes?

Reads the review phase of ``bench/model_compare.py`` (``DIR/<profile>/review_draft.jsonl``: for each labelled question,
the plan code wrote for it, the model's analysis and the model's report draft over one real ``results.json``) and
builds each report as ``write_report`` does with ``report.draft = "model"``: ``build_report`` over that
``results.json`` with the plan's ``ExperimentRecord``. For each report it counts:

- verdict lines that disagree with the verdicts computed afresh here from the same results and hypotheses (the
  report renders them from its own computation, so the goal is 0);
- the model's claims the checker rejected for stating a verdict the computation did not give (caught and dropped);
- sentences of the model's prose (rationale, limitations, next steps) the report cut for stating another verdict
  (``assistant.report.verdict_words``, a word match: every one is listed for a reader to check), and any sentence
  the report kept that the same match still flags (the goal is 0).

No model call is made here. Run: ``.venv/bin/python -m bench.report_verdicts --out DIR`` (after the review phase).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from assistant.graph.record import record_of_plan
from assistant.recipes import default_registry
from assistant.report.build import build_report, evaluate_hypotheses
from assistant.report.compose import VERDICT_WORD
from assistant.report.model import ReportDraft
from assistant.report.render_md import render_markdown
from assistant.report.verdict_words import contradiction, sentences
from bench._results import write_section
from bench.model_calls import labelled_plan
from bench.model_report import PROFILES
from tools.results import read_results

RESULTS = Path(__file__).parent / "data" / "synthetic_w2s_results.json"


def check_record(record: dict[str, Any], results: Path, workdir: Path) -> dict[str, Any] | None:
    """The report built from one review record's draft, checked against the computed verdicts (None: no draft)."""
    if not record.get("draft_made"):
        return None
    plan = labelled_plan(record["question"], record["tool"])
    experiment = record_of_plan(plan, default_registry(), None, approved_by="bench")
    run_dir = workdir / record["key"]
    run_dir.mkdir(parents=True)
    # the run's figure files are not kept beside the results in bench/data: without this the check would flag a
    # missing file in every report, which says nothing about the model's draft
    document = json.loads(results.read_text())
    document.pop("figures", None)
    (run_dir / "results.json").write_text(json.dumps(document))
    draft = ReportDraft.model_validate(record["draft_made"])
    report = build_report(run_dir, draft, None, question=record["question"], experiment=experiment)
    computed = {h.id: h.verdict for h in evaluate_hypotheses(read_results(results), experiment)}
    markdown = render_markdown(report)
    disagree = []
    for hid, verdict in computed.items():
        line = next((x for x in markdown.splitlines() if x.startswith(f"- **{hid}**")), None)
        others = [w for v, w in VERDICT_WORD.items() if v != verdict and w in (line or "")]
        if line is None or VERDICT_WORD[verdict] not in line or others:
            disagree.append(f"{hid}: computed {verdict}, line {line!r}")
    claims = [c for c in report.claims if c.source == "claim"]
    rejected = [c for c in claims if not c.accepted and "computed verdicts disagree" in c.reason]
    dropped = [c.claim.statement for c in report.claims if c.source == "prose"]
    kept = [report.rationale, report.limitations, report.next_steps, *(c.claim.statement for c in claims if c.accepted)]
    said = [x for text in kept for x in sentences(text)]
    return {
        "key": record["key"],
        "computed": computed,
        "verdict_lines_disagree": disagree,
        "claims": len(claims),
        "claims_rejected_for_verdict": len(rejected),
        "prose_dropped": dropped,
        "prose_contradicts": [x for x in said if contradiction(x, computed)],
        "check_ok": bool(report.check and report.check.ok),
        "why_unverified": sorted({_why(o.kind, o.message) for o in (report.check.offenders if report.check else [])}),
    }


def _why(kind: str, message: str) -> str:
    """An offender as a short reason shared across reports ("a claim dropped", "a section empty", ...)."""
    if kind == "claim":
        return "a claim dropped"
    if kind == "section":
        return f"a section {message.split(':')[0]}"
    return kind


def render(root: Path, results: Path) -> str:
    """The section's Markdown for every profile's review phase in ``root``."""
    rows = []
    flagged: list[str] = []
    reasons: list[str] = []
    for profile, label in PROFILES.items():
        path = root / profile / "review_draft.jsonl"
        records = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.is_file() else []
        with tempfile.TemporaryDirectory() as tmp:
            checked = [c for r in records if (c := check_record(r, results, Path(tmp))) is not None]
        if not checked:
            rows.append(f"| {label} | not run | | | | | |")
            continue
        verdicts = sorted({v for c in checked for v in c["computed"].values()})
        by_verdict = ", ".join(f"{v} {sum(v in c['computed'].values() for c in checked)}" for v in verdicts)
        rows.append(
            f"| {label} | {len(checked)} of {len(records)} drafts ({by_verdict}) | "
            f"{sum(bool(c['verdict_lines_disagree']) for c in checked)} | "
            f"{sum(c['claims_rejected_for_verdict'] for c in checked)} of {sum(c['claims'] for c in checked)} | "
            f"{sum(bool(c['prose_dropped']) for c in checked)} ({sum(len(c['prose_dropped']) for c in checked)} "
            f"sentences) | {sum(bool(c['prose_contradicts']) for c in checked)} | "
            f"{sum(c['check_ok'] for c in checked)} |"
        )
        counts = Counter(why for c in checked for why in c["why_unverified"])
        if counts:
            shown = "; ".join(f"{why}: {n}" for why, n in counts.most_common())
            reasons.append(f"- {label}: {shown}")
        for c in checked:
            flagged += [f"- {profile} {c['key']} (computed {c['computed']}): {x[:300]!r}" for x in c["prose_dropped"]]
    table = [
        "| profile | reports built (computed verdict of H1) | reports whose verdict lines disagree with the "
        "computed verdicts | model claims dropped for stating another verdict | reports with model prose cut for "
        "stating another verdict | reports whose kept text still states another verdict (word match) | reports "
        "passing every check |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    parts = [
        "## Reports' verdicts vs computed verdicts (`bench/report_verdicts.py`)",
        "Command: `python -m bench.report_verdicts --out DIR` over the review phase of `bench.model_compare` "
        f"(`--only review`). Each report is built from the model's own draft over `{results.name}` (a real "
        "synthetic weak-to-strong run, 3 seeds) for the plan code wrote for a labelled question; plans on another "
        "tool get `insufficient` (their metric is not in these results), which is the case that tempts a model "
        "to claim a finding. No model call is made here.",
        "\n".join(table),
    ]
    if reasons:
        parts.append("Why reports did not pass every check (reports with each reason; a report can have several):")
        parts.append("\n".join(reasons))
    if flagged:
        parts.append(
            "The model's sentences cut by `assistant.report.verdict_words` (a word match; a reader can judge each):"
        )
        parts.append("\n".join(flagged))
    else:
        parts.append("No sentence of the model's prose stated another verdict.")
    return "\n\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True, help="bench.model_compare's results directory")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results.json the review phase used")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    text = render(args.out, args.results)
    print(text)
    if not args.no_write:
        write_section("report-verdicts", text)


if __name__ == "__main__":
    main()
