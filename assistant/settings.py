"""Effective settings: environment (``ARA_*``) > ``<workspace>/ara.toml`` > defaults.

Covers loading, validating and explaining settings (``ara config show``). Nested settings are addressed with a
single underscore after the section name in the environment (``ARA_LLM_BASE_URL`` sets ``llm.base_url``) and as
TOML tables in the file (``[llm] base_url = "..."``). Does not cover CLI flags: commands apply those on top with
``Settings.with_overrides``.
"""

from __future__ import annotations

import json
import os
import typing
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings import SettingsError as EnvParseError

from assistant.errors import SettingsError
from assistant.paths import resolve_workspace
from assistant.tomlfile import TomlDoc, explain_validation, read_toml

Source = Literal["default", "toml", "env", "override"]
_TOML_DATA: ContextVar[dict[str, Any]] = ContextVar("_TOML_DATA", default={})  # noqa: B039


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LLMSettings(_Section):
    """The language-model endpoint. With no ``base_url`` ara starts its embedded model server (``local_llm``)."""

    base_url: str | None = None
    """OpenAI-compatible base URL (``https://api.openai.com/v1``, a vLLM/Ollama/llama.cpp server). None = embedded."""
    model: str = "smollm2-135m-instruct"
    """Model name sent with every request."""
    api_key: SecretStr | None = None
    """API key for ``base_url``; never printed. Falls back to ``OPENAI_API_KEY`` for remote endpoints."""
    timeout_s: float = Field(default=120.0, gt=0)
    """Per-request timeout in seconds."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries with exponential backoff on 429, 5xx, timeouts and connection errors."""
    structured_mode: Literal["auto", "json_schema", "json_object", "tool"] = "auto"
    """How structured output is requested; ``auto`` picks per backend and remembers what worked."""
    structured_retries: int = Field(default=2, ge=0, le=10)
    """How many times a schema-invalid answer is sent back with the validation error before giving up."""
    temperature: float = Field(default=0.2, ge=0, le=2)
    """Sampling temperature."""
    max_tokens: int = Field(default=768, gt=0)
    """Tokens generated per plain call; the smallest cap a structured call starts with."""
    structured_max_tokens: int = Field(default=4096, gt=0)
    """Largest cap of a structured call: each starts at a cap sized to its schema (three plans need far more than a
    brief) and doubles it, up to this, when an answer is cut off."""
    token_budget: int | None = Field(default=None, gt=0)
    """Total tokens (prompt + completion) one run may spend; None = unlimited."""
    price_in_per_mtok: float | None = Field(default=None, ge=0)
    """Dollars per million prompt tokens, where known (for cost reports)."""
    price_out_per_mtok: float | None = Field(default=None, ge=0)
    """Dollars per million completion tokens, where known."""


PROFILES = {"default": "qwen2.5-coder-1.5b-instruct", "tiny": "smollm2-135m-instruct"}
"""Embedded model profiles -> model ids in ``tools.research.modelfiles.MODELS``."""


class LocalLLMSettings(_Section):
    """The embedded llama-cpp-python server used when ``llm.base_url`` is unset."""

    profile: str = "default"
    """``default`` (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, 1.1 GB: writes cells), ``tiny`` (SmolLM2-135M-Instruct:
    fast tests and small machines; recipe mode only) or a path to a ``.gguf`` file."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """Port on 127.0.0.1; None = a free port chosen at start."""
    n_threads: int | None = Field(default=None, ge=1)
    """Threads for generation; None = the profile's measured default (1: see docs/benchmarks.md)."""
    n_threads_batch: int | None = Field(default=None, ge=1)
    """Threads for prompt processing; None = the profile's measured default."""
    n_ctx: int = Field(default=8192, ge=512)
    """Context window in tokens."""
    startup_timeout_s: float = Field(default=120.0, gt=0)
    """How long to wait for the server's health check."""
    timeout_s: float = Field(default=900.0, gt=0)
    """Per-request timeout for the embedded model (a CPU decoding a 2,000-token plan under load needs minutes)."""

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value in PROFILES or value.endswith(".gguf") or "/" in value:
            return value
        raise ValueError(
            f"profile {value!r} does not exist; use 'default' (Qwen2.5-Coder-1.5B-Instruct), 'tiny' "
            "(SmolLM2-135M-Instruct) or a path to a .gguf file"
        )


