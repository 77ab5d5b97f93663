"""The review service: list, show (the head a reviewer sees), reject, revise, and feedback for the agent.

Covers everything about reviewing except approval: reading proposals, streaming their diffs, flagging files
outside the run directory, the run's cost and citations, rejecting with a comment (kept, and readable by the
agent through ``feedback``), and ``revise``, which the agent calls to make a new proposal linked to the old one.
Approval and merging live only in ``assistant.review.approve``, which the research loop may not import (an
import-linter contract). Every action is written to the audit log.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.report.model import CheckResult, Reference
from assistant.review.audit import AuditEntry, AuditLog
from assistant.review.errors import AlreadyDecidedError, ReviewError
from assistant.review.identity import HumanAuthority, agent_role_active
from assistant.review.presentation import FileStat, is_generated, parse_numstat, results_document
from tools.results import ResultsDocument, ResultsFileError, read_results
from tools.vcs import (
    AGENT_IDENTITY,
    BranchMissingError,
    Comment,
    Proposal,
    ProposalNotFoundError,
    ProposalStatus,
    Workspace,
)
from tools.vcs.index import utcnow

logger = logging.getLogger(__name__)


class _ReportReferences(BaseModel):
    """The part of ``report.json`` (``assistant.report.Report``) review reads: its resolved references."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    references: list[Reference] = []


class _ReportCheck(BaseModel):
    """The part of ``report.json`` the check status reads: the check made when the report was built."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    check: CheckResult | None = None


CheckState = Literal["verified", "unverified", "unchecked", "no report"]


class CheckStatus(BaseModel):
    """Whether a proposal's report passed ara's checker (from its ``report.json``), and why not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: CheckState
    """``verified`` (checked, nothing failed), ``unverified`` (problems found), ``unchecked`` (never checked) or
    ``no report`` (the proposal has no readable ``report.json``)."""
    reason: str
    """In words: what failed first, or why there is no status."""


def check_status(report_json: bytes | None) -> CheckStatus:
    """The check status of a proposal from the bytes of its ``report.json`` (None: the file is not there).

    The one place that reads a report's check for review (``list``, ``show`` and the TUI use it).
    """
    if report_json is None:
        return CheckStatus(state="no report", reason="the proposal has no report.json")
    try:
        check = _ReportCheck.model_validate_json(report_json).check
    except ValidationError as err:
        return CheckStatus(state="no report", reason=f"report.json is not valid ({err.error_count()} problem(s))")
    if check is None:
        return CheckStatus(state="unchecked", reason="the report was never checked against its run")
    if check.ok:
        missing = f"; not checked: {'; '.join(check.not_checked)}" if check.not_checked else ""
        return CheckStatus(state="verified", reason=f"checked: {'; '.join(check.checked)}{missing}")
    first = check.offenders[0] if check.offenders else None
    detail = f": {first.location}: {first.message}" if first is not None else ""
    return CheckStatus(state="unverified", reason=f"{len(check.offenders)} problem(s){detail}")


def report_json_path(report_path: str | None) -> str | None:
    """``report.json`` beside the proposal's ``report.md`` (workspace-relative), or None without a report."""
    return None if report_path is None else str(PurePosixPath(report_path).with_suffix(".json"))


