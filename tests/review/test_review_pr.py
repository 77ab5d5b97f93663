"""Review reads like a pull request: the pager on a terminal (never for a pipe), generated files collapsed to a
stat line (expanded on request), results as tables, the check status in ``list``, ``diff --against`` an earlier
revision or a git revision, and ``revise --files-only`` refusing when only generated files changed. Real git, the
real ``ara`` entry point (CliRunner for pipes, a pseudo-terminal for the pager)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from assistant.review import ReviewService
from assistant.review.identity import HumanAuthority
from tests.review._cli import ara
from tests.review._tty import ara_tty
from tests.vcs._support import git, make_run
from tools.results import HOST_SCORED, SELF_REPORTED
from tools.vcs import GitIdentity, Proposal, RunDir, Workspace

RITA = HumanAuthority(GitIdentity("Rita Reviewer", "rita@example.org"), "explicit")

RESULTS = {
    "schema": "ara.results/1",
    "metrics": {"probe.acc": {"mean": 0.8125, "ci_low": 0.78, "ci_high": 0.84, "n": 3}},
    "tables": {"per seed": {"columns": ["seed", "acc"], "rows": [[0, 0.81], [1, 0.815]]}},
}
CHECK_OK = {"ok": True, "checked": ["2 numbers traced"], "not_checked": []}
CHECK_BAD = {
    "ok": False,
    "checked": ["2 numbers traced"],
    "offenders": [{"kind": "numeral", "location": "rationale:1:5", "text": "0.99", "message": "no result"}],
}


def _files(check: dict[str, object] | None, acc: str = "0.81") -> dict[str, str]:
    report = {"references": [], "results": RESULTS, **({"check": check} if check is not None else {})}
    return {
        "report.md": f"# Probe sweep\nAccuracy {acc}.\n",
        "report.json": json.dumps(report),
        "report.html": "<html>\n" + "<p>generated</p>\n" * 40 + "</html>\n",
        "events.jsonl": "".join(json.dumps({"type": "cell_executed", "ts": float(i)}) + "\n" for i in range(30)),
        "cells/00.py": "acc = 0.81\n",
        "cells/00.result.json": json.dumps({"status": "ok", "stdout": "done\n"}),
        "code.py": f"acc = {acc}\n",
    }


def _propose(ws: Workspace, check: dict[str, object] | None = CHECK_OK) -> tuple[RunDir, Proposal]:
    run = make_run(ws, _files(check))
    (run.path / "figures").mkdir()
    (run.path / "figures" / "acc.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    proposal = ws.propose(run.run_id, "probe sweep", "Linear probes", ["."], "report.md", RESULTS)
    return run, proposal


def test_show_collapses_generated_files_and_tables_the_results(ws: Workspace) -> None:
    run, proposal = _propose(ws)
    p = f"runs/{run.run_id}/"
    shown = ara(ws.path, "show", str(proposal.id))
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "check: verified (checked: 2 numbers traced)" in out
    results = out[out.index("\nresults\n") + 1 : out.index("\ncost: ")].splitlines()
    assert results == [
        "results",
        "  metric     estimate  95% CI        n",
        "  ---------  --------  ------------  -",
        "  probe.acc  0.8125    [0.78, 0.84]  3",
        "",
        "  table: per seed",
        "  seed  acc",
        "  ----  -----",
        "  0     0.81",
        "  1     0.815",
    ]
    files = out[out.index("\nfiles changed\n") + 1 : out.index("\ndiff\n")].splitlines()
    assert files == [
        "files changed",
        f"  {p}code.py | 1 +",
        f"  {p}report.json | 1 +",
        f"  {p}report.md | 2 ++",
        f"  {p}run.json | 9 +++++++++",
        "  generated (5, collapsed; --expand shows their diff):",
        f"    {p}cells/00.py | 1 +",
        f"    {p}cells/00.result.json | 1 +",
        f"    {p}events.jsonl | 30 ++++++++++++++++++++++++++++++",
        f"    {p}figures/acc.png | Bin",
        f"    {p}report.html | 42 ++++++++++++++++++++++++++++++++++++++++",
    ]
    diff = out[out.index("\ndiff\n") :]
    assert f"+++ b/{p}code.py" in diff
    assert f"+++ b/{p}report.md" in diff
    assert "generated</p>" not in diff
    assert "cell_executed" not in diff
    assert "cells/00.py" not in diff

    expanded = ara(ws.path, "show", str(proposal.id), "--expand").output
    assert "  generated (5, shown in the diff below):" in expanded
    assert f"+++ b/{p}report.html" in expanded
    assert "+<p>generated</p>" in expanded
    assert f"+++ b/{p}events.jsonl" in expanded


@pytest.mark.parametrize(
    ("scored_by", "sentence"), [("experiment", SELF_REPORTED), ("host", HOST_SCORED)], ids=["self-reported", "host"]
)
def test_show_says_who_computed_the_numbers_and_lists_red_flags(ws: Workspace, scored_by: str, sentence: str) -> None:
    """Free-mode numbers are labelled self-reported in ``review show`` (as in results.json and the report), and a
    host scorer's red flags are listed there, so a reviewer never reads them as measured by the host. The sentence
    is chosen from ``scored_by``: a document's own ``note`` text is never shown."""
    verification = {
        "scored_by": scored_by,
        "note": "verified by hand, trust me",
        "red_flags": [{"code": "accuracy_out_of_range", "detail": "probe.acc 1.7 on seed 2"}],
    }
    results = {**RESULTS, "verification": verification}
    files = _files(CHECK_OK) | {"report.json": json.dumps({"references": [], "results": results, "check": CHECK_OK})}
    run = make_run(ws, files)
    proposal = ws.propose(run.run_id, "probe sweep", "Linear probes", ["."], "report.md", RESULTS)
    out = ara(ws.path, "show", str(proposal.id)).output
    shown = out[out.index("\nresults\n") + 1 : out.index("\ncost: ")].splitlines()
    assert shown[:4] == [
        "results",
        f"  {sentence}",
        "  SUSPECT (accuracy_out_of_range): probe.acc 1.7 on seed 2",
        "  metric     estimate  95% CI        n",
    ]
    assert not [line for line in shown if "trust me" in line], "the document's own note is never the label"