class KernelSettings(_Section):
    """Sandboxed Jupyter kernels (``tools.kernel``)."""

    isolation: Literal["bwrap", "rlimits-only"] = "bwrap"
    """``bwrap`` = namespaces + seccomp + rlimits + dropped privileges; ``rlimits-only`` is unsafe and warns."""
    pool_size: int = Field(default=1, ge=0, le=32)
    """Warm sandboxed kernels kept ready."""
    memory_mb: int = Field(default=3072, ge=128)
    """Address-space limit per kernel (and cgroup memory limit where a cgroup is writable)."""
    cpu_seconds: int = Field(default=1800, ge=1)
    """CPU-time limit per kernel."""
    max_processes: int = Field(default=64, ge=4)
    """Process/thread count limit for the sandbox user."""
    file_size_mb: int = Field(default=512, ge=1)
    """Largest file a kernel may write."""
    disk_quota_mb: int = Field(default=2048, ge=1)
    """Total disk a kernel may fill in its run directory; a host watchdog stops the kernel past it."""
    open_files: int = Field(default=256, ge=32)
    """Open file descriptors per kernel."""
    tmp_size_mb: int = Field(default=256, ge=1)
    """Size of the kernel's private /tmp (tmpfs sits outside the address-space limit, so it is capped)."""
    cell_timeout_s: float = Field(default=300.0, gt=0)
    """Default wall-clock limit for one cell."""
    output_cap_bytes: int = Field(default=1_000_000, ge=1024)
    """Stream output kept per cell; the rest is cut with an explicit marker."""
    sandbox_uid: int = Field(default=65534, ge=1)
    """Unprivileged uid the kernel runs as (``nobody``)."""
    gateway_url: str | None = None
    """A Jupyter Kernel/Enterprise Gateway base URL for remote kernels; None = local sandboxed kernels."""
    gateway_token: SecretStr | None = None
    """Token for ``gateway_url``; never printed."""
    readonly_paths: list[Path] = Field(default_factory=list)
    """Extra host paths (datasets, model files) bound read-only into each sandbox at the same path."""


class PapersSettings(_Section):
    """The paper library (``tools.papers``)."""

    embedding_batch_size: int = Field(default=64, ge=1)
    """Texts embedded per batch."""
    chunk_tokens: int = Field(default=220, ge=32)
    """Target chunk length in word-piece tokens (MiniLM truncates at 256)."""
    top_k: int = Field(default=10, ge=1)
    """Default number of hits."""
    arxiv_index: Path | None = None
    """arXiv id -> title index checked on import (a paper whose id it knows under another title is flagged);
    None = ``corpus/arxiv_id_title_index.json`` in the shared data folder (``$ARA_SHARED`` or ``../shared``)
    when that file exists."""


class RunSettings(_Section):
    """Per-run budgets for the research loop."""

    wall_time_s: float = Field(default=3600.0, gt=0)
    """Wall-clock budget of one run."""
    max_cells: int = Field(default=20, ge=1)
    """Cells one run may execute."""
    max_debug_attempts: int = Field(default=3, ge=0)
    """Debug rounds after a failing cell."""
    code_mode: Literal["auto", "recipe", "free"] = "auto"
    """``recipe`` (model fills a typed config) or ``free`` (model writes cells, beside the tool's recipe); ``auto`` =
    recipe for every model (``assistant.graph.session.code_mode_for`` says why)."""
    report_draft: Literal["auto", "analysis", "model"] = "auto"
    """Who writes the report's prose: ``model`` (a ReportDraft with placeholders; kept only if it passes the report
    checks, else the analysis draft is used and the report says so) or ``analysis`` (assembled from the model's
    typed analysis); ``auto`` = analysis for the embedded model, model for any other endpoint."""


