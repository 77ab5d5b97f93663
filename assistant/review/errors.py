"""Errors of the review gate; each says what failed, on which proposal, and what the reviewer can do.

All are ``AssistantError``s: the CLI prints them and exits 2, the TUI shows a modal. Does not cover errors of
the workspace repository itself (``tools.vcs.errors``, mapped onto ``ReviewError`` by ``as_review_error``).
"""

from __future__ import annotations

from assistant.errors import AssistantError
from tools.vcs.errors import (
    BranchMissingError,
    MainLineError,
    NotAWorkspaceError,
    OutsideWorkspaceError,
    ProposalNotFoundError,
    RunNotFoundError,
    VcsError,
)

_TITLES: dict[type[VcsError], str] = {
    NotAWorkspaceError: "Not a workspace",
    ProposalNotFoundError: "Unknown proposal",
    BranchMissingError: "Proposal branch missing",
    MainLineError: "No main line",
    RunNotFoundError: "Unknown run",
    OutsideWorkspaceError: "File outside the workspace",
}


class ReviewError(AssistantError):
    """A review action could not be carried out; nothing on the main line changed."""


class AuthorityError(ReviewError):
    """The caller may not approve: not an interactive human, no ``--reviewer``, or the agent's own identity."""


class ReviewerIdentityError(ReviewError):
    """No reviewer identity could be found (no git ``user.name``/``user.email`` and no ``--reviewer``)."""


class AlreadyDecidedError(ReviewError):
    """The proposal was already approved, rejected or superseded (e.g. a second, concurrent approval)."""


class StaleReviewError(ReviewError):
    """The proposal's branch changed after the review started; it needs a fresh look before approval."""


class OutsideRunDirError(ReviewError):
    """The proposal changes files outside its run directory and ``--allow-outside`` was not given."""


class MergeConflictError(ReviewError):
    """The proposal does not merge cleanly into the main line (or the human's checkout blocks the update)."""


def as_review_error(err: VcsError) -> ReviewError:
    """The workspace error as a ``ReviewError`` with a title naming its kind."""
    return ReviewError(str(err), title=_TITLES.get(type(err), "Workspace error"))
