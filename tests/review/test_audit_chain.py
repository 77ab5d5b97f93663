"""The keyed audit chain and ``ara review verify``: edited, deleted, reordered, truncated and re-chained logs are
caught and named; the key lives outside the workspace, private to its user, and an unsafe key stops writing."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from assistant.review import HumanAuthority, ReviewService
from tests.review._cli import ara
from tests.vcs._support import make_run
from tools.vcs import GitIdentity, Workspace

RITA = HumanAuthority(GitIdentity("Rita Reviewer", "rita@example.org"), "explicit")


@pytest.fixture
def logged(ws: Workspace) -> Path:
    """A workspace whose audit log holds five records written by real review actions."""
    service = ReviewService(ws)
    for n in range(2):
        run = make_run(ws, {"report.md": f"# r{n}\n"})
        proposal = ws.propose(run.run_id, f"s{n}", "summary", ["."], "report.md", {})
        service.show(proposal.id, actor="Ann <a@x.org>")
        service.show(proposal.id, actor="Bob <b@x.org>")
    service.reject(1, "add a control", RITA)
    return ws.state_dir / "audit.jsonl"


def lines_of(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines(keepends=True)


def verify(log: Path) -> tuple[int, str, bytes]:
    """Run ``ara review verify``; also return the log's bytes afterwards (verify never writes)."""
    ran = ara(log.parent.parent, "verify")
    return ran.exit_code, ran.output, log.read_bytes()


def test_the_key_is_made_private_outside_the_workspace(logged: Path) -> None:
    key = Path(os.environ["ARA_AUDIT_KEY_FILE"])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert len(bytes.fromhex(key.read_text().strip())) == 32
    records = [json.loads(line) for line in lines_of(logged)]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[1]["prev"] == records[0]["mac"]
    assert records[0]["os_user"] == getpass.getuser()
    assert records[0]["pid"] == os.getpid()
    code, output, _ = verify(logged)
    assert (code, output) == (0, f"audit log intact: 5 record(s); key {key}\n")


def test_an_edited_record_is_named(logged: Path) -> None:
    lines = lines_of(logged)
    lines[4] = lines[4].replace('"add a control"', '"looks good"')
    logged.write_text("".join(lines), encoding="utf-8")
    tampered = logged.read_bytes()
    code, output, after = verify(logged)
    assert code == 2
    assert "error: Audit log broken" in output
    assert f"{logged}: line 5 (record 5): MAC does not match: the record was edited" in output
    assert after == tampered


def test_a_deleted_record_is_named(logged: Path) -> None:
    lines = lines_of(logged)
    logged.write_text("".join(lines[:1] + lines[2:]), encoding="utf-8")
    code, output, _ = verify(logged)
    assert code == 2
    assert f"{logged}: line 2 (record 3): record 2 before it is missing (deleted, or moved later)." in output


def test_reordered_records_are_named(logged: Path) -> None:
    lines = lines_of(logged)
    lines[1], lines[2] = lines[2], lines[1]
    logged.write_text("".join(lines), encoding="utf-8")
    code, output, _ = verify(logged)
    assert code == 2
    assert f"{logged}: line 2 (record 3): record 2 before it is missing (deleted, or moved later) (1 more" in output
    ran = ara(logged.parent.parent, "verify", "--json")
    problems = json.loads(ran.output[: ran.output.index("error:")])["problems"]
    assert [(p["line"], p["seq"]) for p in problems] == [(2, 3), (3, 2)]
    assert problems[1]["what"] == "expected record 4 here (records reordered)"


def test_records_removed_from_the_end_are_noticed(logged: Path) -> None:
    lines = lines_of(logged)
    logged.write_text("".join(lines[:3]), encoding="utf-8")
    code, output, _ = verify(logged)
    assert code == 2
    assert "the log ends at record 3 but record 5 was written (records were removed from the end)" in output


def test_rechaining_without_the_key_does_not_verify(logged: Path) -> None:
    """Whoever edits a record and recomputes the old unkeyed sha256 chain still cannot make the MACs fit."""
    records = [json.loads(line) for line in lines_of(logged)]
    records[4]["comment"] = "looks good"
    records[4]["mac"] = hashlib.sha256(json.dumps(records[4]).encode()).hexdigest()
    logged.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    code, output, _ = verify(logged)
    assert code == 2
    assert "line 5 (record 5): MAC does not match" in output


def test_a_log_written_before_keying_still_verifies_and_is_continued(ws: Workspace) -> None:
    log = ws.state_dir / "audit.jsonl"
    old = json.dumps({"ts": "2025-01-01T00:00:00Z", "action": "viewed", "proposal_id": 1, "run_id": "r",
                      "actor": "a <a@x.org>", "prev": "0" * 64}) + "\n"  # fmt: skip
    log.write_text(old, encoding="utf-8")
    run = make_run(ws, {"report.md": "# r\n"})
    proposal = ws.propose(run.run_id, "s", "summary", ["."], "report.md", {})
    ReviewService(ws).show(proposal.id, actor="Ann <a@x.org>")
    new = json.loads(lines_of(log)[1])
    assert (new["seq"], new["prev"]) == (2, hashlib.sha256(old.encode()).hexdigest())
    code, output, _ = verify(log)
    assert (code, output.split(";")[0]) == (0, "audit log intact: 2 record(s), 1 written before the log was keyed")


def test_an_unsafe_or_misplaced_key_stops_every_write(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    run = make_run(ws, {"report.md": "# r\n"})
    proposal = ws.propose(run.run_id, "s", "summary", ["."], "report.md", {})
    key = Path(os.environ["ARA_AUDIT_KEY_FILE"])
    key.parent.mkdir(parents=True)
    key.write_text("ab" * 32 + "\n", encoding="ascii")
    key.chmod(0o644)
    shown = ara(ws.path, "show", str(proposal.id), "--no-diff")
    assert shown.exit_code == 2
    assert "error: Audit key not private" in shown.output
    assert f"Run 'chmod 600 {key}' as its owner. Nothing was written." in shown.output
    assert not (ws.state_dir / "audit.jsonl").exists()
    assert ReviewService(ws).get(proposal.id).pinned_head is None

    inside = ws.path / "audit.key"
    monkeypatch.setenv("ARA_AUDIT_KEY_FILE", str(inside))
    shown = ara(ws.path, "show", str(proposal.id), "--no-diff")
    assert shown.exit_code == 2
    assert "error: Audit key inside the workspace" in shown.output
    assert not inside.exists()
    assert not (ws.state_dir / "audit.jsonl").exists()
