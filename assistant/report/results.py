"""The shared results convention (``ara.results/1``): typed records, loading with clear errors, number format.

Covers reading ``results.json``/``config.json`` from a run directory and formatting numbers for reports
(NaN and infinities are written out, never hidden). Does not cover writing results (the research tools do) or
statistics on them (``assistant.report.stats``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assistant.report.errors import ResultsFileError

SCHEMA = "ara.results/1"
METRIC_FIELDS = ("value", "mean", "ci_low", "ci_high", "n", "std")
"""Numeric fields a ``{{ metric:<name>.<field> }}`` placeholder may name (plus ``ci``, the interval text)."""

Cell = str | int | float | bool | None


class Metric(BaseModel):
    """One metric: a single ``value`` or a mean over seeds with a confidence interval."""

    model_config = ConfigDict(extra="allow", frozen=True, ser_json_inf_nan="constants")

    value: float | None = None
    """A single measurement."""
    mean: float | None = None
    """Mean over ``values``."""
    ci_low: float | None = None
    """Lower end of the confidence interval."""
    ci_high: float | None = None
    """Upper end of the confidence interval."""
    n: int | None = None
    """Number of seeds or samples."""
    values: list[float] | None = None
    """Per-seed values (paired by seed across metrics of one run); NaN where a seed's value is undefined."""
    ci: str | None = None
    """How the interval was computed, e.g. ``bootstrap95``."""

    @field_validator("values", mode="before")
    @classmethod
    def _undefined_as_nan(cls, value: Any) -> Any:
        # The writer stores NaN as null (strict JSON has no NaN): e.g. PGR for a seed whose ceiling did not beat
        # its weak supervisor. Read it back as NaN so "undefined" stays a number the statistics skip.
        if isinstance(value, list):
            return [math.nan if v is None else v for v in value]
        return value

    def field(self, name: str) -> float | None:
        """A numeric field by name, extra numeric fields (``std``, ``median``) included; None when absent."""
        raw = getattr(self, name, None) if name in type(self).model_fields else (self.model_extra or {}).get(name)
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            return None
        return float(raw)

    @property
    def point(self) -> float | None:
        """The headline number: ``mean`` if given, else ``value``."""
        return self.mean if self.mean is not None else self.value

    @property
    def has_ci(self) -> bool:
        """True when both interval ends are present."""
        return self.ci_low is not None and self.ci_high is not None


class Table(BaseModel):
    """A table of results: column names and rows of plain cells."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    columns: list[str]
    """Column headers."""
    rows: list[list[Cell]]
    """Rows, each exactly ``len(columns)`` cells."""

    @model_validator(mode="after")
    def _rows_match_columns(self) -> Table:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"row {i} has {len(row)} cells but there are {len(self.columns)} columns")
        return self


class Results(BaseModel):
    """A run's ``results.json`` in the shared ``ara.results/1`` convention."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, ser_json_inf_nan="constants")

    schema_: str = Field(default=SCHEMA, alias="schema")
    """Always ``ara.results/1``."""
    tool: str = ""
    """The research tool that wrote the file, e.g. ``tools.w2s``."""
    title: str = ""
    """A short title of the experiment."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The experiment's configuration."""
    metrics: dict[str, Metric] = Field(default_factory=dict)
    """Metrics by dotted name."""
    tables: dict[str, Table] = Field(default_factory=dict)
    """Tables by name."""
    figures: dict[str, str] = Field(default_factory=dict)
    """Figure name -> path relative to the directory of ``results.json``."""
    provenance: dict[str, Any] = Field(default_factory=dict)
    """Package versions, data hash, seeds, wall time."""

    @model_validator(mode="after")
    def _known_schema(self) -> Results:
        if self.schema_ != SCHEMA:
            raise ValueError(f"schema is {self.schema_!r}; this version of ara reads {SCHEMA!r}")
        return self


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise ResultsFileError(
            f"{path} not found: the run wrote no {what}. Finish or re-run the experiment "
            "(it must write results.json and config.json in its run directory), or check the run id."
        )
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ResultsFileError(
            f"{path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}). "
            f"Fix or regenerate the file; it must follow the {SCHEMA} convention."
        ) from err


def load_results(path: Path) -> Results:
    """Read and validate a ``results.json``.

    Raises:
        ResultsFileError: the file is missing, not JSON, or breaks the convention (each bad field named).
    """
    data = _read_json(path, "results.json")
    if not isinstance(data, dict):
        raise ResultsFileError(f"{path} must hold a JSON object following {SCHEMA}, not {type(data).__name__}.")
    try:
        return Results.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in err.errors())
        raise ResultsFileError(
            f"{path} does not follow {SCHEMA}: {problems}. Fix the tool that wrote it or the file itself."
        ) from err


def load_config(path: Path) -> dict[str, Any]:
    """Read ``config.json`` beside ``results.json``; an absent file gives ``{}``, a malformed one raises."""
    if not path.is_file():
        return {}
    data = _read_json(path, "config.json")
    if not isinstance(data, dict):
        raise ResultsFileError(f"{path} must hold a JSON object, not {type(data).__name__}.")
    return data


def format_number(x: float | int | None) -> str:
    """A number as reports show it: 4 significant digits, ints whole, ``NaN``/``+inf``/``-inf`` spelled out."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4g}"


def is_bad_number(x: float | None) -> bool:
    """True for NaN or an infinity (reports flag these visibly)."""
    return x is not None and (math.isnan(x) or math.isinf(x))
