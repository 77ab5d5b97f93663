"""tools.vcs: creating/opening the workspace repository, run directories, and idempotent proposals."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.vcs._support import git, human_commit, human_status, human_tree, make_run, trailers
from tools.vcs import (
    AGENT_IDENTITY,
    GitIdentity,
    MainLineError,
    NotAWorkspaceError,
    OutsideWorkspaceError,
    RunNotFoundError,
    VcsError,
    Workspace,
    is_agent_identity,
    key_numbers,
    slugify,
)
from tools.vcs.workspace import GITIGNORE

ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def test_open_or_create_makes_a_repository_with_ignores_and_an_agent_commit(tmp_path: Path) -> None:
    ws = Workspace.open_or_create(tmp_path / "new" / "ws")
    root = tmp_path / "new" / "ws"
    assert ws.path == root.resolve()
    assert ws.mainline == "main"
    assert git(root, "symbolic-ref", "--short", "HEAD") == "main"
    assert (root / ".gitignore").read_text(encoding="utf-8") == GITIGNORE
    assert ".ara/" in GITIGNORE.splitlines()
    assert (
        git(root, "log", "--format=%an <%ae>|%s")
        == "ara-agent <ara-agent@localhost>|ara: create the research workspace"
    )
    assert git(root, "ls-files") == ".gitignore"
    exclude = (root / ".git" / "info" / "exclude").read_text(encoding="utf-8").splitlines()
    assert "/.ara/" in exclude
    assert "/runs/" in exclude
    # the repository's config holds no identity: ara passes its own per commit, humans set theirs
    assert subprocess.run(["git", "-C", str(root), "config", "user.name"], check=False).returncode == 1

    again = Workspace.open_or_create(root)
    assert again.mainline_commit() == ws.mainline_commit()
    assert git(root, "rev-list", "--count", "HEAD") == "1"
    assert exclude == (root / ".git" / "info" / "exclude").read_text(encoding="utf-8").splitlines()


def test_open_or_create_keeps_existing_files_untracked(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "README.md").write_text("the project's workspace readme\n", encoding="utf-8")
    Workspace.open_or_create(root)
    assert git(root, "ls-files") == ".gitignore"
    assert human_status(root) == "?? README.md"
    assert (root / "README.md").read_text(encoding="utf-8") == "the project's workspace readme\n"


def test_open_refuses_a_folder_that_is_not_a_git_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "data.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(NotAWorkspaceError, match=r"plain is not a git repository \(no \.git there\)"):
        Workspace.open(plain)
    with pytest.raises(NotAWorkspaceError, match="is not a git repository"):
        Workspace.open(tmp_path / "missing")


def test_existing_repository_on_master_uses_master(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    git(root, "init", "-q", "--initial-branch=master")
    human_commit(root, {"notes.md": "mine\n"})
    ws = Workspace.open_or_create(root)
    assert ws.mainline == "master"
    assert git(root, "rev-list", "--count", "HEAD") == "1"


def test_detached_head_without_a_main_branch_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    git(root, "init", "-q", "--initial-branch=trunk")
    sha = human_commit(root, {"a.txt": "a\n"})
    git(root, "checkout", "-q", "--detach", sha)
    git(root, "branch", "-q", "-D", "trunk")
    with pytest.raises(MainLineError, match="HEAD is detached or unborn and neither 'main' nor 'master' exists"):
        Workspace.open(root)


def test_new_run_makes_a_ulid_run_directory(ws: Workspace) -> None:
    first = ws.new_run("Weak-to-strong: PGR sweep!")
    second = ws.new_run("")
    assert ULID_RE.match(first.run_id)
    assert first.run_id < second.run_id
    assert first.path == ws.path / "runs" / first.run_id
    assert first.events_path == first.path / "events.jsonl"
    assert first.slug == "weak-to-strong-pgr-sweep"
    assert second.slug == "run"
    assert first.base_commit == ws.mainline_commit()
    assert first.workspace_dirty is False
    assert ws.run(first.run_id) == first
    assert human_status(ws.path) == ""  # runs/ is ignored: the agent's scratch space never dirties the checkout
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        ws.run("nope")


def test_propose_commits_on_a_branch_in_a_separate_worktree(ws: Workspace) -> None:
    human_commit(ws.path, {"notes.md": "human notes\n"})
    (ws.path / "notes.md").write_text("human notes, edited and not committed\n", encoding="utf-8")
    (ws.path / "scratch.txt").write_text("untracked\n", encoding="utf-8")
    before_tree, before_status = human_tree(ws.path), human_status(ws.path)
    before_head = git(ws.path, "rev-parse", "HEAD")
    before_index = (ws.path / ".git" / "index").read_bytes()

    run = make_run(
        ws,
        {
            "report.md": "# PGR\nPGR was 0.71 {{ cite:burns2023#c4 }}\n",
            "results.json": '{"schema": "ara.results/1", "metrics": {"pgr": {"mean": 0.71, "ci_low": 0.6}}}',
            "code/cell_1.py": "print('hi')\n",
            "__pycache__/x.cpython-311.pyc": "junk",
        },
    )
    assert run.workspace_dirty is True
    proposal = ws.propose(
        run.run_id,
        "PGR sweep",
        "Measure PGR on SST-2\n\nThree seeds.",
        ["code", "results.json"],
        "report.md",
        {"schema": "ara.results/1", "metrics": {"pgr": {"mean": 0.71, "ci_low": 0.6}}},
    )
    assert proposal.id == 1
    assert proposal.branch == f"ara/{run.run_id}/pgr-sweep"
    assert proposal.status == "open"
    assert proposal.base_commit == before_head
    assert proposal.report_path == f"runs/{run.run_id}/report.md"
    assert proposal.results == {"pgr": 0.71, "pgr.ci_low": 0.6}
    assert git(ws.path, "rev-parse", proposal.branch) == proposal.head_commit
    assert git(ws.path, "rev-parse", f"{proposal.head_commit}^") == proposal.base_commit
    assert git(ws.path, "log", "-1", "--format=%an <%ae>|%cn <%ce>", proposal.head_commit) == (
        f"{AGENT_IDENTITY}|{AGENT_IDENTITY}"
    )
    assert git(ws.path, "log", "-1", "--format=%s", proposal.head_commit) == "Measure PGR on SST-2"
    assert trailers(ws.path, proposal.head_commit) == {
        "Ara-Run-Id": run.run_id,
        "Ara-Proposal-Id": "1",
        "Ara-Step": "propose",
        "Ara-Key-Numbers": '{"pgr": 0.71, "pgr.ci_low": 0.6}',
    }
    assert sorted(git(ws.path, "diff", "--name-only", proposal.base_commit, proposal.head_commit).split()) == [
        f"runs/{run.run_id}/code/cell_1.py",
        f"runs/{run.run_id}/report.md",
        f"runs/{run.run_id}/results.json",
    ]
    # the human's checkout: same HEAD, same index file, same files, same status; no worktree left behind
    assert git(ws.path, "rev-parse", "HEAD") == before_head
    assert (ws.path / ".git" / "index").read_bytes() == before_index
    assert human_tree(ws.path) == before_tree
    assert human_status(ws.path) == before_status
    assert len(git(ws.path, "worktree", "list", "--porcelain").split("\n\n")) == 1
    assert ws.list_proposals() == [proposal]


def test_propose_is_idempotent_per_run_and_step(ws: Workspace) -> None:
    run = make_run(ws, {"report.md": "r\n"})
    first = ws.propose(run.run_id, "s", "first", ["."], "report.md", {"acc": 0.9})
    refs_before = git(ws.path, "for-each-ref", "--format=%(refname) %(objectname)")
    (run.path / "report.md").write_text("changed after proposing\n", encoding="utf-8")
    again = ws.propose(run.run_id, "other-slug", "second summary", ["."], "report.md", {"acc": 0.1})
    assert again == first
    assert git(ws.path, "for-each-ref", "--format=%(refname) %(objectname)") == refs_before
    other_step = ws.propose(run.run_id, "s", "a later step", ["."], "report.md", {}, step="final")
    assert other_step.id == 2
    assert other_step.branch == f"ara/{run.run_id}/s-2"


def test_propose_resumes_after_a_crash_between_commit_and_index(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    run = make_run(ws, {"report.md": "r\n"})
    real_complete = ws.index.complete

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("simulated crash after the branch was made")

    monkeypatch.setattr(ws.index, "complete", crash)
    with pytest.raises(KeyboardInterrupt):
        ws.propose(run.run_id, "s", "summary", ["."], "report.md", {})
    branch = f"ara/{run.run_id}/s"
    head = git(ws.path, "rev-parse", branch)
    assert ws.list_proposals() == []  # an incomplete proposal is invisible

    monkeypatch.setattr(ws.index, "complete", real_complete)
    proposal = ws.propose(run.run_id, "s", "summary", ["."], "report.md", {})
    assert proposal.branch == branch
    assert proposal.head_commit == head
    assert git(ws.path, "rev-list", "--count", branch) == "2"
    assert git(ws.path, "for-each-ref", "--format=%(refname)", "refs/heads/ara") == f"refs/heads/{branch}"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("../../../outside.txt", "outside the workspace"),
        ("missing.txt", r"missing.txt does not exist"),
        ("../../.git/config", r"inside \.git/"),
        ("../../.ara/proposals.sqlite", r"inside \.ara/"),
        ("link.txt", "is a symlink"),
    ],
)
def test_propose_refuses_files_it_cannot_carry(ws: Workspace, tmp_path: Path, item: str, message: str) -> None:
    (tmp_path / "outside.txt").write_text("secret\n", encoding="utf-8")
    run = make_run(ws, {"report.md": "r\n"})
    (run.path / "link.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(OutsideWorkspaceError, match=message):
        ws.propose(run.run_id, "s", "summary", [item], None, {})
    assert git(ws.path, "for-each-ref", "refs/heads/ara") == ""


def test_propose_carries_workspace_files_outside_the_run_dir(ws: Workspace) -> None:
    (ws.path / "lib").mkdir()
    (ws.path / "lib" / "util.py").write_text("X = 1\n", encoding="utf-8")
    run = make_run(ws, {"report.md": "r\n"})
    proposal = ws.propose(run.run_id, "s", "summary", [ws.path / "lib" / "util.py"], "report.md", {})
    assert ws.changed_paths(proposal.base_commit, proposal.head_commit) == [
        "lib/util.py",
        f"runs/{run.run_id}/report.md",
    ]


def test_propose_with_nothing_new_is_refused(ws: Workspace) -> None:
    run = make_run(ws, {"report.md": "r\n"})
    (ws.path / ".gitignore").touch()
    with pytest.raises(VcsError, match=r"nothing to propose for run .*identical to main"):
        ws.propose(run.run_id, "s", "summary", [ws.path / ".gitignore"], None, {})
    with pytest.raises(RunNotFoundError, match="no run directory"):
        ws.propose("01NOTARUN", "s", "summary", ["x"], None, {})


def test_detached_head_proposals_base_on_main_and_leave_head_alone(ws: Workspace) -> None:
    first = ws.mainline_commit()
    second = human_commit(ws.path, {"a.txt": "a\n"})
    git(ws.path, "checkout", "-q", "--detach", first)
    reopened = Workspace.open(ws.path)
    assert reopened.checkout().branch is None
    run = make_run(reopened, {"report.md": "r\n"})
    proposal = reopened.propose(run.run_id, "s", "summary", ["."], "report.md", {})
    assert proposal.base_commit == second
    assert git(ws.path, "rev-parse", "HEAD") == first
    assert reopened.checkout().branch is None


def test_concurrent_proposals_from_two_threads_get_distinct_ids(ws: Workspace) -> None:
    runs = [make_run(ws, {"report.md": f"run {i}\n"}) for i in range(2)]
    barrier = threading.Barrier(2)
    made: list[int] = []

    def propose(i: int) -> None:
        local = Workspace.open(ws.path)
        barrier.wait()
        made.append(local.propose(runs[i].run_id, "s", f"run {i}", ["."], "report.md", {}).id)

    threads = [threading.Thread(target=propose, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(made) == [1, 2]
    assert len(git(ws.path, "for-each-ref", "refs/heads/ara").splitlines()) == 2


def test_key_numbers_identity_and_slug() -> None:
    doc = {
        "schema": "ara.results/1",
        "metrics": {"pgr": {"mean": 0.5, "ci_low": 0.1, "ci_high": float("nan")}, "acc": {"value": 1}},
    }
    assert key_numbers(doc) == {"pgr": 0.5, "pgr.ci_low": 0.1, "pgr.ci_high": None, "acc": 1}
    assert key_numbers({"acc": 0.9, "table": [1, 2], "name": "x"}) == {"acc": 0.9, "name": "x"}
    assert GitIdentity.parse("Jane Q. Doe <jane@example.org>") == GitIdentity("Jane Q. Doe", "jane@example.org")
    with pytest.raises(ValueError, match="is not a git identity"):
        GitIdentity.parse("jane@example.org")
    assert is_agent_identity(GitIdentity("ARA-Agent", "me@example.org"))
    assert is_agent_identity(GitIdentity("Someone", "ara-agent@localhost"))
    assert not is_agent_identity(GitIdentity("Jane", "jane@example.org"))
    assert slugify("  Über -- PGR/sweep #3 ") == "ber-pgr-sweep-3"


def test_tools_vcs_imports_no_assistant_or_agent_frameworks() -> None:
    code = (
        "import sys, tools.vcs; bad = [m for m in sys.modules if m.split('.')[0] in "
        "('assistant', 'langgraph', 'openai', 'textual')]; print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_tools_vcs_has_no_approve_or_merge_function() -> None:
    import tools.vcs
    import tools.vcs.workspace

    names = [n for mod in (tools.vcs, tools.vcs.workspace) for n in dir(mod)]
    names += dir(Workspace)
    assert [n for n in names if re.search(r"approve|merge|reject", n, re.IGNORECASE)] == []


def test_file_at_returns_exact_bytes(ws: Workspace) -> None:
    run = make_run(ws, {"report.md": "line\n\n", "data.bin": "\x00\x01\n"})
    proposal = ws.propose(run.run_id, "s", "summary", ["."], "report.md", {})
    assert ws.file_at(proposal.head_commit, f"runs/{run.run_id}/report.md") == b"line\n\n"
    assert ws.file_at(proposal.head_commit, f"runs/{run.run_id}/data.bin") == b"\x00\x01\n"
    assert ws.file_at(proposal.head_commit, "runs/nope.md") is None


def test_checkout_lists_changed_tracked_files_including_renames(ws: Workspace) -> None:
    human_commit(ws.path, {"a.txt": "a\n", "b.txt": "b\n"})
    git(ws.path, "mv", "a.txt", "renamed.txt")
    (ws.path / "b.txt").write_text("changed\n", encoding="utf-8")
    (ws.path / "untracked.txt").write_text("u\n", encoding="utf-8")
    checkout = ws.checkout()
    assert checkout.branch == "main"
    assert sorted(checkout.dirty_paths) == ["b.txt", "renamed.txt"]


def test_new_run_accepts_a_run_id_assigned_earlier(ws: Workspace) -> None:
    queued = "01JABCDEFGHJKMNPQRSTVWXYZ0"
    run = ws.new_run("campaign entry", run_id=queued)
    assert run.run_id == queued
    assert run.path == ws.path / "runs" / queued
    with pytest.raises(FileExistsError):
        ws.new_run("again", run_id=queued)
    with pytest.raises(ValueError, match="has to be exactly 26 characters"):
        ws.new_run("bad", run_id="not-a-ulid")
