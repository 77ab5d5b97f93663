"""Review of the agent's proposals: list, show, reject, revise (this package) and approve (``.approve`` only).

``ReviewService`` is safe for the research loop to use (it reads proposals, reads reviewers' feedback and makes
revisions). Approval and merging live in ``assistant.review.approve`` alone, which ``assistant.graph`` and
``assistant.campaign`` may not import (import-linter contract), and which demands a ``HumanAuthority``.
This ``__init__`` deliberately does not import ``approve``.
"""

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