def test_the_pager_is_used_on_a_terminal_and_never_for_a_pipe(ws: Workspace, tmp_path: Path) -> None:
    _, proposal = _propose(ws)
    paged = tmp_path / "paged.txt"
    pager = tmp_path / "pager.sh"
    pager.write_text(f'#!/bin/sh\ncat > "{paged}"\n', encoding="utf-8")
    pager.chmod(pager.stat().st_mode | stat.S_IXUSR)
    env = {"PAGER": str(pager)}

    piped = ara(ws.path, "show", str(proposal.id), "--no-diff", env=env)
    assert piped.exit_code == 0
    assert not paged.exists(), "a pipe never gets the pager"

    on_tty = ara_tty(ws.path, "show", str(proposal.id), "--no-diff", env=env)
    assert on_tty.exit_code == 0, on_tty.output
    text = paged.read_text(encoding="utf-8")
    head = proposal.head_commit
    assert text == piped.output.replace(
        f"shown: head {head}\n", f"shown: head {head} (recorded as the head you reviewed)\n"
    )
    assert "Linear probes" not in on_tty.output, "the body went to the pager, not around it"

    paged.unlink()
    without = ara_tty(ws.path, "show", str(proposal.id), "--no-diff", env={**env, "ARA_NO_PAGER": "1"})
    assert without.exit_code == 0
    assert "Linear probes" in without.output
    assert not paged.exists()


def test_list_shows_each_proposals_check_status(ws: Workspace) -> None:
    _, verified = _propose(ws)
    _, unverified = _propose(ws, CHECK_BAD)
    _, unchecked = _propose(ws, None)
    bare_run = make_run(ws, {"notes.md": "n\n"})
    bare = ws.propose(bare_run.run_id, "bare", "No report", ["."], None, {"loss": 1.5})
    rows = [line.split()[:4] for line in ara(ws.path, "list").output.splitlines()[1:]]
    assert rows == [
        [str(bare.id), "open", rows[0][2], "no"],
        [str(unchecked.id), "open", rows[1][2], "unchecked"],
        [str(unverified.id), "open", rows[2][2], "unverified"],
        [str(verified.id), "open", rows[3][2], "verified"],
    ]
    listed = {row["id"]: row["check"] for row in json.loads(ara(ws.path, "list", "--json").output)}
    assert listed[unverified.id] == {"state": "unverified", "reason": "1 problem(s): rationale:1:5: no result"}
    assert listed[bare.id] == {"state": "no report", "reason": "the proposal has no report.json"}
    assert "probe.acc=0.812 [0.78, 0.84]" in ara(ws.path, "list").output


def _revision(ws: Workspace, run: RunDir, parent: Proposal) -> Proposal:
    ReviewService(ws).reject(parent.id, "add a control", RITA)
    (run.path / "code.py").write_text("acc = 0.83\ncontrol = 0.5\n", encoding="utf-8")
    (run.path / "events.jsonl").write_text('{"type": "node_started"}\n', encoding="utf-8")
    return ReviewService(ws).revise(parent.id)


