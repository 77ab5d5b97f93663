"""Rebuilding the proposal index (``proposals.sqlite``) from what git and the audit log still hold.

Covers ``rebuild_index``: every ``ara/*`` branch is read back to its proposal commit (the newest commit carrying
an ``Ara-Proposal-Id:`` trailer; a branch moved later keeps its agent commit as ``head_commit``), with run id,
step, revision parent, base, summary, report and key numbers (the ``Ara-Key-Numbers:`` trailer) from the commit; the main line's approval merges
give status ``approved`` with reviewer, time, comment and merge commit; the audit log gives rejections (with the
reviewers' comments, which the agent reads back) and pinned heads are left empty. A proposal revised by another
and never decided becomes ``superseded``. The new file is built beside the old one and moved into place; the old
file, healthy or corrupt, is kept as ``proposals.sqlite.replaced-<time>``. Does not cover the index itself
(``tools.vcs.index``).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from assistant.review.audit import AuditLog
from assistant.review.errors import ReviewError
from tools.sqlitefile import quick_check
from tools.vcs import Workspace
from tools.vcs.gitcmd import run_git
from tools.vcs.index import Comment, write_index
from tools.vcs.records import KeyNumber, Proposal, ProposalStatus, key_numbers

logger = logging.getLogger(__name__)

_SEP, _END = "\x1f", "\x1e"


class ReindexReport(NamedTuple):
    """What a rebuild found and where the old file went."""

    proposals: int
    """Proposals written to the new index."""
    by_status: dict[str, int]
    """Proposals per status."""
    replaced: Path | None
    """Where the previous index file was moved (None when there was none)."""
    skipped: list[str]
    """Branches that hold no proposal commit, and why."""


class _Merge(NamedTuple):
    commit: str
    reviewer: str | None
    at: datetime
    comment: str | None


def rebuild_index(ws: Workspace, *, force: bool = False) -> ReindexReport:
    """Rebuild ``<workspace>/.ara/proposals.sqlite`` from the branches, the merges and the audit log.

    Raises:
        ReviewError: the current index is healthy and ``force`` is false (a rebuild loses pinned heads).
    """
    path = ws.index.path
    if path.exists() and not force and quick_check(path) is None:
        raise ReviewError(
            f"{path} is healthy; a rebuild would forget which heads reviewers last looked at. Pass --force to "
            "rebuild it anyway (the current file is kept aside). Nothing was changed.",
            title="Index is healthy",
        )
    with ws.locked():
        merges = _approval_merges(ws)
        rejections, comments = _audit_decisions(ws)
        proposals: list[Proposal] = []
        skipped: list[str] = []
        branches = run_git(ws.path, "for-each-ref", "--format=%(refname:short)", "refs/heads/ara/").split()
        for branch in branches:
            found = _proposal_on(ws, branch, merges, rejections)
            if isinstance(found, str):
                skipped.append(found)
            else:
                proposals.append(found)
        revised = {p.parent_id for p in proposals if p.parent_id is not None}
        proposals = [
            p.model_copy(update={"status": "superseded"}) if p.id in revised and p.status == "open" else p
            for p in proposals
        ]
        proposals.sort(key=lambda p: p.id)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        fresh = path.with_name(f"{path.name}.rebuilt-{stamp}")
        write_index(fresh, proposals, [c for c in comments if c.proposal_id in {p.id for p in proposals}])
        replaced = None
        if path.exists():
            replaced = path.with_name(f"{path.name}.replaced-{stamp}")
            os.replace(path, replaced)
            for suffix in ("-wal", "-shm"):
                side = path.with_name(path.name + suffix)
                if side.exists():
                    os.replace(side, replaced.with_name(replaced.name + suffix))
        os.replace(fresh, path)
    by_status: dict[str, int] = {}
    for p in proposals:
        by_status[p.status] = by_status.get(p.status, 0) + 1
    logger.info("rebuilt %s: %d proposals %s", path, len(proposals), by_status)
    return ReindexReport(len(proposals), by_status, replaced, skipped)


def _commits(ws: Workspace, *args: str) -> list[list[str]]:
    fmt = _SEP.join(["%H", "%P", "%ct", "%an <%ae>", "%B"]) + _END
    out = run_git(ws.path, "log", f"--format={fmt}", *args, strip=False)
    return [record.lstrip("\n").split(_SEP) for record in out.split(_END) if record.strip()]


def _trailers(message: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in message.strip().splitlines()[::-1]:
        key, sep, value = line.partition(": ")
        if not sep or " " in key:
            break
        found.setdefault(key, value.strip())
    return found


def _body(message: str) -> str:
    lines = message.strip().splitlines()
    while lines and lines[-1].split(": ", 1)[0].startswith(("Ara-", "Reviewed-by")):
        lines.pop()
    return "\n".join(lines).strip()


def _approval_merges(ws: Workspace) -> dict[int, _Merge]:
    merges: dict[int, _Merge] = {}
    for sha, _, when, author, message in _commits(
        ws, "--merges", "--grep=^Ara-Proposal-Id: ", f"refs/heads/{ws.mainline}"
    ):
        trailers = _trailers(message)
        proposal_id = trailers.get("Ara-Proposal-Id", "")
        if not proposal_id.isdigit() or int(proposal_id) in merges:
            continue
        body = _body(message).splitlines()[1:]
        merges[int(proposal_id)] = _Merge(
            sha,
            trailers.get("Reviewed-by", author),
            datetime.fromtimestamp(int(when), UTC),
            "\n".join(body).strip() or None,
        )
    return merges


def _audit_decisions(ws: Workspace) -> tuple[dict[int, Comment], list[Comment]]:
    """The last rejection of each proposal and every decision comment, from the audit log."""
    log = AuditLog(ws.state_dir / "audit.jsonl")
    rejections: dict[int, Comment] = {}
    comments: list[Comment] = []
    for entry in log.entries():
        if entry.action not in ("rejected", "approved") or not entry.comment:
            continue
        comment = Comment(entry.proposal_id, entry.action, entry.actor, entry.comment, entry.ts)
        comments.append(comment)
        if entry.action == "rejected":
            rejections[entry.proposal_id] = comment
    return rejections, comments


def _key_numbers(trailer: str | None, results_file: bytes | None) -> dict[str, KeyNumber]:
    """The key numbers the proposal recorded (its ``Ara-Key-Numbers:`` trailer), else from ``results.json``."""
    for raw in (trailer, results_file):
        if not raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict):
            return key_numbers(value)
    return {}


def _proposal_on(
    ws: Workspace, branch: str, merges: dict[int, _Merge], rejections: dict[int, Comment]
) -> Proposal | str:
    for sha, parents, when, _, message in _commits(ws, "-n", "200", f"refs/heads/{branch}"):
        trailers = _trailers(message)
        proposal_id = trailers.get("Ara-Proposal-Id", "")
        if not proposal_id.isdigit() or "Ara-Run-Id" not in trailers:
            continue
        run_id = trailers["Ara-Run-Id"]
        report = f"runs/{run_id}/report.md"
        results = _key_numbers(trailers.get("Ara-Key-Numbers"), ws.file_at(sha, f"runs/{run_id}/results.json"))
        number = int(proposal_id)
        status: ProposalStatus = "open"
        decided_at, reviewer, comment, merge_commit = None, None, None, None
        if number in merges:
            merge = merges[number]
            status, decided_at, reviewer, comment, merge_commit = (
                "approved",
                merge.at,
                merge.reviewer,
                merge.comment,
                merge.commit,
            )
        elif number in rejections:
            rejected = rejections[number]
            status, decided_at, reviewer, comment = "rejected", rejected.created_at, rejected.actor, rejected.text
        revises = trailers.get("Ara-Revises", "")
        return Proposal(
            id=number,
            run_id=run_id,
            step=trailers.get("Ara-Step", "propose"),
            branch=branch,
            base_commit=parents.split()[0] if parents.split() else "",
            head_commit=sha,
            summary=_body(message),
            report_path=report if ws.file_at(sha, report) is not None else None,
            results=results,
            status=status,
            parent_id=int(revises) if revises.isdigit() else None,
            created_at=datetime.fromtimestamp(int(when), UTC),
            decided_at=decided_at,
            reviewer=reviewer,
            comment=comment,
            merge_commit=merge_commit,
        )
    return f"{branch}: no commit with an Ara-Proposal-Id trailer in its last 200 commits"
