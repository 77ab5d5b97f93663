"""The research workspace as a git repository: run directories and proposals that only a human can merge.

Public API: ``Workspace`` (``open``, ``open_or_create``, ``new_run``, ``propose``, ``list_proposals``),
the records ``RunDir`` and ``Proposal``, ara's commit identity ``AGENT_IDENTITY`` and the errors. Nothing in this
package approves, rejects or merges a proposal: that is ``assistant.review``'s job, behind the human check.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.vcs.errors import (
        BranchMissingError,
        GitCommandFailedError,
        MainLineError,
        NotAWorkspaceError,
        OutsideWorkspaceError,
        ProposalNotFoundError,
        RunNotFoundError,
        VcsError,
    )
    from tools.vcs.index import Comment, ProposalIndex
    from tools.vcs.records import (
        AGENT_IDENTITY,
        GitIdentity,
        KeyNumber,
        Proposal,
        ProposalStatus,
        RunDir,
        is_agent_identity,
        key_numbers,
        slugify,
    )
    from tools.vcs.workspace import Checkout, Workspace

_HOMES = {
    **dict.fromkeys(
        [
            "BranchMissingError",
            "GitCommandFailedError",
            "MainLineError",
            "NotAWorkspaceError",
            "OutsideWorkspaceError",
            "ProposalNotFoundError",
            "RunNotFoundError",
            "VcsError",
        ],
        "tools.vcs.errors",
    ),
    **dict.fromkeys(["Comment", "ProposalIndex"], "tools.vcs.index"),
    **dict.fromkeys(
        [
            "AGENT_IDENTITY",
            "GitIdentity",
            "KeyNumber",
            "Proposal",
            "ProposalStatus",
            "RunDir",
            "is_agent_identity",
            "key_numbers",
            "slugify",
        ],
        "tools.vcs.records",
    ),
    **dict.fromkeys(["Checkout", "Workspace"], "tools.vcs.workspace"),
}


def __getattr__(name: str) -> Any:
    """Import on first use: ``ara review list`` needs the index, not GitPython, filelock or ULIDs."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'tools.vcs' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "AGENT_IDENTITY",
    "BranchMissingError",
    "Checkout",
    "Comment",
    "GitCommandFailedError",
    "GitIdentity",
    "KeyNumber",
    "MainLineError",
    "NotAWorkspaceError",
    "OutsideWorkspaceError",
    "Proposal",
    "ProposalIndex",
    "ProposalNotFoundError",
    "ProposalStatus",
    "RunDir",
    "RunNotFoundError",
    "VcsError",
    "Workspace",
    "is_agent_identity",
    "key_numbers",
    "slugify",
]