class RunCost(BaseModel):
    """What the run spent, summed from its ``events.jsonl``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    llm_calls: int = 0
    """Model requests."""
    prompt_tokens: int = 0
    """Prompt tokens over all requests."""
    completion_tokens: int = 0
    """Completion tokens over all requests."""
    cells: int = 0
    """Notebook cells executed."""
    wall_s: float | None = None
    """Seconds from the first to the last event, where the log has both."""
    dollars: float | None = None
    """Cost in dollars where prices per million tokens were given."""


class ProposalView(BaseModel):
    """Everything ``ara review show`` prints except the diff body (streamed separately)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    proposal: Proposal
    """The record (its ``pinned_head`` is the head a human last looked at in a terminal)."""
    branch_exists: bool
    """False when the branch was deleted by hand (the view falls back to the recorded head commit)."""
    reviewed_head: str
    """The commit this view shows: the branch tip, or the recorded head when the branch is gone. Approval merges
    exactly the head the reviewer names (``--head``), and refuses if the branch has moved from it."""
    pinned: bool = False
    """Whether this view recorded ``reviewed_head`` as the head a human last looked at (a person at a terminal)."""
    moved_since_proposal: bool
    """The branch tip differs from the commit the agent proposed (someone changed the branch)."""
    changed_paths: list[str]
    """Files the proposal changes relative to its base."""
    outside_paths: list[str]
    """Changed files outside ``runs/<run_id>/``; approval needs ``--allow-outside``."""
    special_paths: list[str] = []
    """``.gitattributes``/``.gitmodules`` changes, symlinks and submodules (``path (what)``); approval refuses them."""
    diffstat: str
    """``git diff --stat`` of base..head."""
    report: str | None
    """The report's text at the reviewed head, if the proposal has one."""
    references: list[Reference]
    """The report's resolved references, read from ``report.json`` at the reviewed head (never from the prose)."""
    cost: RunCost
    """What the run spent."""
    comments: list[Comment]
    """Earlier review comments on this proposal."""
    revisions: list[int]
    """Ids of proposals that revise this one."""
    files: list[FileStat] = []
    """Each changed file's stat line; generated ones (report.html, events.jsonl, figures, cells) are collapsed."""
    check: CheckStatus | None = None
    """The report's check status (from ``report.json`` at the reviewed head)."""
    results_document: ResultsDocument | None = None
    """The run's results (from ``report.json``, else ``results.json``, at the reviewed head), for the tables."""
    warnings: list[str]
    """Things the reviewer must know (branch moved or missing, files outside the run directory)."""


def outside_run_dir(proposal: Proposal, paths: list[str]) -> list[str]:
    """The paths that are not under the proposal's ``runs/<run_id>/``."""
    return [p for p in paths if not p.startswith(proposal.run_prefix)]


