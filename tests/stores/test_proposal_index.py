"""A corrupt ``proposals.sqlite``: every review command stops with the file, the backup and the rebuild command
(exit 2, file and refs untouched); the backup restores it; ``ara review reindex`` rebuilds it from git and the
audit log with the same proposals, statuses, reviewers and comments."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from assistant.review import HumanAuthority, ReviewService
from assistant.review.approve import approve
from tests.review._cli import ara
from tests.stores._corrupt import fingerprint, smash_header, smash_pages
from tests.vcs._support import git, isolate_git, make_run
from tools.sqlitefile import backup_path
from tools.vcs import GitIdentity, Workspace

RITA = HumanAuthority(GitIdentity("Rita Reviewer", "rita@example.org"), "explicit")
STABLE = ("id", "run_id", "step", "branch", "base_commit", "head_commit", "summary", "report_path", "results",
          "status", "parent_id", "reviewer", "comment", "merge_commit")  # fmt: skip


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A workspace with a rejected, a revised-and-approved, a superseded and an open proposal."""
    isolate_git(monkeypatch, tmp_path)
    ws = Workspace.open_or_create(tmp_path / "ws")
    service = ReviewService(ws)
    probe = make_run(
        ws,
        {
            "report.md": "# probe\n",
            "results.json": json.dumps({"schema": "ara.results/1", "metrics": {"acc": {"value": 0.8}}}),
        },
    )
    first = ws.propose(probe.run_id, "probe", "Linear probes\n\nThree seeds.", ["."], "report.md", {"acc": 0.8})
    service.reject(first.id, "add a random-label control", RITA)
    (probe.path / "control.py").write_text("control = 0.5\n", encoding="utf-8")
    second = service.revise(first.id)
    approve(service, second.id, RITA, head=second.head_commit, comment="control looks right")
    sweep = make_run(ws, {"report.md": "# sweep\n"})
    third = ws.propose(sweep.run_id, "sweep", "A sweep", ["."], "report.md", {"loss": 1.5})
    (sweep.path / "more.py").write_text("x = 2\n", encoding="utf-8")
    service.revise(third.id)
    other = make_run(ws, {"report.md": "# open\n"})
    ws.propose(other.run_id, "other", "Still open", ["."], "report.md", {})
    return ws


def listed(ws: Workspace) -> list[dict[str, Any]]:
    ran = ara(ws.path, "list", "--json")
    assert ran.exit_code == 0, ran.output
    return [{k: row[k] for k in STABLE} for row in json.loads(ran.output)]


def refs(ws: Path) -> str:
    return git(ws, "for-each-ref", "--format=%(refname) %(objectname)")


@pytest.mark.parametrize("damage", [smash_pages, smash_header])
def test_a_corrupt_index_stops_review_with_the_way_back(ws: Workspace, damage: Any) -> None:
    truth = listed(ws)
    assert [r["status"] for r in truth] == ["open", "open", "superseded", "approved", "rejected"]
    index = ws.state_dir / "proposals.sqlite"
    assert backup_path(index).is_file()
    damage(index)
    before, files = refs(ws.path), fingerprint(ws.state_dir)
    for args in (("list",), ("show", "1"), ("reject", "5", "--comment", "x", "--reviewer", str(RITA.reviewer))):
        ran = ara(ws.path, *args)
        assert ran.exit_code == 2, ran.output
        assert "error: Corrupt proposal index" in ran.output
        assert f"{index} (proposal index) is corrupt:" in ran.output
        assert f"mv {index} {index}.corrupt && rm -f {index}-wal {index}-shm && cp {backup_path(index)} {index}" in (
            ran.output
        )
        assert "or rebuild it with 'ara review reindex' (the corrupt file is kept aside). Nothing was changed." in (
            ran.output
        )
        assert "Traceback" not in ran.output
    assert refs(ws.path) == before
    assert {k: v for k, v in fingerprint(ws.state_dir).items() if "-wal" not in k and "-shm" not in k} == {
        k: v for k, v in files.items() if "-wal" not in k and "-shm" not in k
    }

    # the rebuild from git and the audit log gives back every proposal as it was
    corrupt_bytes = index.read_bytes()
    rebuilt = ara(ws.path, "reindex")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt the proposal index: 5 proposal(s) (1 approved, 2 open, 1 rejected, 1 superseded)" in rebuilt.output
    [kept] = [p for p in ws.state_dir.glob("proposals.sqlite.replaced-*") if not p.name.endswith(("-wal", "-shm"))]
    assert kept.read_bytes() == corrupt_bytes
    assert listed(ws) == truth
    assert [c.text for c in ReviewService(ws).feedback(1)] == ["add a random-label control"]
    assert refs(ws.path) == before


def test_the_automatic_backup_restores_the_index(ws: Workspace) -> None:
    index = ws.state_dir / "proposals.sqlite"
    backup = backup_path(index)
    backup.unlink()
    ws.index.add_comment(5, "note", "x", "y")  # the first write with no backup makes one
    assert backup.is_file()
    saved = listed(ws)
    smash_pages(index)
    advice = ara(ws.path, "list").output
    command = advice.split("(changes since then are lost): ")[1].split("; or rebuild")[0]
    subprocess.run(command, shell=True, check=True)
    assert listed(ws) == saved
    assert (index.parent / "proposals.sqlite.corrupt").is_file()


def test_reindex_refuses_a_healthy_index_without_force(ws: Workspace) -> None:
    index = ws.state_dir / "proposals.sqlite"
    data = index.read_bytes()
    ran = ara(ws.path, "reindex")
    assert ran.exit_code == 2
    assert "error: Index is healthy" in ran.output
    assert index.read_bytes() == data
    forced = ara(ws.path, "reindex", "--force")
    assert forced.exit_code == 0, forced.output
    assert "the previous index file was kept as" in forced.output
