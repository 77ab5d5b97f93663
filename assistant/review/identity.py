"""Who is reviewing: the reviewer's git identity and the authority line for decisions.

Covers resolving the reviewer (``--reviewer "Name <email>"`` or the workspace's git ``user.name``/``user.email``),
refusing ara's own identity (and look-alikes of it, compared after Unicode folding) and the agent role (``ARA_ROLE=agent``, set by the research loop and the campaign
runner for their processes), and ``authorize_approval``: an approval needs an interactive human (TTY or TUI)
or an explicit ``--reviewer`` that is not the agent. Does not cover the decisions themselves.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, NamedTuple

from assistant.review.errors import AuthorityError, ReviewerIdentityError
from tools.vcs import AGENT_IDENTITY, GitIdentity
from tools.vcs.confusables import reserved_identity
from tools.vcs.gitcmd import try_git

Channel = Literal["tty", "tui", "explicit"]
ROLE_ENV = "ARA_ROLE"
"""``ARA_ROLE=agent`` marks a process as the agent's (graph, campaign runner, kernels): it may never decide."""


class HumanAuthority(NamedTuple):
    """Proof-of-intent for a decision: who decided and through which channel."""

    reviewer: GitIdentity
    channel: Channel


def agent_role_active() -> bool:
    """True in the agent's processes (``ARA_ROLE=agent``)."""
    return os.environ.get(ROLE_ENV, "").strip().casefold() == "agent"


def resolve_reviewer(workspace: Path, explicit: str | None) -> GitIdentity:
    """The reviewer: ``explicit`` (``"Name <email>"``) or git's ``user.name``/``user.email`` for the workspace.

    Raises:
        ReviewerIdentityError: no identity is configured, or ``explicit`` is malformed.
        AuthorityError: the identity is ara's own (``ara-agent``), which can never review.
    """
    if explicit is not None:
        try:
            identity = GitIdentity.parse(explicit)
        except ValueError as err:
            raise ReviewerIdentityError(str(err), title="Bad --reviewer") from err
    else:
        name = (try_git(workspace, "config", "--get", "user.name") or "").strip()
        email = (try_git(workspace, "config", "--get", "user.email") or "").strip()
        if not name or not email:
            raise ReviewerIdentityError(
                f"no reviewer identity: git has no user.name/user.email for {workspace}. Set them with "
                f"'git -C {workspace} config user.name \"Your Name\"' and "
                f"'git -C {workspace} config user.email you@example.org', or pass --reviewer 'Name <email>'. "
                "Nothing was changed.",
                title="Missing reviewer identity",
            )
        try:
            identity = GitIdentity.parse(f"{name} <{email}>")
        except ValueError as err:
            raise ReviewerIdentityError(
                f"git's user.name/user.email for {workspace} is not usable as a reviewer: {err}. Fix it with "
                f"'git -C {workspace} config user.name \"Your Name\"'. Nothing was changed.",
                title="Bad reviewer identity",
            ) from err
    reason = reserved_identity(identity.name, identity.email)
    if reason is not None:
        raise AuthorityError(
            f"{reason}: {AGENT_IDENTITY} and policies can never review. Configure your own git identity or pass "
            "--reviewer 'Your Name <you@example.org>'. Nothing was changed.",
            title="Agent cannot review",
        )
    return identity


def decision_identity(workspace: Path) -> str:
    """Who a person's plan decision is recorded as where nobody named one (the TUI): the git identity that merges
    record, else the OS user marked as lacking one (so the record never passes for a confirmed identity)."""
    import getpass

    try:
        return str(resolve_reviewer(workspace, None))
    except (ReviewerIdentityError, AuthorityError):
        return f"{getpass.getuser()} (no git identity; set git config user.name/user.email)"


def authorize_decision(
    workspace: Path, *, explicit_reviewer: str | None, interactive: bool, tui: bool = False
) -> HumanAuthority:
    """Establish who decides and check the authority line.

    Args:
        workspace: The workspace (for the git identity).
        explicit_reviewer: ``--reviewer "Name <email>"``, if given.
        interactive: True when a person is at a terminal (stdin and stdout are TTYs) and has confirmed.
        tui: True when the decision comes from the TUI's review screen (a person pressed the button).

    Raises:
        AuthorityError: the agent role is active, the identity is the agent's, or there is neither an
            interactive person nor an explicit ``--reviewer``.
        ReviewerIdentityError: no identity could be resolved.
    """
    if agent_role_active():
        raise AuthorityError(
            f"this process runs as the agent ({ROLE_ENV}=agent); only a human reviewer can decide on a proposal. "
            "Run 'ara review' yourself in a terminal.",
            title="Agent cannot approve",
        )
    if explicit_reviewer is None and not (interactive or tui):
        raise AuthorityError(
            "approval needs a person: run 'ara review approve' in an interactive terminal, or name yourself with "
            "--reviewer 'Your Name <you@example.org>'. Nothing was changed.",
            title="No human reviewer",
        )
    identity = resolve_reviewer(workspace, explicit_reviewer)
    channel: Channel = "explicit" if explicit_reviewer is not None else ("tui" if tui else "tty")
    return HumanAuthority(identity, channel)
