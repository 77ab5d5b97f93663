"""Approving a proposal: the only code in ara that merges into the workspace's main line.

Covers ``approve``: under the workspace lock, check the decision is still open, that the branch still points at
the head the reviewer saw and named (``head``), that files outside the run directory were explicitly allowed and
that no ``.gitattributes``/``.gitmodules`` file, symlink or submodule is part of the change; merge that exact
commit in a temporary worktree with the reviewer as author and committer (``Reviewed-by:`` and ``Ara-*``
trailers); then advance the main line: a fast-forward of the human's checkout when it is on the main line (git
refuses, changing nothing, if that would overwrite the human's local changes), a compare-and-set ref update
otherwise. Conflicts abort the merge and leave the main line untouched. Every outcome, refusals included, goes to
the audit log.

The research loop and the campaign runner must never import this module (import-linter contract in
pyproject.toml); a decision needs a ``HumanAuthority`` from ``assistant.review.identity.authorize_decision``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from typing import NamedTuple

from assistant.review.audit import AuditEntry
from assistant.review.errors import (
    AlreadyDecidedError,
    AuthorityError,
    MergeConflictError,
    OutsideRunDirError,
    ReviewError,
    StaleReviewError,
)
from assistant.review.identity import HumanAuthority, agent_role_active
from assistant.review.service import ReviewService, decided_message, outside_run_dir
from tools.vcs import BranchMissingError, Proposal, Workspace, is_agent_identity
from tools.vcs.gitcmd import git_result, identity_env, run_git, try_git
from tools.vcs.index import utcnow

logger = logging.getLogger(__name__)

_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class ApprovalResult(NamedTuple):
    """What an approval did."""

    proposal: Proposal
    """The proposal, now ``approved``."""
    merge_commit: str
    """The merge commit now at the tip of the main line."""
    checkout_updated: bool
    """True when the human's checkout was on the main line and was fast-forwarded to the merge."""
    kept_local: list[str]
    """Untracked files (e.g. a run log appended after proposing) whose newer local content was kept over the
    merged version; they now show as modified in the human's checkout."""