class ReviewService:
    """Review actions on one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.audit = AuditLog(workspace.state_dir / "audit.jsonl")

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ReviewService:
        """The service for the existing workspace at ``path`` (raises ``NotAWorkspaceError``)."""
        return cls(Workspace.open(path))

    # ------------------------------------------------------------------------------------------------ read
    def proposals(self, statuses: list[ProposalStatus] | None = None) -> list[Proposal]:
        """Proposals, newest first."""
        return self.ws.list_proposals(statuses)

    def get(self, proposal_id: int) -> Proposal:
        """One proposal (raises ``ProposalNotFoundError``)."""
        return self.ws.get_proposal(proposal_id)

    def show(
        self,
        proposal_id: int,
        *,
        actor: str,
        pin: bool = False,
        channel: str | None = None,
        price_in_per_mtok: float | None = None,
        price_out_per_mtok: float | None = None,
    ) -> ProposalView:
        """Gather what a reviewer needs about the branch's current head, and log the view.

        ``reviewed_head`` is the commit this view shows; approving merges exactly the head the reviewer passes
        (``approve(head=...)``), never whatever the branch points at later. With ``pin`` (a person at a
        terminal, ``ara review show`` with a TTY) the head is also recorded as the one a human last looked at,
        which an interactive ``approve`` without ``--head`` holds the branch to. In the agent's processes
        (``ARA_ROLE=agent``) nothing is pinned and the view is logged as the agent's whatever ``actor`` says.

        Raises:
            ProposalNotFoundError: unknown id.
            BranchMissingError: the branch is gone and its recorded head commit no longer exists either.
        """
        if agent_role_active():
            actor, channel, pin = f"{AGENT_IDENTITY} (ARA_ROLE=agent)", "agent", False
        proposal = self.get(proposal_id)
        tip = self.ws.branch_head(proposal.branch)
        warnings: list[str] = []
        head = tip or proposal.head_commit
        if tip is None:
            if not self.ws.commit_exists(proposal.head_commit):
                raise BranchMissingError(
                    f"proposal {proposal.id}: branch {proposal.branch} was deleted and its commit "
                    f"{proposal.head_commit[:12]} is gone too; reject it with 'ara review reject {proposal.id} "
                    "--comment ...' so the agent proposes again"
                )
            warnings.append(
                f"branch {proposal.branch} no longer exists (deleted by hand?); showing the recorded commit "
                f"{proposal.head_commit[:12]}. It cannot be approved until the branch is restored: "
                f"git -C {self.ws.path} branch {proposal.branch} {proposal.head_commit}"
            )
        elif tip != proposal.head_commit:
            warnings.append(
                f"branch {proposal.branch} moved since the agent proposed it ({proposal.head_commit[:12]} -> "
                f"{tip[:12]}); you are reviewing the new head"
            )
        if proposal.pinned_head and tip is not None and proposal.pinned_head != tip:
            warnings.append(
                f"the branch moved since a reviewer last looked at it ({proposal.pinned_head[:12]} -> {tip[:12]})"
            )
        changed = self.ws.changed_paths(proposal.base_commit, head)
        outside = outside_run_dir(proposal, changed)
        if outside:
            warnings.append(
                f"{len(outside)} changed file(s) lie outside {proposal.run_prefix}: {', '.join(outside[:10])}"
                f"{' ...' if len(outside) > 10 else ''}; approving needs --allow-outside"
            )
        special = [f"{entry.path} ({entry.what})" for entry in self.ws.special_entries(proposal.base_commit, head)]
        if special:
            warnings.append(
                f"REFUSED AT APPROVAL: {len(special)} change(s) to git metadata, links or submodules: "
                f"{', '.join(special[:10])}{' ...' if len(special) > 10 else ''}. They can change how git shows "
                "or merges files; approval refuses such a proposal (reject it, or merge by hand after checking)"
            )
        pinned = pin and tip is not None
        with self.ws.locked():
            if pinned and tip is not None:
                self.ws.index.pin(proposal.id, tip)
            self.audit.append(
                AuditEntry(
                    action="viewed",
                    proposal_id=proposal.id,
                    run_id=proposal.run_id,
                    actor=actor,
                    channel=channel,
                    head=head,
                    pinned=pinned,
                )
            )
        report = self._text_at(head, proposal.report_path)
        report_json = self._file_bytes(head, report_json_path(proposal.report_path))
        references, problem = self._references(head, proposal.report_path)
        if problem:
            warnings.append(problem)
        return ProposalView(
            proposal=self.get(proposal_id),
            branch_exists=tip is not None,
            reviewed_head=head,
            pinned=pinned,
            moved_since_proposal=tip is not None and tip != proposal.head_commit,
            changed_paths=changed,
            outside_paths=outside,
            special_paths=special,
            diffstat="".join(
                c.decode("utf-8", "replace") for c in self.ws.iter_diff(proposal.base_commit, head, "--stat=100")
            ),
            report=report,
            references=references,
            cost=self._cost(proposal, head, price_in_per_mtok, price_out_per_mtok),
            comments=self.ws.index.comments(proposal.id),
            revisions=[child.id for child in self.ws.index.children(proposal.id)],
            files=parse_numstat(self.ws.numstat(proposal.base_commit, head), proposal.run_prefix),
            check=check_status(report_json),
            results_document=results_document(report_json, "report.json")
            or results_document(self.ws.file_at(head, f"{proposal.run_prefix}results.json"), "results.json"),
            warnings=warnings,
        )

    def iter_diff(self, view: ProposalView, *, expand: bool = False) -> Iterator[bytes]:
        """Stream the diff of the reviewed head against the proposal's base; generated files only with ``expand``."""
        base, head = view.proposal.base_commit, view.reviewed_head
        if expand or not any(f.generated for f in view.files):
            return self.ws.iter_diff(base, head)
        shown = [f.path for f in view.files if not f.generated]
        return self.ws.iter_diff(base, head, paths=shown) if shown else iter(())

    def feedback(self, proposal_id: int) -> list[Comment]:
        """Reviewers' comments on ``proposal_id`` (what the agent reads before revising)."""
        self.get(proposal_id)
        return self.ws.index.comments(proposal_id)

    # --------------------------------------------------------------------------------------------- decide
    def reject(self, proposal_id: int, comment: str, authority: HumanAuthority) -> Proposal:
        """Reject an open proposal; the branch is kept and ``comment`` is fed back to the agent.

        Raises:
            ReviewError: the comment is empty.
            AlreadyDecidedError: the proposal is not open (approved, rejected or superseded already).
        """
        if not comment.strip():
            raise ReviewError(
                "a rejection needs --comment saying what to change; the agent revises from it",
                title="Comment required",
            )
        reviewer = str(authority.reviewer)
        with self.ws.locked():
            proposal = self.get(proposal_id)
            moved = self.ws.index.transition(
                proposal_id,
                ["open"],
                "rejected",
                decided_at=utcnow().isoformat(),
                reviewer=reviewer,
                comment=comment,
            )
            if not moved:
                current = self.get(proposal_id)
                self.audit.append(
                    AuditEntry(
                        action="refused",
                        proposal_id=proposal_id,
                        run_id=proposal.run_id,
                        actor=reviewer,
                        channel=authority.channel,
                        comment=f"reject refused: proposal is {current.status}",
                    )
                )
                raise AlreadyDecidedError(decided_message(current), title="Already decided")
            self.ws.index.add_comment(proposal_id, "rejected", reviewer, comment)
            self.audit.append(
                AuditEntry(
                    action="rejected",
                    proposal_id=proposal_id,
                    run_id=proposal.run_id,
                    actor=reviewer,
                    channel=authority.channel,
                    head=proposal.pinned_head or proposal.head_commit,
                    comment=comment,
                )
            )
        logger.info("proposal %s rejected by %s", proposal_id, reviewer)
        return self.get(proposal_id)

    def revise(
        self,
        proposal_id: int,
        *,
        run_id: str | None = None,
        summary: str | None = None,
        files: list[str | os.PathLike[str]] | None = None,
        report_path: str | os.PathLike[str] | None = None,
        results: dict[str, Any] | None = None,
    ) -> Proposal:
        """Propose a revision of ``proposal_id`` (by the agent): a new proposal whose ``parent_id`` is the old one.

        By default the whole run directory is proposed again as it is now (caches skipped), so the agent edits
        or adds the run's files and calls ``revise``. Idempotent per (run, parent): a second call returns the same
        revision. An open parent becomes ``superseded``; a rejected one stays rejected.

        Raises:
            AlreadyDecidedError: the parent was approved or already superseded.
        """
        parent = self.get(proposal_id)
        if parent.status not in ("open", "rejected"):
            children = [c.id for c in self.ws.index.children(parent.id)]
            raise AlreadyDecidedError(
                f"proposal {parent.id} is {parent.status}; only open or rejected proposals can be revised"
                + (f" (its revisions: {children})" if children else ""),
                title="Cannot revise",
            )
        run = run_id or parent.run_id
        run_path = self.ws.path / "runs" / run
        if files is None:
            files = [run_path]
            if self.ws.index.find(run, f"revise-{parent.id}") is None:
                self._refuse_unchanged(parent, run)
        if report_path is None and parent.report_path is not None:
            candidate = self.ws.path / parent.report_path
            report_path = candidate if candidate.is_file() else None
        if results is None:
            results_file = run_path / "results.json"
            results = self._run_results(results_file) if results_file.is_file() else parent.results
        notes = [c.text for c in self.ws.index.comments(parent.id) if c.action == "rejected"]
        text = summary or parent.summary
        if notes:
            text = text.rstrip() + "\n\nAddresses review of proposal " + str(parent.id) + ": " + notes[-1]
        slug = parent.branch.rsplit("/", 1)[-1]
        slug = re.sub(r"-r\d+(-\d+)?$", "", slug)
        revision = self.ws.propose(
            run,
            slug,
            text,
            files,
            report_path,
            results,
            step=f"revise-{parent.id}",
            parent_id=parent.id,
        )
        with self.ws.locked():
            if not any(e.action == "revised" and e.revision_id == revision.id for e in self._recent(parent.id)):
                self.audit.append(
                    AuditEntry(
                        action="revised",
                        proposal_id=parent.id,
                        run_id=revision.run_id,
                        actor=str(AGENT_IDENTITY),
                        head=revision.head_commit,
                        revision_id=revision.id,
                    )
                )
        return revision

    def _refuse_unchanged(self, parent: Proposal, run_id: str) -> None:
        """Refuse a files-only revision whose run files, generated ones aside, equal the parent's.

        Raises:
            ReviewError: nothing but generated files (report.html, events.jsonl, figures, cells) would change.
        """
        head = self.ws.branch_head(parent.branch) or parent.head_commit
        prefix = f"runs/{run_id}/"
        for rel in self.ws.run_files(run_id):
            if is_generated(prefix, rel):
                continue
            if self.ws.file_at(head, rel) != _regular_file_bytes(self.ws.path / rel):
                return
        raise ReviewError(
            f"nothing would change: the files of run {run_id} are those of proposal {parent.id} apart from generated "
            f"ones (report.html, events.jsonl, figures, cell records). Edit the run's files first, or re-run the "
            f"agent with the review comments: ara review revise {parent.id}. Nothing was changed.",
            title="Nothing to revise",
        )

    def record_refusal(self, proposal_id: int, actor: str, reason: str, channel: str | None = None) -> None:
        """Log a decision that was turned down before it started (e.g. by the authority check).

        In the agent's processes the record names the agent as the caller, and whom it claimed to act for.
        Unknown ids are not logged: the refusal message already says the id does not exist.
        """
        try:
            proposal = self.get(proposal_id)
        except ProposalNotFoundError:
            return
        agent = f"{AGENT_IDENTITY} (ARA_ROLE=agent)"
        if agent_role_active() and actor != agent:
            actor, channel = f"{agent} claiming {actor}", "agent"
        with self.ws.locked():
            self.audit.append(
                AuditEntry(
                    action="refused",
                    proposal_id=proposal.id,
                    run_id=proposal.run_id,
                    actor=actor,
                    channel=channel,
                    head=proposal.pinned_head or proposal.head_commit,
                    comment=reason,
                )
            )

    # -------------------------------------------------------------------------------------------- helpers
    def _recent(self, proposal_id: int) -> list[AuditEntry]:
        return [e for e in self.audit.entries() if e.proposal_id == proposal_id]

    def _file_bytes(self, commit: str, relpath: str | None) -> bytes | None:
        return None if relpath is None else self.ws.file_at(commit, relpath)

    def _text_at(self, commit: str, relpath: str | None) -> str | None:
        if relpath is None:
            return None
        data = self.ws.file_at(commit, relpath)
        return None if data is None else data.decode("utf-8", "replace")

    @staticmethod
    def _run_results(path: Path) -> dict[str, Any]:
        try:
            return read_results(path).model_dump(mode="json", by_alias=True, exclude_unset=True)
        except ResultsFileError as err:
            raise ReviewError(f"{err}; fix or remove it, then revise again", title="Bad results file") from err

    def _references(self, commit: str, report_path: str | None) -> tuple[list[Reference], str | None]:
        """The typed references of the report's ``report.json`` beside ``report_path``, and a warning if unreadable."""
        if report_path is None:
            return [], None
        rel = str(PurePosixPath(report_path).with_suffix(".json"))
        data = self.ws.file_at(commit, rel)
        if data is None:
            return [], f"{rel} is not in the proposal, so its references cannot be listed (rebuild the report)"
        try:
            return list(_ReportReferences.model_validate_json(data).references), None
        except ValidationError as err:
            return [], f"{rel} is not a valid report ({err.error_count()} problem(s)); its references are not listed"

    def _cost(self, proposal: Proposal, head: str, price_in: float | None, price_out: float | None) -> RunCost:
        rel = f"{proposal.run_prefix}events.jsonl"
        data = self.ws.file_at(head, rel)
        if data is None:
            data = _regular_file_bytes(self.ws.path / rel)
        calls = prompt = completion = cells = 0
        stamps: list[float] = []
        for line in data.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            if isinstance(event.get("ts"), (int, float)):
                stamps.append(float(event["ts"]))
            kind = event.get("type")
            if kind == "llm_called":
                calls += 1
                prompt += _count(event.get("prompt_tokens"))
                completion += _count(event.get("completion_tokens"))
            elif kind == "cell_executed":
                cells += 1
        dollars = None
        if price_in is not None and price_out is not None:
            dollars = round((prompt * price_in + completion * price_out) / 1e6, 6)
        wall = round(max(stamps) - min(stamps), 3) if len(stamps) >= 2 else None
        return RunCost(
            llm_calls=calls,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cells=cells,
            wall_s=wall,
            dollars=dollars,
        )


_MAX_LOG_BYTES = 64 * 1024 * 1024


def _regular_file_bytes(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file (no symlink, FIFO or device is opened), capped in size."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(_MAX_LOG_BYTES)
    finally:
        os.close(fd)


def _count(value: object) -> int:
    """A token count from a log line; anything that is not a non-negative integer counts 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def decided_message(proposal: Proposal) -> str:
    """Why a decision on an already-decided proposal was refused (names who decided and when)."""
    when = proposal.decided_at.isoformat(timespec="seconds") if proposal.decided_at else "earlier"
    if proposal.status == "approved":
        merge = (proposal.merge_commit or "")[:12]
        return (
            f"proposal {proposal.id} was already approved by {proposal.reviewer} at {when} (merge {merge}); "
            "nothing was changed"
        )
    if proposal.status == "rejected":
        return f"proposal {proposal.id} was already rejected by {proposal.reviewer} at {when}; nothing was changed"
    return f"proposal {proposal.id} was superseded by a revision; review the newest revision instead"
