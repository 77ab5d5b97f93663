"""The issue's bad inputs: not a repo, uncommitted changes, detached HEAD, missing identity, deleted branch,
two approvals at once, unknown id, files outside the run dir; plus stale reviews and merge conflicts."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from assistant.review import (
    AlreadyDecidedError,
    AuditLog,
    HumanAuthority,
    MergeConflictError,
    OutsideRunDirError,
    ReviewError,
    ReviewService,
    StaleReviewError,
)
from assistant.review.approve import ApprovalResult, approve
from tests.review._cli import ara
from tests.vcs._support import git, human_commit, human_status, human_tree, make_run
from tools.vcs import BranchMissingError, GitIdentity, Proposal, Workspace

RITA = HumanAuthority(GitIdentity("Rita Reviewer", "rita@example.org"), "explicit")
OMAR = HumanAuthority(GitIdentity("Omar Other", "omar@example.org"), "explicit")


def propose(ws: Workspace, files: dict[str, str] | None = None, outside: dict[str, str] | None = None) -> Proposal:
    run = make_run(ws, files or {"report.md": "# r\n", "results.json": "{}"})
    extra = []
    for rel, text in (outside or {}).items():
        (ws.path / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws.path / rel).write_text(text, encoding="utf-8")
        extra.append(ws.path / rel)
    return ws.propose(run.run_id, "change", "a change", [".", *extra], None, {"acc": 0.5})


def test_not_a_git_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    result = ara(plain, "show", "1")
    assert result.exit_code == 2
    assert "error: Not a workspace" in result.output
    assert f"{plain} is not a git repository (no .git there)" in result.output


@pytest.mark.parametrize("made", [True, False])
def test_a_fresh_workspace_has_no_proposals_yet(tmp_path: Path, made: bool) -> None:
    fresh = tmp_path / "fresh"
    if made:
        (fresh / ".ara" / "papers").mkdir(parents=True)  # e.g. papers added before any run
    result = ara(fresh, "list")
    assert result == (
        0,
        f"no proposals yet in {fresh} (no git repository there yet: the first run creates it); a run proposes its "
        'results when it finishes: ara run "question"\n',
    )
    assert ara(fresh, "list", "--json") == (0, "[]\n")
    assert not (fresh / ".git").exists(), "listing creates nothing"


def test_unknown_id(ws: Workspace) -> None:
    for args in (["show", "999"], ["approve", "999", "--reviewer", str(RITA.reviewer), "--head", "0" * 40]):
        result = ara(ws.path, *args)
        assert result.exit_code == 2
        assert "no proposal with id 999" in result.output
    assert ara(ws.path, "reject", "999", "--comment", "x", "--reviewer", str(RITA.reviewer)).exit_code == 2
    assert ara(ws.path, "show", "abc").exit_code == 2
    assert "no proposals in" in ara(ws.path, "list").output


def test_uncommitted_human_changes_are_kept_and_block_only_conflicting_merges(ws: Workspace) -> None:
    human_commit(ws.path, {"lib/util.py": "X = 1\n", "notes.md": "n\n"})
    proposal = propose(ws, outside={"lib/util.py": "X = 2\n"})
    git(ws.path, "checkout", "-q", "--", "lib/util.py")  # the agent's edit went to the branch, not to main
    (ws.path / "notes.md").write_text("human edit, uncommitted\n", encoding="utf-8")
    (ws.path / "lib" / "util.py").write_text("X = 'human, uncommitted'\n", encoding="utf-8")
    tree, status, main = human_tree(ws.path), human_status(ws.path), ws.mainline_commit()
    service = ReviewService(ws)
    with pytest.raises(MergeConflictError, match="could not be fast-forwarded") as err:
        approve(service, proposal.id, RITA, head=proposal.head_commit, allow_outside=True)
    assert "lib/util.py" in str(err.value)
    assert ws.mainline_commit() == main
    assert human_tree(ws.path) == tree
    assert human_status(ws.path) == status
    assert service.get(proposal.id).status == "open"
    assert "fast-forwarded" in (AuditLog(ws.state_dir / "audit.jsonl").entries()[-1].comment or "")

    # with the conflicting edit gone, the unrelated uncommitted edit survives the approval
    git(ws.path, "checkout", "-q", "--", "lib/util.py")
    result = approve(service, proposal.id, RITA, head=proposal.head_commit, allow_outside=True)
    assert result.checkout_updated
    assert (ws.path / "notes.md").read_text(encoding="utf-8") == "human edit, uncommitted\n"
    assert human_status(ws.path) == " M notes.md"
    assert (ws.path / "lib" / "util.py").read_text(encoding="utf-8") == "X = 2\n"


def test_detached_head_approval_moves_main_only(ws: Workspace) -> None:
    first = ws.mainline_commit()
    proposal = propose(ws)
    git(ws.path, "checkout", "-q", "--detach", first)
    tree = human_tree(ws.path)
    result = approve(ReviewService(Workspace.open(ws.path)), proposal.id, RITA, head=proposal.head_commit)
    assert result.checkout_updated is False
    assert git(ws.path, "rev-parse", "HEAD") == first
    assert Workspace.open(ws.path).checkout().branch is None
    assert git(ws.path, "rev-parse", "main") == result.merge_commit
    assert git(ws.path, "rev-parse", "main^2") == proposal.head_commit
    assert human_tree(ws.path) == tree
    assert human_status(ws.path) == ""


def test_missing_identity(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    proposal = propose(ws)
    monkeypatch.setattr("assistant.cli.review.is_interactive", lambda: True)
    result = ara(ws.path, "approve", str(proposal.id))
    assert result.exit_code == 2
    assert "error: Missing reviewer identity" in result.output
    assert "git has no user.name/user.email" in result.output
    assert git(ws.path, "rev-parse", "main") == proposal.base_commit
    git(ws.path, "config", "user.name", "Hu Man")
    git(ws.path, "config", "user.email", "hu@example.org")
    declined = ara(ws.path, "approve", "1", input="n\n")
    assert declined.exit_code == 2
    assert "approval cancelled; nothing was changed" in declined.output
    confirmed = ara(ws.path, "approve", "1", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    head = proposal.head_commit
    assert f"Approve proposal 1 at {head[:12]} and merge it into main as Hu Man <hu@example.org>? [y/N]" in (
        confirmed.output
    )
    assert git(ws.path, "log", "-1", "--format=%an|%(trailers:key=Ara-Review-Channel,valueonly)", "main") == (
        "Hu Man|tty"
    )


def test_branch_deleted_by_hand(ws: Workspace) -> None:
    proposal = propose(ws)
    git(ws.path, "branch", "-q", "-D", proposal.branch)
    shown = ara(ws.path, "show", str(proposal.id), "--no-diff")
    assert shown.exit_code == 0
    assert f"WARNING: branch {proposal.branch} no longer exists (deleted by hand?)" in shown.output
    assert f"git -C {ws.path} branch {proposal.branch} {proposal.head_commit}" in shown.output
    with pytest.raises(BranchMissingError, match=r"no longer exists \(deleted by hand\?\).*Nothing was changed"):
        approve(ReviewService(ws), proposal.id, RITA, head=proposal.head_commit)
    assert ws.mainline_commit() == proposal.base_commit
    assert ReviewService(ws).get(proposal.id).status == "open"


def test_two_approvals_at_once_one_wins(ws: Workspace) -> None:
    proposal = propose(ws)
    barrier = threading.Barrier(2)
    outcomes: list[ApprovalResult | ReviewError] = []

    def decide(authority: HumanAuthority) -> None:
        service = ReviewService(Workspace.open(ws.path))
        barrier.wait()
        try:
            outcomes.append(approve(service, proposal.id, authority, head=proposal.head_commit))
        except AlreadyDecidedError as err:
            outcomes.append(err)

    threads = [threading.Thread(target=decide, args=(who,)) for who in (RITA, OMAR)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [won] = [o for o in outcomes if isinstance(o, ApprovalResult)]
    [lost] = [o for o in outcomes if isinstance(o, AlreadyDecidedError)]
    assert f"proposal {proposal.id} was already approved by {won.proposal.reviewer}" in str(lost)
    assert f"(merge {won.merge_commit[:12]}); nothing was changed" in str(lost)
    assert git(ws.path, "rev-list", "--merges", "--count", "main") == "1"
    assert git(ws.path, "rev-parse", "main") == won.merge_commit
    actions = [e.action for e in AuditLog(ws.state_dir / "audit.jsonl").entries()]
    assert sorted(actions) == ["approved", "refused"]


def test_files_outside_the_run_dir_are_flagged_and_need_allow_outside(ws: Workspace) -> None:
    proposal = propose(ws, outside={"lib/helper.py": "def f(): ...\n"})
    shown = ara(ws.path, "show", str(proposal.id), "--no-diff")
    assert f"WARNING: 1 changed file(s) lie outside {proposal.run_prefix}: lib/helper.py" in shown.output
    assert "approving needs --allow-outside" in shown.output
    with pytest.raises(OutsideRunDirError, match=r"changes 1 file\(s\) outside runs/.*: lib/helper.py"):
        approve(ReviewService(ws), proposal.id, RITA, head=proposal.head_commit)
    head = ("--head", proposal.head_commit)
    refused = ara(ws.path, "approve", str(proposal.id), "--reviewer", str(RITA.reviewer), *head)
    assert refused.exit_code == 2
    assert "error: Files outside the run directory" in refused.output
    assert git(ws.path, "rev-parse", "main") == proposal.base_commit
    allowed = ara(ws.path, "approve", str(proposal.id), "--reviewer", str(RITA.reviewer), *head, "--allow-outside")
    assert allowed.exit_code == 0, allowed.output
    assert git(ws.path, "show", "main:lib/helper.py") == "def f(): ..."


def test_branch_changed_after_review_started_needs_a_fresh_look(ws: Workspace) -> None:
    proposal = propose(ws)
    service = ReviewService(ws)
    service.show(proposal.id, actor=str(RITA.reviewer))
    # someone pushes another commit onto the proposal branch after the review started
    git(ws.path, "worktree", "add", "-q", str(ws.path.parent / "other"), proposal.branch)
    human_commit(ws.path.parent / "other", {f"runs/{proposal.run_id}/sneaky.py": "import os\n"}, "sneak")
    git(ws.path, "worktree", "remove", "--force", str(ws.path.parent / "other"))
    moved = git(ws.path, "rev-parse", proposal.branch)
    with pytest.raises(StaleReviewError, match=r"now points at .* not at the .* you reviewed"):
        approve(service, proposal.id, RITA, head=proposal.head_commit)
    assert ws.mainline_commit() == proposal.base_commit
    view = service.show(proposal.id, actor=str(RITA.reviewer))
    assert view.moved_since_proposal
    assert view.reviewed_head == moved
    assert "sneaky.py" in view.diffstat
    result = approve(service, proposal.id, RITA, head=view.reviewed_head)
    assert git(ws.path, "rev-parse", f"{result.merge_commit}^2") == moved


def test_base_moved_merges_cleanly_or_stops_on_conflict(ws: Workspace) -> None:
    human_commit(ws.path, {"lib/shared.py": "A = 1\n"})
    clean = propose(ws)
    conflicting = propose(ws, outside={"lib/shared.py": "A = 'agent'\n"})
    git(ws.path, "checkout", "-q", "--", "lib/shared.py")
    human_commit(ws.path, {"lib/shared.py": "A = 'human'\n"}, "human moves main")
    moved_main = ws.mainline_commit()
    service = ReviewService(ws)
    with pytest.raises(MergeConflictError, match=r"does not merge cleanly into main .*conflicts in lib/shared.py"):
        approve(service, conflicting.id, RITA, head=conflicting.head_commit, allow_outside=True)
    assert ws.mainline_commit() == moved_main
    assert human_status(ws.path) == ""
    [refusal] = [e for e in AuditLog(ws.state_dir / "audit.jsonl").entries() if e.action == "refused"]
    assert "conflicts in lib/shared.py" in (refusal.comment or "")
    assert len(git(ws.path, "worktree", "list", "--porcelain").split("\n\n")) == 1
    result = approve(service, clean.id, RITA, head=clean.head_commit)
    assert git(ws.path, "rev-list", "--parents", "-n1", "main").split() == [
        result.merge_commit,
        moved_main,
        clean.head_commit,
    ]


def test_run_files_that_grew_after_proposing_are_kept(ws: Workspace) -> None:
    run = make_run(ws, {"events.jsonl": '{"type": "run_started"}\n', "report.md": "r\n"})
    proposal = ws.propose(run.run_id, "s", "summary", ["."], "report.md", {})
    with run.events_path.open("a", encoding="utf-8") as fh:
        fh.write('{"type": "proposal_created"}\n')
    result = approve(ReviewService(ws), proposal.id, RITA, head=proposal.head_commit)
    assert result.kept_local == [f"runs/{run.run_id}/events.jsonl"]
    assert run.events_path.read_text(encoding="utf-8").splitlines()[-1] == '{"type": "proposal_created"}'
    assert human_status(ws.path) == f" M runs/{run.run_id}/events.jsonl"


def test_reject_rules_and_revise_of_decided_proposals(ws: Workspace) -> None:
    proposal = propose(ws)
    service = ReviewService(ws)
    with pytest.raises(ReviewError, match="a rejection needs --comment"):
        service.reject(proposal.id, "  ", RITA)
    approve(service, proposal.id, RITA, head=proposal.head_commit)
    with pytest.raises(AlreadyDecidedError, match="was already approved by Rita Reviewer"):
        service.reject(proposal.id, "too late", OMAR)
    with pytest.raises(AlreadyDecidedError, match="is approved; only open or rejected proposals can be revised"):
        service.revise(proposal.id)
    with pytest.raises(AlreadyDecidedError, match="already approved"):
        approve(service, proposal.id, OMAR, head=proposal.head_commit)


def test_an_approval_interrupted_after_the_merge_is_recorded_not_repeated(ws: Workspace) -> None:
    proposal = propose(ws)
    service = ReviewService(ws)
    first = approve(service, proposal.id, RITA, head=proposal.head_commit)
    assert ws.index.transition(proposal.id, ["approved"], "open")  # as if the process died before recording
    again = approve(service, proposal.id, RITA, head=proposal.head_commit)
    assert again.merge_commit == first.merge_commit
    assert git(ws.path, "rev-list", "--merges", "--count", "main") == "1"