def approve(
    service: ReviewService,
    proposal_id: int,
    authority: HumanAuthority,
    *,
    head: str,
    comment: str | None = None,
    allow_outside: bool = False,
) -> ApprovalResult:
    """Merge commit ``head`` of proposal ``proposal_id`` into the main line on behalf of a human reviewer.

    Args:
        service: The review service of the workspace.
        proposal_id: The proposal to merge.
        authority: Who approves and how that was established (``authorize_decision``).
        head: The full commit id the reviewer saw (``ProposalView.reviewed_head``, printed by ``ara review
            show``). Only this commit is merged, and only while the branch still points at it.
        comment: The reviewer's comment, kept in the merge commit and the audit log.
        allow_outside: Accept changes to files outside the proposal's run directory.

    Raises:
        AuthorityError: the agent role is active or the reviewer is the agent.
        ReviewError: ``head`` is not a full commit id, or the change carries git metadata, links or submodules.
        AlreadyDecidedError: the proposal is not open (e.g. the other of two concurrent approvals won).
        BranchMissingError: the branch was deleted.
        StaleReviewError: the branch no longer points at ``head`` (look again with ``ara review show``).
        OutsideRunDirError: files outside the run directory changed and ``allow_outside`` is false.
        MergeConflictError: the proposal conflicts with the main line, or the human's checkout blocks the update.
    """
    if agent_role_active() or is_agent_identity(authority.reviewer):
        message = "the agent cannot approve proposals; a human reviewer must run 'ara review approve'"
        service.record_refusal(proposal_id, str(authority.reviewer), f"approve refused: {message}", authority.channel)
        raise AuthorityError(message, title="Agent cannot approve")
    head = head.strip().lower()
    if not _FULL_SHA.fullmatch(head):
        message = (
            f"--head {head[:80]!r} is not a full commit id; pass the 40-character head that 'ara review show "
            f"{proposal_id}' printed. Nothing was changed."
        )
        service.record_refusal(proposal_id, str(authority.reviewer), f"approve refused: {message}", authority.channel)
        raise ReviewError(message, title="Head needed")
    ws = service.ws
    reviewer = str(authority.reviewer)
    with ws.locked():
        proposal = service.get(proposal_id)

        def refuse(error: ReviewError) -> ReviewError:
            service.audit.append(
                AuditEntry(
                    action="refused",
                    proposal_id=proposal.id,
                    run_id=proposal.run_id,
                    actor=reviewer,
                    channel=authority.channel,
                    head=head,
                    comment=f"approve refused: {error.message}",
                )
            )
            return error

        if proposal.status != "open":
            raise refuse(AlreadyDecidedError(decided_message(proposal), title="Already decided"))
        pinned = head
        tip = ws.branch_head(proposal.branch)
        if tip is None:
            error = BranchMissingError(
                f"proposal {proposal.id}: branch {proposal.branch} no longer exists (deleted by hand?). Restore it "
                f"with 'git -C {ws.path} branch {proposal.branch} {pinned}' and review again, or reject the "
                "proposal. Nothing was changed."
            )
            refuse(ReviewError(str(error)))
            raise error
        if tip != pinned:
            raise refuse(
                StaleReviewError(
                    f"proposal {proposal.id}: branch {proposal.branch} now points at {tip[:12]}, not at the "
                    f"{pinned[:12]} you reviewed. Look at the new commits with 'ara review show "
                    f"{proposal.id}' and approve the head it prints. Nothing was changed.",
                    title="Branch changed during review",
                )
            )
        special = ws.special_entries(proposal.base_commit, pinned)
        if special:
            listed = ", ".join(f"{e.path} ({e.what})" for e in special[:10])
            raise refuse(
                ReviewError(
                    f"proposal {proposal.id} changes git metadata, links or submodules: {listed}. These change how "
                    "git shows, converts or merges files (a '.gitattributes' with '* -diff' hides code from the "
                    f"diff), so ara never merges them. Reject it ('ara review reject {proposal.id} --comment ...'), "
                    "or merge the branch by hand after reading it with 'git show --text --no-textconv'. Nothing "
                    "was changed.",
                    title="Git metadata in the proposal",
                )
            )
        outside = outside_run_dir(proposal, ws.changed_paths(proposal.base_commit, pinned))
        if outside and not allow_outside:
            raise refuse(
                OutsideRunDirError(
                    f"proposal {proposal.id} changes {len(outside)} file(s) outside {proposal.run_prefix}: "
                    f"{', '.join(outside[:10])}. Check them in 'ara review show {proposal.id}' and approve with "
                    "--allow-outside if intended. Nothing was changed.",
                    title="Files outside the run directory",
                )
            )
        old_main = ws.mainline_commit()
        merge = _already_merged(ws, proposal, pinned)
        updated, kept = False, list[str]()
        if merge is None:
            try:
                merge = _merge(ws, proposal, pinned, authority, comment, old_main)
                updated, kept = _advance_mainline(ws, old_main, merge, proposal.id)
            except MergeConflictError as err:
                raise refuse(err) from None
        ws.index.transition(
            proposal.id,
            ["open"],
            "approved",
            decided_at=utcnow().isoformat(),
            reviewer=reviewer,
            comment=comment,
            merge_commit=merge,
        )
        if comment:
            ws.index.add_comment(proposal.id, "approved", reviewer, comment)
        service.audit.append(
            AuditEntry(
                action="approved",
                proposal_id=proposal.id,
                run_id=proposal.run_id,
                actor=reviewer,
                channel=authority.channel,
                head=pinned,
                comment=comment,
                merge_commit=merge,
            )
        )
    logger.info("proposal %s approved by %s: %s at %s", proposal.id, reviewer, ws.mainline, merge[:12])
    return ApprovalResult(service.get(proposal.id), merge, updated, kept)


def _already_merged(ws: Workspace, proposal: Proposal, pinned: str) -> str | None:
    """The merge commit of a crashed earlier approval (head already on the main line), else None."""
    if try_git(ws.path, "merge-base", "--is-ancestor", pinned, f"refs/heads/{ws.mainline}") is None:
        return None
    found = run_git(
        ws.path,
        "log",
        "--merges",
        "-1",
        "--format=%H",
        f"--grep=^Ara-Proposal-Id: {proposal.id}$",
        f"refs/heads/{ws.mainline}",
    )
    if not found:
        raise ReviewError(
            f"proposal {proposal.id}'s commit {pinned[:12]} is already on {ws.mainline} without an approval merge "
            "(merged by hand?); reject the proposal to close it",
            title="Already on the main line",
        )
    logger.warning("proposal %s was merged as %s before a crash; recording the approval", proposal.id, found)
    return found


