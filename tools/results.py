"""The one ``ara.results/1`` document: ``ResultsDocument``, its writer and its reader.

Every research tool writes ``results.json`` (beside ``config.json``) through ``write_results``, and every reader
(the report, the research loop, campaigns, review, the TUI) gets a validated ``ResultsDocument`` from
``parse_results``/``read_results``: the schema constant, the record shapes and the error messages live here only.
NaN and infinities are written as JSON null (strict JSON) and read back as NaN inside per-seed ``values``, so an
undefined seed stays a number the statistics skip. A document says who computed its numbers (``Verification``:
scored on the host, or self-reported by the experiment code) and carries the red flags a host scorer raised.
Reading and writing go through ``tools.runfiles`` (no link followed, sizes and counts capped before the document
is built); ``parse_results``/``parse_config`` take bytes a caller already holds. Does not cover rendering or number
formatting (``assistant.report``).
"""

from __future__ import annotations

import json
import logging
import math
import platform
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Required, TypedDict, Unpack

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tools.errors import UserInputError
from tools.runfiles import RunFileError, RunFiles

log = logging.getLogger(__name__)

SCHEMA = "ara.results/1"
"""The results convention every tool writes and every reader checks."""
DEFAULT_PACKAGES = ("numpy", "torch", "scikit-learn", "transformers", "gguf", "matplotlib", "inspect-ai", "pydantic")
"""Packages whose versions ``write_results`` records when the caller names none."""

MAX_RESULTS_BYTES = 8 * 1024 * 1024
"""Largest ``results.json`` read (far above any tool's; a 45 MB file once cost the host 1 GB to parse)."""
MAX_CONFIG_BYTES = 1024 * 1024
"""Largest ``config.json`` read."""
MAX_METRICS = 2000
"""Most metrics a document may hold."""
MAX_TABLES = 200
"""Most tables a document may hold."""
MAX_TABLE_CELLS = 200_000
"""Most cells over all of a document's tables."""
MAX_FIGURES = 200
"""Most figures a document may name."""
SELF_REPORTED = "self-reported by the experiment code, not verified by the host"
"""What a document whose numbers the experiment code computed says about them (``Verification.note``)."""
HOST_SCORED = "scored on the host against data the experiment code never saw"
"""What a host-scored document says about its numbers."""

Cell = str | int | float | bool | None
"""One table cell."""


class ResultsFileError(UserInputError):
    """``results.json`` or ``config.json`` is missing, not JSON, or breaks ``ara.results/1`` (file and field named)."""


class Metric(BaseModel):
    """One metric: a single ``value``, or a mean over seeds or items with a confidence interval."""

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
    """Number of seeds or items."""
    values: list[float] | None = None
    """Per-seed (or per-item) values, paired by position across metrics of one run; NaN where undefined."""
    ci: str | None = None
    """How the interval was computed, e.g. ``bootstrap95``."""
    over: Literal["seeds", "items"] | None = None
    """What ``values`` and the interval are over: one value per seed, or per test item (0/1 outcomes)."""

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


class RedFlag(BaseModel):
    """One reason a host scorer found a result suspect (e.g. the student's predictions equal the ceiling's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    """A stable name for the check, e.g. ``student_equals_ceiling``."""
    detail: str
    """What was seen, with the numbers (which seed, which layer)."""


class Verification(BaseModel):
    """Who computed a document's numbers, and what the host's checks found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scored_by: Literal["host", "experiment"]
    """``host``: a host step scored predictions against data the kernel never saw. ``experiment``: the experiment
    code wrote the numbers itself (free mode, or a recipe without host steps); the host only checked the form."""
    note: str
    """The sentence a reader sees (``HOST_SCORED`` or ``SELF_REPORTED``)."""
    red_flags: list[RedFlag] = Field(default_factory=list)
    """Checks that failed; any makes the result suspect."""

    @property
    def suspect(self) -> bool:
        """True when a red flag was raised."""
        return bool(self.red_flags)

    @classmethod
    def host(cls, red_flags: Iterable[RedFlag] = ()) -> Verification:
        """Scored on the host."""
        return cls(scored_by="host", note=HOST_SCORED, red_flags=list(red_flags))

    @classmethod
    def self_reported(cls, red_flags: Iterable[RedFlag] = ()) -> Verification:
        """Written by the experiment code."""
        return cls(scored_by="experiment", note=SELF_REPORTED, red_flags=list(red_flags))


