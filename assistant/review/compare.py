"""Review reads across commits: a proposal against an earlier revision or a git revision, and ``list``'s check status.

Covers ``compare`` (``ara review diff ID --against REV``: the heads of two revisions, comparing their run
directories file by file when the revision is a re-run in a run of its own, or a commit named by any git
revision), streaming that comparison's diff with generated files collapsed, and ``check_statuses``, which reads
every listed proposal's ``report.json`` with one ``git cat-file --batch``. Does not decide anything and writes
nothing; the view of one proposal is ``ReviewService.show``.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from assistant.review.errors import ReviewError
from assistant.review.presentation import FileStat, is_generated, parse_numstat
from assistant.review.service import CheckStatus, ReviewService, check_status, report_json_path
from tools.vcs.gitcmd import try_git

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def check_statuses(workspace: Path, rows: list[tuple[str, str | None]]) -> list[CheckStatus]:
    """The check status for each ``(head_commit, report_path)``, read with one ``git cat-file --batch``."""
    specs = [(head, report_json_path(report)) for head, report in rows]
    wanted = [f"{head}:{rel}" for head, rel in specs if rel is not None and _SHA.fullmatch(head) and "\n" not in rel]
    blobs: dict[str, bytes | None] = {}
    if wanted:
        done = subprocess.run(
            ["git", "-C", str(workspace), "cat-file", "--batch"],
            input="\n".join(wanted).encode() + b"\n",
            capture_output=True,
            check=False,
        )
        out, pos = done.stdout, 0
        for spec in wanted:
            end = out.find(b"\n", pos)
            if end < 0:
                break
            header, pos = out[pos:end].split(b" "), end + 1
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                blobs[spec] = out[pos : pos + size]
                pos += size + 1
            else:
                blobs[spec] = None
    return [check_status(None if rel is None else blobs.get(f"{head}:{rel}")) for head, rel in specs]


class Comparison(BaseModel):
    """A proposal's head against an earlier revision or a git revision (``ara review diff ID --against REV``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    proposal_id: int
    """The proposal compared."""
    against: str
    """What it is compared with, as the reviewer named it."""
    old: str
    """The old side: a commit, or ``commit:runs/<id>`` (the earlier revision's run directory)."""
    new: str
    """The new side: the proposal's head, or ``head:runs/<id>`` when comparing run directories."""
    prefix: str
    """Prefix of the compared paths (``runs/<id>/`` when run directories are compared, else empty)."""
    run_prefix: str
    """The proposal's ``runs/<id>/``."""
    files: list[FileStat]
    """Changed files, with their stat line (paths with ``prefix``)."""


def compare(service: ReviewService, proposal_id: int, against: str) -> Comparison:
    """Compare ``proposal_id``'s head with ``against``: an earlier proposal's id, or a git revision.

    Against another proposal of a different run (a re-run revision), the two run directories are compared
    file by file; otherwise the commits are.

    Raises:
        ProposalNotFoundError: unknown ``proposal_id``, or ``against`` names an unknown proposal.
        ReviewError: ``against`` is neither a proposal id nor a commit of the workspace.
    """
    proposal = service.get(proposal_id)
    head = service.ws.branch_head(proposal.branch) or proposal.head_commit
    old, new, prefix = "", head, ""
    if against.isdigit():
        other = service.get(int(against))
        old = service.ws.branch_head(other.branch) or other.head_commit
        if other.run_id != proposal.run_id:
            old, new = f"{old}:runs/{other.run_id}", f"{head}:runs/{proposal.run_id}"
            prefix = proposal.run_prefix
    else:
        resolved = None
        if against.strip() and not against.startswith("-"):
            resolved = try_git(service.ws.path, "rev-parse", "--verify", "--quiet", f"{against}^{{commit}}")
        if not resolved:
            raise ReviewError(
                f"--against {against!r} is neither a proposal id nor a commit of {service.ws.path}; give an "
                f"earlier revision's proposal id (ara review list) or a git revision (a commit, branch or tag). "
                "Nothing was changed.",
                title="Unknown revision",
            )
        old = resolved.strip()
    stats = parse_numstat(b"".join(service.ws.iter_diff(old, new, "--numstat", "-z", "--no-renames")), "")
    files = [
        FileStat(
            path=prefix + f.path,
            added=f.added,
            deleted=f.deleted,
            generated=is_generated(proposal.run_prefix, prefix + f.path),
        )
        for f in stats
    ]
    return Comparison(
        proposal_id=proposal.id,
        against=against,
        old=old,
        new=new,
        prefix=prefix,
        run_prefix=proposal.run_prefix,
        files=files,
    )


def iter_comparison(service: ReviewService, comparison: Comparison, *, expand: bool = False) -> Iterator[bytes]:
    """Stream the diff of a ``Comparison``; generated files only with ``expand``."""
    old, new = comparison.old, comparison.new
    if expand or not any(f.generated for f in comparison.files):
        return service.ws.iter_diff(old, new)
    shown = [f.path[len(comparison.prefix) :] for f in comparison.files if not f.generated]
    return service.ws.iter_diff(old, new, paths=shown) if shown else iter(())
