"""Records of the workspace repository: run directories, proposals and ara's own git identity.

Covers the typed, JSON-able shapes that cross module lines (``RunDir``, ``Proposal``, ``ProposalStatus``) and the
identity ara commits under. Does not cover storing them (``tools.vcs.index``) or git operations
(``tools.vcs.workspace``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError

from tools.results import SCHEMA, ResultsDocument
from tools.vcs.confusables import reserved_identity

ProposalStatus = Literal["open", "approved", "rejected", "superseded"]
"""Where a proposal stands. Only a human reviewer (``assistant.review.approve``) ever sets ``approved``."""

PROPOSAL_STATUSES: tuple[ProposalStatus, ...] = ("open", "approved", "rejected", "superseded")

KeyNumber = float | int | str | bool | None
"""One value in a proposal's results summary."""


_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Characters that reorder how a name is displayed; never accepted in an identity."""


class GitIdentity(NamedTuple):
    """A git author/committer: ``Name <email>``."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @classmethod
    def parse(cls, text: str) -> GitIdentity:
        """Parse ``"Name <email>"``.

        Raises:
            ValueError: the text is not of that form.
        """
        match = re.fullmatch(r"\s*([^<>]*?)\s*<\s*([^<>\s]+@[^<>\s]*)\s*>\s*", text)
        if match is None or not match.group(1):
            raise ValueError(f"{text!r} is not a git identity; write it as 'Full Name <email@example.org>'")
        hidden = [ch for ch in text if unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS]
        if hidden:
            codes = ", ".join(sorted({f"U+{ord(ch):04X}" for ch in hidden}))
            raise ValueError(
                f"{text!r} contains control or text-direction characters ({codes}); write the name with visible "
                "characters only"
            )
        return cls(match.group(1), match.group(2))


AGENT_IDENTITY = GitIdentity("ara-agent", "ara-agent@localhost")
"""The identity of ara's own commits (proposals, the workspace's first commit). Never accepted as a reviewer."""


def is_agent_identity(identity: GitIdentity) -> bool:
    """True when ``identity`` is, or impersonates, ara's own commit identity or a policy's name.

    Names are compared after Unicode folding (``tools.vcs.confusables``): ``ara\u2010agent``, ``\u0430ra-agent``
    (Cyrillic a), fullwidth letters, zero-width joiners and ``ARA AGENT`` all count as ``ara-agent``.
    """
    return reserved_identity(identity.name, identity.email) is not None


class RunDir(BaseModel):
    """One run's directory, ``<workspace>/runs/<run_id>/``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    """ULID of the run (sortable by creation time)."""
    slug: str
    """Short branch-safe name derived from the run's hint (``[a-z0-9-]``)."""
    path: Path
    """Absolute path of the run directory."""
    events_path: Path
    """``<path>/events.jsonl``: the run log written by the research loop."""
    created_at: datetime
    """When the run directory was created (UTC)."""
    base_commit: str
    """The main line's commit when the run started."""
    workspace_dirty: bool
    """Whether the human's checkout had uncommitted changes to tracked files when the run started."""


class Proposal(BaseModel):
    """A proposed change: a branch ``ara/<run_id>/<slug>`` in the workspace repository, waiting for a human."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    """Short number used on the command line (``ara review show 12``)."""
    run_id: str
    """The run that produced the change (also in every commit's ``Ara-Run-Id:`` trailer)."""
    step: str
    """The research-loop step that proposed it; ``(run_id, step)`` is the idempotency key of ``propose``."""
    branch: str
    """``ara/<run_id>/<slug>`` (``-r<n>`` appended for revisions)."""
    base_commit: str
    """The main line's commit the proposal was built on."""
    head_commit: str
    """The proposal commit the agent made (the branch tip at proposal time)."""
    summary: str
    """One paragraph written by the agent; the first line is the commit subject."""
    report_path: str | None
    """Workspace-relative path of the report inside the proposal, if any."""
    results: dict[str, KeyNumber]
    """Key numbers for the review list (metric name -> value)."""
    status: ProposalStatus
    """open, approved, rejected or superseded."""
    parent_id: int | None
    """The proposal this one revises, if any."""
    created_at: datetime
    """When the proposal was made (UTC)."""
    decided_at: datetime | None = None
    """When a reviewer approved or rejected it."""
    reviewer: str | None = None
    """``Name <email>`` of the reviewer who decided, if decided."""
    comment: str | None = None
    """The reviewer's comment on the decision (fed back to the agent on rejection)."""
    merge_commit: str | None = None
    """The merge commit on the main line, once approved."""
    pinned_head: str | None = None
    """The head commit a reviewer last looked at (``review show``); approval merges exactly this commit."""

    @property
    def run_prefix(self) -> str:
        """``runs/<run_id>/``: everything outside this prefix is flagged and needs ``--allow-outside``."""
        return f"runs/{self.run_id}/"


def slugify(hint: str, max_len: int = 40) -> str:
    """A branch-safe slug: lowercase ``[a-z0-9-]``, no leading/trailing dashes, at most ``max_len`` characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", hint.casefold()).strip("-")[:max_len].strip("-")
    return slug or "run"


def key_numbers(results: Mapping[str, Any]) -> dict[str, KeyNumber]:
    """Key numbers from a results mapping.

    Accepts either an ``ara.results/1`` document (read through ``tools.results.ResultsDocument``: each metric's
    headline ``mean`` or ``value``, plus ``ci_low``/``ci_high`` where the document has them) or a flat mapping of
    names to scalars (non-scalars are dropped). A document that breaks the convention gives no numbers.
    Non-finite floats become None so the index stays valid JSON.
    """
    out: dict[str, KeyNumber] = {}
    if results.get("schema") == SCHEMA:
        try:
            document = ResultsDocument.model_validate(dict(results))
        except ValidationError:
            return out
        for name, metric in document.metrics.items():
            if metric.model_fields_set & {"mean", "value"}:
                out[name] = _scalar(metric.point)
            for field in ("ci_low", "ci_high"):
                bound = getattr(metric, field)
                if bound is not None:
                    out[f"{name}.{field}"] = _scalar(bound)
        return out
    for name, value in results.items():
        if value is None or isinstance(value, (bool, int, float, str)):
            out[str(name)] = _scalar(value)
    return out


def _scalar(value: Any) -> KeyNumber:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