class ResultsDocument(BaseModel):
    """A run's ``results.json`` in the ``ara.results/1`` convention."""

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
    verification: Verification | None = None
    """Who computed the numbers (host or experiment code) and the host's red flags; None in documents written
    outside the research loop's host steps (a tool run by hand) and in files older than this field."""

    @model_validator(mode="after")
    def _known_schema(self) -> ResultsDocument:
        if self.schema_ != SCHEMA:
            raise ValueError(f"schema is {self.schema_!r}; this version of ara reads {SCHEMA!r}")
        return self

    def headline(self, limit: int = 6) -> dict[str, float]:
        """Up to ``limit`` metrics' headline numbers (mean, else value), finite ones only, in file order."""
        out: dict[str, float] = {}
        for name, metric in self.metrics.items():
            point = metric.point
            if point is not None and math.isfinite(point):
                out[name] = float(point)
            if len(out) >= limit:
                break
        return out

    def to_json(self) -> str:
        """Strict JSON text (NaN and infinities as null) of the fields that were given, as ``write_results`` stores it."""
        data = self.model_dump(mode="python", by_alias=True, exclude_unset=True)
        return json.dumps(clean(data), indent=2, default=str) + "\n"


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Python's version and the installed versions of ``names`` (absent packages are skipped)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def clean(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, recursively (JSON has no NaN)."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def _problems(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in err.errors())


class ResultsFields(TypedDict, total=False):
    """What a tool passes to ``build_results``/``write_results``.

    ``tool`` (dotted name of the producing tool, e.g. ``tools.w2s``), ``title`` (one line), ``config`` (the
    experiment's configuration, also written alone as ``config.json``) and ``metrics`` (``name -> {"value": x}`` or
    ``{"mean", "ci_low", "ci_high", "n", "values", "ci"}``) are required; ``tables`` (``name -> {"columns",
    "rows"}``), ``figures`` (``name -> path relative to the results file``), ``provenance`` (data hash, seeds, wall
    time...), ``packages`` (distributions whose versions go into ``provenance["packages"]``) and ``verification``
    (set by host scorers: who computed the numbers and any red flags) are optional.
    """

    tool: Required[str]
    title: Required[str]
    config: Required[Mapping[str, Any]]
    metrics: Required[Mapping[str, Mapping[str, Any]]]
    tables: Mapping[str, Mapping[str, Any]] | None
    figures: Mapping[str, str] | None
    provenance: Mapping[str, Any] | None
    packages: Iterable[str]
    verification: Verification | None


def build_results(**fields: Unpack[ResultsFields]) -> ResultsDocument:
    """A validated document; ``provenance["packages"]`` is filled from ``packages`` unless given.

    Raises:
        ValueError: a metric, table or figure does not fit the convention (a bug in the calling tool).
    """
    tool = fields["tool"]
    verification = fields.get("verification")
    record = {
        "packages": package_versions(fields.get("packages", DEFAULT_PACKAGES)),
        **(fields.get("provenance") or {}),
    }
    try:
        return ResultsDocument.model_validate(
            clean(
                {
                    "schema": SCHEMA,
                    "tool": tool,
                    "title": fields["title"],
                    "config": dict(fields["config"]),
                    "metrics": dict(fields["metrics"]),
                    "tables": dict(fields.get("tables") or {}),
                    "figures": dict(fields.get("figures") or {}),
                    "provenance": record,
                    **({"verification": verification.model_dump(mode="json")} if verification is not None else {}),
                }
            )
        )
    except ValidationError as err:
        raise ValueError(f"{tool} built results that break {SCHEMA}: {_problems(err)}") from err


def write_results(out_dir: Path, **fields: Unpack[ResultsFields]) -> Path:
    """Write ``config.json`` and ``results.json`` (see ``ResultsFields``) into ``out_dir``; return the results path.

    Both are written by temporary file and rename (``tools.runfiles``): a link planted under either name is
    replaced, never written through.
    """
    document = build_results(**fields)
    return write_document(out_dir, document, fields["config"])


def write_document(out_dir: Path, document: ResultsDocument, config: Mapping[str, Any] | None = None) -> Path:
    """Write ``document`` as ``results.json`` and ``config`` (default: the document's) as ``config.json``.

    Raises:
        RunFileError: a component of ``out_dir``'s files is a link or a directory planted under a file's name.
    """
    with RunFiles(out_dir, create=True) as files:
        text = json.dumps(clean(dict(document.config if config is None else config)), indent=2, default=str)
        files.write_text("config.json", text + "\n")
        path = files.write_text("results.json", document.to_json())
    log.info("wrote %s", path)
    return path


