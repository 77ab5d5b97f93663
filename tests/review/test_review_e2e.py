"""End to end: a run proposes, a human lists, shows, rejects, the agent revises, the human approves.

Asserts the git graph, the trailers, the audit log and that the human's working tree was untouched throughout.
The agent side uses the ``tools.vcs`` API and ``ReviewService.revise``; the human side uses the ``ara review``
command line (CliRunner: stdin is not a TTY, so decisions name the reviewer with ``--reviewer``).
"""

from __future__ import annotations

import json
import os
import re

import pytest

from assistant.review import AuditLog, ReviewService
from tests.review._cli import ara
from tests.vcs._support import git, human_commit, human_status, human_tree, make_run, trailers
from tools.vcs import AGENT_IDENTITY, Workspace

REVIEWER = "Rita Reviewer <rita@example.org>"


def test_propose_list_show_reject_revise_approve(ws: Workspace) -> None:
    root = ws.path
    # the human's own state: a committed file with an uncommitted edit, a staged new file, an untracked file
    human_commit(root, {"notes.md": "plan\n", "lib/keep.py": "KEEP = 1\n"})
    (root / "notes.md").write_text("plan, edited by the human and not committed\n", encoding="utf-8")
    (root / "staged.txt").write_text("staged by the human\n", encoding="utf-8")
    git(root, "add", "staged.txt")
    (root / "scratch.txt").write_text("untracked\n", encoding="utf-8")
    base = git(root, "rev-parse", "HEAD")
    tree0, status0 = human_tree(root), human_status(root)

    def untouched(head: str = base) -> None:
        assert human_tree(root) == tree0
        assert human_status(root) == status0
        assert git(root, "symbolic-ref", "--short", "HEAD") == "main"
        assert git(root, "rev-parse", "HEAD") == head

    # --- the agent: a run with files, proposed
    run = make_run(
        ws,
        {
            "report.md": "# Probe sweep\nAccuracy 0.81 [1] and [2].\n",
            "report.json": json.dumps(
                {
                    "references": [
                        {"key": "belinkov2022#c3", "number": 1, "title": "Probing Classifiers"},
                        {"key": "zou2023#c1", "number": 2, "title": "Representation Engineering"},
                    ]
                }
            ),
            "results.json": json.dumps(
                {"schema": "ara.results/1", "metrics": {"probe.acc": {"mean": 0.81, "ci_low": 0.78, "ci_high": 0.84}}}
            ),
            "code/cell_1.py": "acc = 0.81\n",
            "events.jsonl": json.dumps(
                {"type": "llm_called", "ts": 10.0, "prompt_tokens": 120, "completion_tokens": 30}
            )
            + "\n"
            + json.dumps({"type": "cell_executed", "ts": 12.5})
            + "\n",
        },
    )
    first = ws.propose(
        run.run_id,
        "probe sweep",
        "Linear probes on layer 6\n\nThree seeds.",
        ["."],
        "report.md",
        json.loads((run.path / "results.json").read_text(encoding="utf-8")),
        step="propose_change",
    )
    untouched()

    # --- the human: list and show
    listed = ara(root, "list")
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines()[1].split()[:2] == ["1", "open"]
    assert re.fullmatch(r"\d+s", listed.output.splitlines()[1].split()[2])
    assert "Linear probes on layer 6" in listed.output
    assert "probe.acc=0.81 [0.78, 0.84]" in listed.output
    shown = ara(root, "show", "1")
    assert shown.exit_code == 0, shown.output
    assert f"proposal 1  [open]  ara/{run.run_id}/probe-sweep" in shown.output
    assert "citations: belinkov2022#c3 (Probing Classifiers), zou2023#c1 (Representation Engineering)" in shown.output
    assert "cost: 1 LLM calls, 120+30 tokens, 1 cells, 2 s" in shown.output
    assert "# Probe sweep" in shown.output
    assert f"+++ b/runs/{run.run_id}/code/cell_1.py" in shown.output
    assert "WARNING" not in shown.output
    as_json = json.loads(ara(root, "show", "1", "--json").output)
    assert as_json["reviewed_head"] == first.head_commit
    assert as_json["outside_paths"] == []
    untouched()

    # --- the human rejects with a comment
    rejected = ara(root, "reject", "1", "--comment", "add a random-label control", "--reviewer", REVIEWER)
    assert rejected.exit_code == 0, rejected.output
    service = ReviewService.open(root)
    [feedback] = service.feedback(1)
    assert (feedback.action, feedback.actor, feedback.text) == ("rejected", REVIEWER, "add a random-label control")
    untouched()

    # --- the agent revises from the feedback
    (run.path / "code" / "control.py").write_text("control_acc = 0.52\n", encoding="utf-8")
    (run.path / "report.md").write_text("# Probe sweep\nAccuracy 0.81 vs control 0.52.\n", encoding="utf-8")
    revised = ara(root, "revise", "1", "--files-only", "--json")
    assert revised.exit_code == 0, revised.output
    second = json.loads(revised.output)
    assert second["id"] == 2
    assert second["parent_id"] == 1
    assert second["branch"] == f"ara/{run.run_id}/probe-sweep-r2"
    assert second["summary"].endswith("Addresses review of proposal 1: add a random-label control")
    assert service.revise(1).id == 2  # the agent calling again (a resumed run) makes nothing new
    rows = ara(root, "list").output.splitlines()
    assert [line.split()[:2] for line in rows[1:]] == [["2", "open"], ["1", "rejected"]]
    untouched()

    # --- the human looks at the revision and approves it
    assert ara(root, "show", "2", "--no-diff").exit_code == 0
    approved = ara(
        root,
        "approve",
        "2",
        "--reviewer",
        REVIEWER,
        "--head",
        second["head_commit"],
        "--comment",
        "control looks right",
    )
    assert approved.exit_code == 0, approved.output
    merge = git(root, "rev-parse", "main")
    assert (
        f"approved proposal 2: merged ara/{run.run_id}/probe-sweep-r2 at {second['head_commit'][:12]} into main as "
        f"{merge[:12]}"
    ) in approved.output

    # the git graph: main = merge(base, revision); both proposal commits sit on base; the rejected branch is kept
    assert git(root, "rev-list", "--parents", "-n1", merge).split() == [merge, base, second["head_commit"]]
    assert git(root, "rev-parse", f"{first.head_commit}^") == base
    assert git(root, "rev-parse", f"{second['head_commit']}^") == base
    assert git(root, "rev-parse", first.branch) == first.head_commit
    assert git(root, "branch", "--merged", "main", "--format=%(refname:short)").split() == [
        f"ara/{run.run_id}/probe-sweep-r2",
        "main",
    ]
    for commit in (first.head_commit, second["head_commit"]):
        assert git(root, "log", "-1", "--format=%an <%ae>", commit) == str(AGENT_IDENTITY)
    assert trailers(root, second["head_commit"]) == {
        "Ara-Run-Id": run.run_id,
        "Ara-Proposal-Id": "2",
        "Ara-Step": "revise-1",
        "Ara-Revises": "1",
        "Ara-Key-Numbers": '{"probe.acc": 0.81, "probe.acc.ci_high": 0.84, "probe.acc.ci_low": 0.78}',
    }
    assert git(root, "log", "-1", "--format=%an <%ae>|%cn <%ce>", merge) == f"{REVIEWER}|{REVIEWER}"
    assert trailers(root, merge) == {
        "Reviewed-by": REVIEWER,
        "Ara-Run-Id": run.run_id,
        "Ara-Proposal-Id": "2",
        "Ara-Reviewed-Head": second["head_commit"],
        "Ara-Review-Channel": "explicit",
    }
    assert git(root, "show", f"main:runs/{run.run_id}/code/control.py") == "control_acc = 0.52"

    # the human's files and changes are exactly as they were; only main moved (fast-forward to the merge)
    untouched(head=merge)

    # the audit log: every action, chained, in order
    log = AuditLog(root / ".ara" / "audit.jsonl")
    assert log.verify().problems == []
    audit = [(e.seq, e.action, e.proposal_id, e.actor, e.channel, e.head) for e in log.entries()]
    nobody = "unknown <no git identity>"
    assert audit == [
        (1, "viewed", 1, nobody, "non-interactive", first.head_commit),
        (2, "viewed", 1, nobody, "non-interactive", first.head_commit),
        (3, "rejected", 1, REVIEWER, "explicit", first.head_commit),
        (4, "revised", 1, str(AGENT_IDENTITY), None, second["head_commit"]),
        (5, "viewed", 2, nobody, "non-interactive", second["head_commit"]),
        (6, "approved", 2, REVIEWER, "explicit", second["head_commit"]),
    ]
    assert ara(root, "verify").output == f"audit log intact: 6 record(s); key {os.environ['ARA_AUDIT_KEY_FILE']}\n"
    [approval] = [e for e in log.entries() if e.action == "approved"]
    assert (approval.merge_commit, approval.comment) == (merge, "control looks right")
    final = {p.id: p.status for p in service.proposals()}
    assert final == {1: "rejected", 2: "approved"}
    assert service.get(2).reviewer == REVIEWER
    assert service.get(2).merge_commit == merge


def test_show_prices_the_run_when_prices_are_known(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    events = "".join(
        json.dumps({"type": "llm_called", "ts": float(i), "prompt_tokens": 1000, "completion_tokens": 500}) + "\n"
        for i in range(4)
    )
    run = make_run(ws, {"report.md": "# r\n", "events.jsonl": events})
    proposal = ws.propose(run.run_id, "s", "summary", ["."], "report.md", {})
    monkeypatch.setenv("ARA_LLM_PRICE_IN_PER_MTOK", "2.5")
    monkeypatch.setenv("ARA_LLM_PRICE_OUT_PER_MTOK", "10")
    shown = ara(ws.path, "show", str(proposal.id), "--no-diff")
    assert shown.exit_code == 0, shown.output
    # 4 calls: 4,000 prompt tokens at $2.5/M + 2,000 completion tokens at $10/M = $0.03
    assert "cost: 4 LLM calls, 4000+2000 tokens, 0 cells, 3 s, $0.0300" in shown.output
