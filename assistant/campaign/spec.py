"""The campaign file (TOML): entries, the plan-approval policy, budgets, retries, concurrency and a deadline.

Example::

    name = "w2s-overnight"
    concurrency = 2
    deadline = "07:00"             # next 07:00 local time, or an ISO datetime

    [budgets]
    wall_time_s = 28800
    tokens = 2_000_000
    dollars = 5.0
    kernel_hours = 6

    [policy]                       # which plans may run without a human
    allowed_recipes = ["w2s", "probes"]
    max_cells = 12
    max_tokens_per_run = 200_000
    max_memory_mb = 4096

    [[entries]]
    id = "aux-conf-gap"
    question = "Does the auxiliary confidence loss raise PGR for larger weak-strong gaps?"

    [[entries]]
    id = "sweep-1"
    recipe = "w2s"
    config = { dataset = "rotten_tomatoes", seeds = 10 }

Covers parsing and validation with file/line/key in every error. Does not run anything.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assistant.errors import AssistantError
from assistant.tomlfile import explain_validation, read_toml

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CampaignFileError(AssistantError):
    """The campaign file is malformed or invalid."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CampaignBudgets(_Record):
    """Limits for the whole campaign; omit a key for no limit. Zero is refused (it would run nothing)."""

    wall_time_s: float | None = Field(default=None, gt=0)
    """Wall-clock time from the first start (resumes included)."""
    tokens: int | None = Field(default=None, gt=0)
    """LLM tokens over all entries."""
    dollars: float | None = Field(default=None, gt=0)
    """Money over all entries, where the endpoint's price is configured."""
    kernel_hours: float | None = Field(default=None, gt=0)
    """Sum of kernel wall time over all entries."""


class ApprovalPolicy(_Record):
    """Which experiment plans the campaign approves without a human. Anything else waits for one."""

    allowed_recipes: list[str] = Field(default_factory=list)
    """Recipe names (``ara run`` recipes, e.g. ``w2s``) a plan may use unattended. Empty = every plan waits."""
    max_cells: int = Field(default=20, gt=0)
    """Plans asking for more cells wait for a human."""
    max_tokens_per_run: int | None = Field(default=None, gt=0)
    """Token budget given to each run."""
    max_memory_mb: int | None = Field(default=None, gt=0)
    """Kernel memory a plan may ask for unattended."""
    max_wall_time_s: float | None = Field(default=None, gt=0)
    """Wall-clock budget of each run."""

    def allows(self, recipe: str | None, cells: int = 1, memory_mb: int | None = None) -> tuple[bool, str]:
        """Whether a plan may run unattended, and why not."""
        if recipe is None:
            return False, "free-form code always needs a human approval in unattended mode"
        if recipe not in self.allowed_recipes:
            allowed = ", ".join(self.allowed_recipes) or "none"
            return False, f"recipe '{recipe}' is not in the policy's allowed_recipes ({allowed})"
        if cells > self.max_cells:
            return False, f"the plan asks for {cells} cells, above the policy's max_cells {self.max_cells}"
        if memory_mb is not None and self.max_memory_mb is not None and memory_mb > self.max_memory_mb:
            return False, f"the plan asks for {memory_mb} MB, above the policy's max_memory_mb {self.max_memory_mb}"
        return True, "allowed by policy"


class RetryPolicy(_Record):
    """Retries of one entry after a transient fault (LLM 429/5xx/unreachable, kernel death)."""

    max_attempts: int = Field(default=4, ge=1, le=50)
    """Attempts in all, the first included."""
    backoff_s: float = Field(default=30.0, ge=0)
    """First wait; doubles after each failure."""
    max_backoff_s: float = Field(default=600.0, ge=0)
    """Longest single wait (an endpoint down for ten minutes is ridden out with the defaults)."""

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_backoff_s, self.backoff_s * (2 ** max(0, attempt - 1))))