def _json(text: str, source: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ResultsFileError(
            f"{source} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}). "
            f"Fix or regenerate the file; it must follow the {SCHEMA} convention."
        ) from err


def parse_results(data: str | bytes, source: str, *, kernel_written: bool = False) -> ResultsDocument:
    """Validate the text of a ``results.json``; ``source`` names it in errors.

    With ``kernel_written`` (a file experiment code wrote, before the host adopts it) the document must also name
    its schema and hold a measurement (a metric with a number or per-seed values, or a table with a row): a cell
    that writes ``{}`` has measured nothing. Files the host already stored are read without that check, so runs
    stored by older versions stay readable.

    Raises:
        ResultsFileError: not JSON, not an object, or a field that breaks the convention (each bad field named);
            with ``kernel_written``, no ``schema`` field or nothing measured.
    """
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    if len(text) > MAX_RESULTS_BYTES:
        raise ResultsFileError(
            f"{source} is {len(text):,} characters, over the {MAX_RESULTS_BYTES:,} a results file may hold."
        )
    loaded = _json(text, source, "results.json")
    if not isinstance(loaded, dict):
        raise ResultsFileError(f"{source} must hold a JSON object following {SCHEMA}, not {type(loaded).__name__}.")
    if kernel_written and "schema" not in loaded:
        raise ResultsFileError(
            f'{source} has no \'schema\' field. Write the object with "schema": "{SCHEMA}" and at least one '
            'metric, e.g. {"schema": "ara.results/1", "metrics": {"accuracy": {"value": 0.8}}}.'
        )
    _check_counts(loaded, source)
    try:
        document = ResultsDocument.model_validate(loaded)
    except ValidationError as err:
        raise ResultsFileError(
            f"{source} does not follow {SCHEMA}: {_problems(err)}. Fix the tool that wrote it or the file itself."
        ) from err
    measured = any(m.point is not None or m.values for m in document.metrics.values()) or any(
        t.rows for t in document.tables.values()
    )
    if kernel_written and not measured:
        raise ResultsFileError(
            f"{source} measured nothing: no metric has a number and no table has a row. Write at least one "
            'metric with a value, e.g. "metrics": {"accuracy": {"value": 0.8}}.'
        )
    return document


def _check_counts(loaded: dict[str, Any], source: str) -> None:
    """Refuse documents with more metrics, tables, table cells or figures than ``MAX_*`` before building them."""
    tables = loaded.get("tables")
    cells = 0
    if isinstance(tables, dict):
        for table in tables.values():
            rows = table.get("rows") if isinstance(table, dict) else None
            if isinstance(rows, list):
                cells += sum(len(row) if isinstance(row, list) else 1 for row in rows)
    counts = (
        ("metrics", loaded.get("metrics"), MAX_METRICS),
        ("tables", tables, MAX_TABLES),
        ("figures", loaded.get("figures"), MAX_FIGURES),
    )
    for what, value, cap in counts:
        if isinstance(value, dict | list) and len(value) > cap:
            raise ResultsFileError(
                f"{source} has {len(value):,} {what}, more than the {cap:,} a results file may hold; "
                "write fewer (summaries, not raw data)."
            )
    if cells > MAX_TABLE_CELLS:
        raise ResultsFileError(
            f"{source} has {cells:,} table cells, more than the {MAX_TABLE_CELLS:,} a results file may hold; "
            "write fewer rows (summaries, not raw data)."
        )


def _missing(path: Path, what: str) -> ResultsFileError:
    return ResultsFileError(
        f"{path} not found: the run wrote no {what}. Finish or re-run the experiment "
        "(it must write results.json and config.json in its run directory), or check the run id."
    )


def _read(path: Path, limit: int, below: Path | None) -> bytes | None:
    """The bytes of ``path`` through ``tools.runfiles`` (from ``below`` without links when given); None if missing."""
    root, rel = (below, Path(path).relative_to(below)) if below is not None else (path.parent, Path(path.name))
    if not root.is_dir():
        return None
    try:
        with RunFiles(root) as files:
            return files.read_bytes(rel, limit=limit)
    except FileNotFoundError:
        return None
    except RunFileError as err:
        raise ResultsFileError(str(err)) from None


def read_results(path: Path, *, below: Path | None = None, kernel_written: bool = False) -> ResultsDocument:
    """Read and validate the ``results.json`` at ``path`` (see ``parse_results``).

    The file is opened without following links, must be a regular file of at most ``MAX_RESULTS_BYTES``; with
    ``below`` (a directory the host trusts, ``path`` inside it) no component under it may be a link either.

    Raises:
        ResultsFileError: missing, a link or special file, too large, not JSON, or breaks the convention.
    """
    data = _read(path, MAX_RESULTS_BYTES, below)
    if data is None:
        raise _missing(path, "results.json")
    return parse_results(data, str(path), kernel_written=kernel_written)


def parse_config(data: str | bytes, source: str) -> dict[str, Any]:
    """Validate the text of a ``config.json`` (a JSON object).

    Raises:
        ResultsFileError: not JSON or not an object.
    """
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    loaded = _json(text, source, "config.json")
    if not isinstance(loaded, dict):
        raise ResultsFileError(f"{source} must hold a JSON object, not {type(loaded).__name__}.")
    return loaded


def read_config(path: Path, *, below: Path | None = None) -> dict[str, Any]:
    """Read ``config.json`` beside ``results.json`` (as ``read_results``); absent gives ``{}``, malformed raises."""
    data = _read(path, MAX_CONFIG_BYTES, below)
    if data is None:
        return {}
    return parse_config(data, str(path))