class DatabaseSettings(_Section):
    """Where campaigns coordinate. No ``url`` = the embedded SQLite files under ``<workspace>/.ara`` (one machine)."""

    url: SecretStr | None = None
    """``postgresql://user:password@host:5432/db``: the campaign queue, schedules, workers and run checkpoints
    live in that PostgreSQL database, so workers on several machines share them (``ARA_DATABASE_URL``);
    never printed."""


class CampaignSettings(_Section):
    """Campaign workers."""

    review_remote: str | None = None
    """A git URL or path (a bare repository, any git server) every worker pushes each proposal branch to
    (``ARA_CAMPAIGN_REVIEW_REMOTE``); None = proposals stay in the workspace the worker runs in."""


class _TomlDictSource(PydanticBaseSettingsSource):
    """Feeds the already-parsed ``ara.toml`` into pydantic-settings at its place in the priority order."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return _TOML_DATA.get().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_TOML_DATA.get())


class SubjectSettings(_Section):
    """The subject model experiment code may call from its kernel, through the host's model proxy.

    Chosen here, never by the research loop's model: kernels reach only ``model`` (which must be on
    ``allowed_models``), and the key stays on the host (``assistant.subject``).
    """

    enabled: bool = True
    """Start a model proxy for each run's kernel (False: kernels have no model endpoint)."""
    model: str = "embedded"
    """The subject model: ``embedded`` (the local llama.cpp server of ``[local_llm]``) or a name served by
    ``base_url``; kernel code sends this name."""
    allowed_models: list[str] = Field(default_factory=lambda: ["embedded"])
    """Models a kernel may be given; ``model`` must be one of them."""
    base_url: str | None = None
    """OpenAI-compatible endpoint of a non-embedded subject model."""
    api_key: SecretStr | None = None
    """Key for ``base_url``; added by the host's proxy, never passed into a sandbox."""
    max_tokens: int = Field(default=512, ge=1, le=32768)
    """Tokens one request may generate (a larger ``max_tokens`` is clamped)."""
    max_body_kb: int = Field(default=256, ge=1, le=16384)
    """Largest request body a kernel may send."""
    calls_per_s: float = Field(default=10.0, gt=0)
    """Sustained request rate per run."""
    timeout_s: float = Field(default=300.0, gt=0)
    """Per-request timeout upstream."""


