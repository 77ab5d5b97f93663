"""What a revision re-runs: the original question with the reviewer's comments, or a refusal when nothing changes.

``ara review revise ID`` starts a new run of the research loop (through ``assistant.graph.session.RunSession``,
driven by ``assistant.cli.review``) whose question is the revised proposal's question followed by the reviewers'
comments, and whose proposal is linked to the old one (``parent_id``: the revision chain). This module decides
whether such a run would change anything (a comment nobody has acted on yet) and writes its question. It does not
run anything, and does not cover ``--files-only`` revisions (``ReviewService.revise``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from assistant.review.errors import AlreadyDecidedError, ReviewError
from assistant.review.service import ReviewService
from tools.vcs import Proposal


class RevisionPlan(BaseModel):
    """The run a revision starts: the question to ask and the proposal it revises."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parent: Proposal
    """The proposal being revised."""
    original_question: str
    """The question of the parent's run."""
    comments: list[str]
    """The reviewers' comments the new run answers (oldest first)."""
    question: str
    """The new run's question: the original one, then the comments to address."""


def run_question(workspace: Path, run_id: str) -> str | None:
    """The question ``run_id`` was started with (from its ``events.jsonl``), or None when it has no start event."""
    from assistant.events import RunStarted
    from assistant.runlog import read_events

    events = read_events(workspace / "runs" / run_id / "events.jsonl")
    started = next((e for e in events if isinstance(e, RunStarted)), None)
    return None if started is None else started.question


def revision_question(original: str, parent_id: int, comments: list[str]) -> str:
    """The re-run's question: ``original`` and the comments on proposal ``parent_id`` it must address."""
    notes = "\n".join(f"- {c.strip()}" for c in comments)
    return f"{original.strip()}\n\nRevise proposal {parent_id}; a reviewer asked for these changes:\n{notes}"


def plan_revision(service: ReviewService, proposal_id: int) -> RevisionPlan:
    """Decide what re-running proposal ``proposal_id`` asks, or refuse when nothing would change.

    Raises:
        ProposalNotFoundError: unknown id.
        AlreadyDecidedError: the proposal was approved or superseded (revise the newest revision instead).
        ReviewError: no reviewer comment that an earlier revision has not already answered (a re-run would ask
            the same question again), or the proposal's run has no question on record.
    """
    parent = service.get(proposal_id)
    children = service.ws.index.children(parent.id)
    if parent.status not in ("open", "rejected"):
        newest = f" (its revisions: {', '.join(str(c.id) for c in children)})" if children else ""
        raise AlreadyDecidedError(
            f"proposal {parent.id} is {parent.status}; only open or rejected proposals can be revised{newest}. "
            "Nothing was changed.",
            title="Cannot revise",
        )
    comments = [c for c in service.feedback(parent.id) if c.text.strip()]
    if children:
        newest_child = max(child.created_at for child in children)
        comments = [c for c in comments if c.created_at > newest_child]
    if not comments:
        answered = (
            f"; revision(s) {', '.join(str(c.id) for c in children)} already answer the earlier comments"
            if children
            else ""
        )
        raise ReviewError(
            f"nothing would change: proposal {parent.id} has no review comment to act on{answered}, so re-running "
            f"would ask the same question again. Say what to change first: ara review reject {parent.id} "
            "--comment '...'. Nothing was changed.",
            title="Nothing to revise",
        )
    original = run_question(service.ws.path, parent.run_id)
    if original is None:
        raise ReviewError(
            f"proposal {parent.id}: run {parent.run_id} has no start event in its events.jsonl, so its question is "
            'unknown and it cannot be re-run. Start a new run with the changes: ara run "question". '
            "Nothing was changed.",
            title="Cannot re-run",
        )
    texts = [c.text for c in comments]
    return RevisionPlan(
        parent=parent,
        original_question=original,
        comments=texts,
        question=revision_question(original, parent.id, texts),
    )
