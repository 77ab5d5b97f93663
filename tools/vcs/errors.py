"""Errors of the workspace repository: each says what failed, on which input, and what to do.

All derive from ``tools.errors.UserInputError`` because a person (or the agent, for ``OutsideWorkspaceError``)
must act on them; ``assistant`` maps them onto ``AssistantError`` for the CLI. Does not cover review errors
(``assistant.review.errors``).
"""

from __future__ import annotations

from pathlib import Path

from tools.errors import UserInputError


class VcsError(UserInputError):
    """Base class for workspace-repository errors."""


class NotAWorkspaceError(VcsError):
    """The folder is not a git repository (and ``open`` was asked not to create one)."""

    @classmethod
    def at(cls, root: Path) -> NotAWorkspaceError:
        """The error for ``root``, saying how to fix it."""
        return cls(
            f"{root} is not a git repository (no .git there). Point --workspace/ARA_WORKSPACE at the "
            "workspace, or let a research run create it ('ara run' calls Workspace.open_or_create)."
        )


class MainLineError(VcsError):
    """The main line branch cannot be found (e.g. a detached HEAD in a repository with no ``main``)."""


class ProposalNotFoundError(VcsError):
    """No proposal has the given id."""


class BranchMissingError(VcsError):
    """A proposal's branch no longer exists (deleted by hand)."""


class RunNotFoundError(VcsError):
    """No run directory exists for the given run id."""


class OutsideWorkspaceError(VcsError):
    """A file given to ``propose`` lies outside the workspace, is a symlink, or does not exist."""


class GitCommandFailedError(VcsError):
    """A git command failed; the message carries git's own words."""