class Settings(BaseSettings):
    """All of ara's settings. Build with ``load_settings``; never read settings from module globals."""

    model_config = SettingsConfigDict(
        env_prefix="ARA_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        validate_assignment=True,
    )

    workspace: Path = Field(default_factory=resolve_workspace)
    """The research workspace (a git repository of its own)."""
    llm: LLMSettings = Field(default_factory=LLMSettings)
    local_llm: LocalLLMSettings = Field(default_factory=LocalLLMSettings)
    kernel: KernelSettings = Field(default_factory=KernelSettings)
    papers: PapersSettings = Field(default_factory=PapersSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    subject: SubjectSettings = Field(default_factory=SubjectSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    campaign: CampaignSettings = Field(default_factory=CampaignSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlDictSource(settings_cls))

    @property
    def uses_embedded_llm(self) -> bool:
        """True when no endpoint is configured and the embedded local server is used."""
        return self.llm.base_url is None

    def with_overrides(self, **dotted: Any) -> Settings:
        """A copy with CLI overrides applied, e.g. ``with_overrides(**{"llm.model": "gpt-4o"})``."""
        data = self.model_dump()
        for key, value in dotted.items():
            node = data
            *parents, leaf = key.split(".")
            for part in parents:
                node = node[part]
            node[leaf] = value
        token = _TOML_DATA.set({})
        try:
            return Settings.model_validate(data)
        finally:
            _TOML_DATA.reset(token)


def settings_path(workspace: Path) -> Path:
    """``<workspace>/ara.toml``."""
    return workspace / "ara.toml"


def _read_toml(path: Path) -> TomlDoc:
    doc = read_toml(
        path, error=SettingsError, what="settings file", fix="Fix that line (see 'ara config show' for the keys)."
    )
    if "workspace" in doc.data:
        raise SettingsError(
            f"{path}: 'workspace' cannot be set inside the workspace's own ara.toml; "
            "use --workspace or ARA_WORKSPACE instead.",
            title="Unknown setting",
        )
    return doc


def load_settings(workspace: str | os.PathLike[str] | None = None, **init: Any) -> Settings:
    """Load settings for ``workspace`` (resolved as ``--workspace`` > ``ARA_WORKSPACE`` > default).

    Raises:
        SettingsError: malformed TOML (with line), an unknown key, or an invalid value (key and source named).
    """
    ws = resolve_workspace(workspace)
    doc = _read_toml(settings_path(ws))
    _check_json_env()
    token = _TOML_DATA.set(doc.data)
    try:
        return Settings(workspace=ws, **init)
    except EnvParseError as err:
        raise SettingsError(
            f"invalid settings: an ARA_* environment variable could not be parsed ({err}: {err.__cause__}). "
            "Lists and tables are given as JSON there; fix or unset the variable ('ara config show' lists the keys).",
            title="Invalid settings",
        ) from err
    except ValidationError as err:
        detail = explain_validation(
            err, doc, unknown_hint="valid keys are listed by 'ara config show'", elsewhere="environment (ARA_*)"
        )
        raise SettingsError(f"invalid settings: {detail}", title="Invalid settings") from err
    finally:
        _TOML_DATA.reset(token)


_JSON_EXAMPLES = {"kernel.readonly_paths": '\'["/data/models", "/data/datasets"]\''}


def _is_json_setting(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    return origin in (list, tuple, set, dict) or (isinstance(origin, type) and issubclass(origin, BaseModel))


def _json_env_names() -> dict[str, str]:
    """``ARA_*`` name -> dotted setting, for every setting the environment gives as JSON (sections, lists)."""
    names: dict[str, str] = {}
    for section, info in Settings.model_fields.items():
        model = info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        names[f"ARA_{section.upper()}"] = section
        for key, sub in model.model_fields.items():
            if _is_json_setting(sub.annotation):
                names[f"ARA_{section.upper()}_{key.upper()}"] = f"{section}.{key}"
    return names


def _check_json_env() -> None:
    """Refuse an ``ARA_*`` variable that must hold JSON but does not, naming it and showing the right form.

    Raises:
        SettingsError: the variable, what is wrong with its value, and an example.
    """
    wanted = _json_env_names()
    for name, raw in os.environ.items():
        key = wanted.get(name.upper())
        if key is None:
            continue
        try:
            json.loads(raw)
        except ValueError as err:
            shown = raw if len(raw) <= 80 else raw[:77] + "..."
            example = _JSON_EXAMPLES.get(key, "'[...]'" if "." in key else '\'{"key": "value"}\'')
            raise SettingsError(
                f"{name}={shown!r} is not valid JSON ({err}). {name} sets '{key}', which the environment gives as "
                f"JSON, e.g. {name}={example}. Fix the value or unset {name}.",
                title="Invalid settings",
            ) from err


SECRET_MASK = "********"


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _flatten(f"{prefix}.{name}" if prefix else name, getattr(value, name), out)
    else:
        out[prefix] = value


def _env_keys() -> set[str]:
    return {k.upper() for k in os.environ if k.upper().startswith("ARA_")}


def explain_settings(settings: Settings) -> list[tuple[str, str, Source]]:
    """Each effective setting as ``(dotted key, printable value, source)``; secrets are masked."""
    flat: dict[str, Any] = {}
    _flatten("", settings, flat)
    toml_data = _read_toml(settings_path(settings.workspace)).data
    env = _env_keys()
    rows: list[tuple[str, str, Source]] = []
    for key, value in flat.items():
        parts = key.split(".")
        env_name = "ARA_" + "_".join(parts).upper()
        source: Source = "default"
        if env_name in env:
            source = "env"
        else:
            node: Any = toml_data
            for part in parts:
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                source = "toml"
        if isinstance(value, SecretStr):
            shown = SECRET_MASK if value.get_secret_value() else "(empty)"
        else:
            shown = "(unset)" if value is None else str(value)
        rows.append((key, shown, source))
    return rows