class CampaignEntry(_Record):
    """One unit of work: a question for the research loop, or an explicit experiment plan (recipe + config)."""

    id: str
    """Stable id, unique in the file (letters, digits, ``_.-``)."""
    question: str | None = None
    """A research question, run through the whole loop."""
    recipe: str | None = None
    """For an explicit plan: the recipe name."""
    config: dict[str, Any] = Field(default_factory=dict)
    """For an explicit plan: the recipe's config."""
    budget_tokens: int | None = Field(default=None, gt=0)
    """Overrides the policy's per-run token budget."""

    @field_validator("id")
    @classmethod
    def _id_form(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> CampaignEntry:
        if (self.question is None) == (self.recipe is None):
            raise ValueError("give exactly one of 'question' or 'recipe' (with 'config')")
        if self.question is not None and not self.question.strip():
            raise ValueError("'question' is empty")
        if self.question is None and self.config == {} and self.recipe is None:
            raise ValueError("an explicit plan needs 'recipe' and 'config'")
        return self

    @property
    def kind(self) -> Literal["question", "plan"]:
        """``question`` or ``plan``."""
        return "question" if self.question is not None else "plan"


class CampaignSpec(_Record):
    """A whole campaign file."""

    name: str
    """Human name, also used in branch slugs."""
    concurrency: int = Field(default=1, ge=1, le=16)
    """Runs at once on the kernel pool."""
    deadline: datetime | None = None
    """No entry starts after this moment; running ones are stopped cleanly and resumable."""
    budgets: CampaignBudgets = Field(default_factory=CampaignBudgets)
    policy: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    heartbeat_s: float = Field(default=10.0, gt=0, le=600)
    """How often the runner refreshes the heartbeat of its entries that are making progress; three missed beats
    make an entry claimable again."""
    stall_s: float = Field(default=3600.0, gt=0)
    """An entry whose run writes no run-log event for this long is failed and no longer counts as alive. Keep it
    above the run's own stall limit (30 minutes plus the cell timeout by default), which ends a stuck step first."""
    entries: list[CampaignEntry] = Field(min_length=1)

    @field_validator("entries")
    @classmethod
    def _unique_ids(cls, entries: list[CampaignEntry]) -> list[CampaignEntry]:
        seen: set[str] = set()
        for entry in entries:
            if entry.id in seen:
                raise ValueError(f"entry id '{entry.id}' appears twice; ids must be unique")
            seen.add(entry.id)
        return entries


def parse_deadline(value: Any, now: datetime) -> Any:
    """``"07:00"`` means the next 07:00 after ``now`` (local time); ISO datetimes are taken as given."""
    if isinstance(value, time):
        value = value.strftime("%H:%M")
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        hour, minute = (int(x) for x in value.strip().split(":"))
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError(f"'{value}' is not a time of day (HH:MM)")
        candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return candidate if candidate > now else candidate + timedelta(days=1)
    return value


def load_campaign(path: Path, *, now: datetime | None = None, until: str | None = None) -> CampaignSpec:
    """Read and validate a campaign file; ``until`` (``--until``) overrides its deadline.

    Raises:
        CampaignFileError: missing file, bad TOML, unknown key, bad value, or a deadline in the past; the
            message names the file, the line and the key.
    """
    now = now or datetime.now().astimezone()
    if not path.is_file():
        raise CampaignFileError(f"campaign file {path} does not exist; pass the path of a .toml campaign file.")
    doc = read_toml(path, error=CampaignFileError, what="campaign file", fix="Fix that line and run again.")
    data = dict(doc.data)
    if until is not None:
        data["deadline"] = until
    try:
        if "deadline" in data:
            data["deadline"] = parse_deadline(data["deadline"], now)
        spec = CampaignSpec.model_validate(data)
    except ValueError as err:
        if isinstance(err, ValidationError):
            detail = explain_validation(
                err, doc, unknown_hint="see the example in 'ara campaign --help'", elsewhere=str(path)
            )
        else:
            detail = f"'deadline' ({path}): {err}"
        raise CampaignFileError(f"invalid campaign file: {detail}", title="Invalid campaign file") from err
    if spec.deadline is not None:
        deadline = spec.deadline if spec.deadline.tzinfo else spec.deadline.astimezone()
        if deadline <= now:
            raise CampaignFileError(
                f"{path}: the deadline {deadline.isoformat(timespec='minutes')} is in the past (now "
                f"{now.isoformat(timespec='minutes')}); set a later 'deadline' or pass --until HH:MM.",
                title="Deadline in the past",
            )
        spec = spec.model_copy(update={"deadline": deadline})
    return spec