def test_diff_against_an_earlier_revision_and_a_git_revision(ws: Workspace) -> None:
    run, first = _propose(ws)
    second = _revision(ws, run, first)
    p = f"runs/{run.run_id}/"
    ran = ara(ws.path, "diff", str(second.id), "--against", str(first.id))
    assert ran.exit_code == 0, ran.output
    old, new = first.head_commit[:12], second.head_commit[:12]
    before_diff = ran.output[: ran.output.index("\ndiff\n")]
    assert before_diff.splitlines() == [
        f"proposal {second.id} at {new} against {first.id} ({old})",
        "",
        "files changed",
        f"  {p}code.py | 3 ++-",
        "  generated (1, collapsed; --expand shows their diff):",
        f"    {p}events.jsonl | 31 +" + "-" * 30,
    ]
    body = ran.output[ran.output.index("\ndiff\n") :]
    assert "-acc = 0.81\n+acc = 0.83\n+control = 0.5\n" in body
    assert "node_started" not in body
    assert "node_started" in ara(ws.path, "diff", str(second.id), "--against", str(first.id), "--expand").output

    by_rev = ara(ws.path, "diff", str(second.id), "--against", first.head_commit)
    assert by_rev.exit_code == 0
    assert by_rev.output.replace(first.head_commit, str(first.id), 1) == ran.output
    assert json.loads(ara(ws.path, "diff", str(second.id), "--against", "main", "--json").output)["files"]

    same = ara(ws.path, "diff", str(second.id), "--against", str(second.id))
    assert same == (0, f"proposal {second.id} at {new} against {second.id} ({new})\n\nno differences\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["diff", "99", "--against", "1"], "no proposal with id 99"),
        (["diff", "1", "--against", "77"], "no proposal with id 77"),
        (
            ["diff", "1", "--against", "no-such-rev"],
            "--against 'no-such-rev' is neither a proposal id nor a commit of",
        ),
        (["diff", "1", "--against", "--output=/tmp/x"], "is neither a proposal id nor a commit of"),
        (["revise", "99"], "no proposal with id 99"),
        (["show", "99"], "no proposal with id 99"),
    ],
)
def test_bad_review_inputs_exit_2_and_change_nothing(ws: Workspace, args: list[str], message: str) -> None:
    _propose(ws)
    refs = git(ws.path, "for-each-ref")
    ran = ara(ws.path, *args)
    assert ran.exit_code == 2, ran.output
    assert message in ran.output
    assert "Traceback" not in ran.output
    assert git(ws.path, "for-each-ref") == refs
    assert [row["id"] for row in json.loads(ara(ws.path, "list", "--json").output)] == [1]


def test_revise_with_only_generated_changes_is_refused(ws: Workspace) -> None:
    run, first = _propose(ws)
    ReviewService(ws).reject(first.id, "add a control", RITA)
    (run.path / "events.jsonl").write_text('{"type": "node_started"}\n', encoding="utf-8")
    (run.path / "report.html").write_text("<html>regenerated</html>\n", encoding="utf-8")
    refs = git(ws.path, "for-each-ref")
    ran = ara(ws.path, "revise", str(first.id), "--files-only")
    assert ran.exit_code == 2
    assert ran.output == (
        "error: Nothing to revise\n"
        f"nothing would change: the files of run {run.run_id} are those of proposal {first.id} apart from generated "
        "ones (report.html, events.jsonl, figures, cell records). Edit the run's files first, or re-run the agent "
        f"with the review comments: ara review revise {first.id}. Nothing was changed.\n"
    )
    assert git(ws.path, "for-each-ref") == refs


def test_revise_without_a_comment_to_act_on_is_refused(ws: Workspace) -> None:
    _, first = _propose(ws)
    ran = ara(ws.path, "revise", str(first.id))
    assert ran == (
        2,
        "error: Nothing to revise\n"
        f"nothing would change: proposal {first.id} has no review comment to act on, so re-running would ask the "
        f"same question again. Say what to change first: ara review reject {first.id} --comment '...'. "
        "Nothing was changed.\n",
    )
    assert os.listdir(ws.path / "runs") == [first.run_id], "no run was started"


def test_plan_decisions_default_to_the_git_identity_that_merges_record(ws: Workspace) -> None:
    import getpass

    from assistant.review.identity import decision_identity

    assert decision_identity(ws.path) == (f"{getpass.getuser()} (no git identity; set git config user.name/user.email)")
    git(ws.path, "config", "user.name", "Rita Reviewer")
    git(ws.path, "config", "user.email", "rita@example.org")
    assert decision_identity(ws.path) == "Rita Reviewer <rita@example.org>"
