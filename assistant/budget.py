"""Per-run budgets: limits (from settings and ``--budget``), usage (kept in graph state) and the check.

Covers parsing ``tokens=N,cells=N,wall=SECONDS,debug=N``, the ``Budget`` record and ``check_budget``, which
raises ``BudgetExceededError`` naming the budget and how to raise it. Limits live in the runtime context (so
``ara resume --budget`` can lift them) and usage lives in graph state (so it survives a resume). Budgets come
only from structure: nothing the model writes can change them. Does not cover dollar prices (the LLM ledger's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.errors import AssistantError, BudgetExceededError

_KEYS = {
    "tokens": "tokens",
    "cells": "cells",
    "wall": "wall_s",
    "debug": "debug_attempts",
    "followups": "followups",
}


class Budget(BaseModel):
    """Limits of one run; ``None`` means unlimited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: int | None = Field(default=None, gt=0)
    """LLM tokens (prompt + completion)."""
    cells: int = Field(default=20, ge=1)
    """Cells executed (debug retries included)."""
    wall_s: float = Field(default=3600.0, gt=0)
    """Wall-clock seconds spent inside nodes (summed across resumes)."""
    debug_attempts: int = Field(default=3, ge=0)
    """Rounds of asking the model to fix a failing cell."""
    followups: int = Field(default=3, ge=0)
    """Follow-up experiments the loop may add when a hypothesis stays open (0 = none)."""

    def with_overrides(self, spec: str | None) -> Budget:
        """A copy with ``tokens=N,cells=N,wall=SECONDS,debug=N,followups=N`` applied.

        Raises:
            AssistantError: an unknown key or a value that is not a positive number.
        """
        if not spec:
            return self
        data: dict[str, Any] = self.model_dump()
        for part in spec.split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in _KEYS:
                raise AssistantError(
                    f"--budget: cannot read {part!r}; use comma-separated key=value with keys "
                    f"{', '.join(_KEYS)} (e.g. tokens=20000,cells=5,wall=600,debug=2).",
                    title="Invalid budget",
                )
            data[_KEYS[key]] = value.strip()
        try:
            return Budget.model_validate(data)
        except ValidationError as err:
            raise AssistantError(
                f"--budget {spec!r}: {err.errors()[0]['loc'][0]} {err.errors()[0]['msg']}; "
                "tokens/cells must be positive integers, wall positive seconds, debug and followups >= 0.",
                title="Invalid budget",
            ) from err


def check_budget(budget: Budget, usage: Mapping[str, Any], *, about_to: str = "continue") -> None:
    """Raise when ``usage`` (graph state keys ``tokens_used``, ``cells_run``, ``wall_used_s``) is at a limit.

    Args:
        budget: The limits.
        usage: Graph state or a mapping with the usage counters.
        about_to: ``"run_cell"`` also refuses when no cell is left.

    Raises:
        BudgetExceededError: names the budget, the usage and the flag that raises it.
    """
    tokens = int(usage.get("tokens_used", 0))
    if budget.tokens is not None and tokens >= budget.tokens:
        raise BudgetExceededError(
            f"token budget exhausted: {tokens} of {budget.tokens} tokens used. Resume with a larger one: "
            "ara resume RUN_ID --budget tokens=N.",
            budget="tokens",
        )
    wall = float(usage.get("wall_used_s", 0.0))
    if wall >= budget.wall_s:
        raise BudgetExceededError(
            f"wall-time budget exhausted: {wall:.1f} s of {budget.wall_s:.0f} s spent in nodes. Resume with "
            "ara resume RUN_ID --budget wall=SECONDS.",
            budget="wall",
        )
    cells = int(usage.get("cells_run", 0))
    if about_to == "run_cell" and cells >= budget.cells:
        raise BudgetExceededError(
            f"cell budget exhausted: {cells} of {budget.cells} cells run. Resume with "
            "ara resume RUN_ID --budget cells=N.",
            budget="cells",
        )


def budget_from_settings(run: Any, token_budget: int | None) -> Budget:
    """The default budget from ``Settings.run`` and ``Settings.llm.token_budget``."""
    return Budget(
        tokens=token_budget,
        cells=run.max_cells,
        wall_s=run.wall_time_s,
        debug_attempts=run.max_debug_attempts,
    )
