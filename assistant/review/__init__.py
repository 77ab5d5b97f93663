"""Review of the agent's proposals: list, show, reject, revise (this package) and approve (``.approve`` only).

``ReviewService`` is safe for the research loop to use (it reads proposals, reads reviewers' feedback and makes
revisions). Approval and merging live in ``assistant.review.approve`` alone, which ``assistant.graph`` and
``assistant.campaign`` may not import (import-linter contract), and which demands a ``HumanAuthority``.
This ``__init__`` never imports ``approve``; names are imported on first use so ``ara review list`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.review.audit import AuditEntry, AuditLog
    from assistant.review.errors import (
        AlreadyDecidedError,
        AuthorityError,
        MergeConflictError,
        OutsideRunDirError,
        ReviewerIdentityError,
        ReviewError,
        StaleReviewError,
    )
    from assistant.review.identity import HumanAuthority, agent_role_active, authorize_decision, resolve_reviewer
    from assistant.review.service import ProposalView, ReviewService, RunCost

_HOMES = {
    **dict.fromkeys(["AuditEntry", "AuditLog"], "assistant.review.audit"),
    **dict.fromkeys(
        [
            "AlreadyDecidedError",
            "AuthorityError",
            "MergeConflictError",
            "OutsideRunDirError",
            "ReviewError",
            "ReviewerIdentityError",
            "StaleReviewError",
        ],
        "assistant.review.errors",
    ),
    **dict.fromkeys(
        ["HumanAuthority", "agent_role_active", "authorize_decision", "resolve_reviewer"], "assistant.review.identity"
    ),
    **dict.fromkeys(["ProposalView", "ReviewService", "RunCost"], "assistant.review.service"),
}


def __getattr__(name: str) -> Any:
    """Import on first use (never ``assistant.review.approve``)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'assistant.review' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "AlreadyDecidedError",
    "AuditEntry",
    "AuditLog",
    "AuthorityError",
    "HumanAuthority",
    "MergeConflictError",
    "OutsideRunDirError",
    "ProposalView",
    "ReviewError",
    "ReviewService",
    "ReviewerIdentityError",
    "RunCost",
    "StaleReviewError",
    "agent_role_active",
    "authorize_decision",
    "resolve_reviewer",
]
