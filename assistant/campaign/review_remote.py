"""Pushing a campaign entry's proposal branches to the review remote (``campaign.review_remote``).

Covers the entry-runner wrapper a worker uses: after an entry's run ends with a proposal, each of the run's
proposal branches (``ara/<run_id>/...``) is pushed to the configured remote (a bare repository path or any git
URL) without force, so a remote that already holds a different commit under that name rejects it. The push is
idempotent (a resumed entry pushes the same commit again harmlessly). A rejected or failed push never loses the
result: the entry keeps its outcome, ``push_error`` says what failed and the command that pushes it by hand, and
the morning summary lists it. The outcome also records which worker ran it. Does not approve or merge anything:
``ara review`` decides, by a person, as always.
"""

from __future__ import annotations

import logging
from pathlib import Path

from assistant.campaign.queue import EntryOutcome
from assistant.campaign.runner import EntryContext, EntryRunner
from assistant.database import masked
from tools.vcs import Workspace
from tools.vcs.gitcmd import git_result

log = logging.getLogger(__name__)

SETTING = "campaign.review_remote (ARA_CAMPAIGN_REVIEW_REMOTE)"


def push_proposals(workspace: Path, remote: str, run_id: str) -> tuple[list[str], str | None]:
    """Push every proposal branch of ``run_id`` to ``remote``; returns (branches pushed, error or None)."""
    ws = Workspace.open(workspace)
    branches = sorted({p.branch for p in ws.list_proposals() if p.run_id == run_id})
    pushed: list[str] = []
    for branch in branches:
        status, _out, err = git_result(ws.path, "push", "--quiet", remote, f"refs/heads/{branch}:refs/heads/{branch}")
        if status != 0:
            reason = " ".join(err.strip().split())[-600:] or f"git exited {status}"
            return pushed, (
                f"pushing proposal branch {branch} to the review remote {SETTING} = {masked(remote)} failed: "
                f"{reason}. The proposal is kept in {ws.path}; once the remote accepts it, push it with: "
                f"git -C {ws.path} push {masked(remote)} {branch}"
            )
        pushed.append(branch)
    return pushed, None


class PushingEntryRunner:
    """Wraps an ``EntryRunner``: records the worker's name and pushes the entry's proposal branches.

    Args:
        inner: The entry runner (the research loop in production).
        worker: The worker's name, stored in each outcome.
        workspace: The worker's workspace (where its runs commit their proposals).
        remote: The review remote; None = no push.
    """

    def __init__(self, inner: EntryRunner, worker: str, workspace: Path, remote: str | None) -> None:
        self.inner = inner
        self.worker = worker
        self.workspace = workspace
        self.remote = remote

    def __call__(self, ctx: EntryContext) -> EntryOutcome:
        outcome = self.inner(ctx).model_copy(update={"worker": self.worker})
        if self.remote is None or outcome.proposal_id is None:
            return outcome
        pushed, error = push_proposals(self.workspace, self.remote, ctx.run_id)
        if error is not None:
            log.error("entry %s: %s", ctx.entry.id, error)
            return outcome.model_copy(update={"push_error": error})
        log.info("entry %s: pushed %s to %s", ctx.entry.id, ", ".join(pushed), masked(self.remote))
        return outcome.model_copy(update={"pushed_to": masked(self.remote)})