def _merge(
    ws: Workspace, proposal: Proposal, pinned: str, authority: HumanAuthority, comment: str | None, base: str
) -> str:
    worktree = ws.state_dir / "worktrees" / f"merge-{proposal.id}"
    if worktree.exists():
        run_git(ws.path, "worktree", "remove", "--force", str(worktree), check=False)
        shutil.rmtree(worktree, ignore_errors=True)
    run_git(ws.path, "worktree", "prune")
    run_git(ws.path, "worktree", "add", "--quiet", "--detach", str(worktree), base)
    message_file = ws.state_dir / "worktrees" / f"merge-{proposal.id}.msg"
    subject = proposal.summary.strip().splitlines()[0] if proposal.summary.strip() else proposal.branch
    lines = [f"Merge proposal {proposal.id} ({proposal.branch}): {subject}"[:120], ""]
    if comment:
        lines += [comment.strip(), ""]
    lines += [
        f"Reviewed-by: {authority.reviewer}",
        f"Ara-Run-Id: {proposal.run_id}",
        f"Ara-Proposal-Id: {proposal.id}",
        f"Ara-Reviewed-Head: {pinned}",
        f"Ara-Review-Channel: {authority.channel}",
    ]
    message_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        _, out, err = git_result(
            worktree,
            "merge",
            "--no-ff",
            "--no-edit",
            "-F",
            str(message_file),
            pinned,
            env=identity_env(authority.reviewer),
        )
        head = run_git(worktree, "rev-parse", "HEAD")
        if try_git(worktree, "rev-parse", "-q", "--verify", "MERGE_HEAD") is not None or head == base:
            conflicted = run_git(worktree, "diff", "--name-only", "--diff-filter=U")
            run_git(worktree, "merge", "--abort", check=False)
            files = ", ".join(conflicted.split()) or (err or out).strip()[-300:]
            raise MergeConflictError(
                f"proposal {proposal.id} does not merge cleanly into {ws.mainline} (moved on since the proposal "
                f"was based on {proposal.base_commit[:12]}): conflicts in {files}. {ws.mainline} was not changed. "
                f"Reject it with a comment ('ara review reject {proposal.id} --comment \"rebase on "
                f"{ws.mainline}\"') so the agent revises it on the new main line.",
                title="Merge conflict",
            )
        return head
    finally:
        run_git(ws.path, "worktree", "remove", "--force", str(worktree), check=False)
        message_file.unlink(missing_ok=True)


def _advance_mainline(ws: Workspace, old: str, merge: str, proposal_id: int) -> tuple[bool, list[str]]:
    """Move the main line from ``old`` to ``merge``.

    Returns whether the human's checkout was fast-forwarded, and the untracked local files whose content was
    kept over the merged version. Untracked files at merged paths (the run's own files, which the agent wrote
    into the checkout) are moved aside for the fast-forward and put back where they differ from the merged
    version, e.g. a run log that kept growing after the proposal: git alone would overwrite ignored files
    silently and refuse on other untracked ones.
    """
    checkout = ws.checkout()
    if checkout.branch != ws.mainline:
        git_result(ws.path, "update-ref", f"refs/heads/{ws.mainline}", merge, old)
        if ws.mainline_commit() != merge:
            raise MergeConflictError(
                f"{ws.mainline} moved while the approval was merging; nothing was changed. Approve again.",
                title="Main line moved",
            )
        return False, []
    backup = ws.state_dir / "preserved" / f"p{proposal_id}"
    moved: list[str] = []
    for rel in ws.changed_paths(old, merge):
        local = ws.path / rel
        if local.is_file() and not local.is_symlink() and ws.file_at(old, rel) is None:
            saved = backup / rel
            saved.parent.mkdir(parents=True, exist_ok=True)
            os.replace(local, saved)
            moved.append(rel)
    _, out, err = git_result(ws.path, "merge", "--ff-only", "--quiet", merge)
    if ws.mainline_commit() != merge:
        for rel in moved:
            os.replace(backup / rel, ws.path / rel)
        shutil.rmtree(backup, ignore_errors=True)
        raise MergeConflictError(
            f"your checkout of {ws.mainline} in {ws.path} could not be fast-forwarded to the approval merge "
            f"{merge[:12]}: {(err or out).strip() or 'it moved or has local changes in the merged files'}. "
            f"{ws.mainline} was not changed and your files are as they were. Commit or stash your changes "
            "to those files (or move them away), then approve again.",
            title="Checkout blocks the merge",
        )
    kept: list[str] = []
    for rel in moved:
        if (backup / rel).read_bytes() != (ws.path / rel).read_bytes():
            os.replace(backup / rel, ws.path / rel)
            kept.append(rel)
            logger.warning("kept the newer local %s over the merged version (it now shows as modified)", rel)
    shutil.rmtree(backup, ignore_errors=True)
    return True, kept
