"""Choosing the chat model by name: built-in and user aliases, resolved to settings to connect with.

Covers the built-in aliases (``default`` and ``tiny``: the embedded model's profiles, where this build has
profiles; ``embedded``: the embedded model as configured), the user's aliases in ``<workspace>/.ara/aliases.toml``
(``name = "target"``; a target is ``embedded``, ``embedded:<profile>`` or a model name sent to the configured
endpoint), and ``choose_model``: a name -> the settings ``connect_llm`` needs. Any other name is sent to the
configured endpoint as its model name. Does not cover connecting (``assistant.llm.connect``).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from assistant.errors import AssistantError
from assistant.paths import state_dir
from assistant.settings import LocalLLMSettings, Settings
from assistant.tomlfile import read_toml

BUILTIN_ALIASES = {
    "default": "embedded:default",
    "tiny": "embedded:tiny",
    "embedded": "embedded",
}
"""Aliases every workspace has; a user alias of the same name replaces one."""


class ModelError(AssistantError):
    """A model name or alias cannot be used (unknown, or needs an endpoint that is not configured)."""


class ModelChoice(NamedTuple):
    """A resolved model name."""

    name: str
    """The name asked for."""
    target: str
    """What it resolved to: ``embedded``, ``embedded:<profile>`` or an endpoint model name."""
    settings: Settings
    """Settings that connect to it."""


def aliases_path(workspace: Path) -> Path:
    """``<workspace>/.ara/aliases.toml``."""
    return state_dir(workspace) / "aliases.toml"


def load_aliases(workspace: Path) -> dict[str, str]:
    """Built-in aliases updated with the workspace's ``aliases.toml``.

    Raises:
        ModelError: the file is not TOML, or an alias is not a string (file and line named).
    """
    aliases = dict(BUILTIN_ALIASES)
    path = aliases_path(workspace)
    if not path.is_file():
        return aliases
    doc = read_toml(path, error=ModelError, what="aliases file", fix='Write one alias per line: name = "model".')
    for name, target in doc.data.items():
        if not isinstance(target, str) or not target.strip():
            line = doc.line_of((name,))
            raise ModelError(
                f"{path}{f' line {line}' if line else ''}: alias {name!r} must be a model name in quotes "
                f'(e.g. {name} = "gpt-4o-mini" or {name} = "embedded:tiny")',
                title="Bad model alias",
            )
        aliases[name] = target.strip()
    return aliases


def has_profiles() -> bool:
    """Whether this build's embedded server has named profiles (``local_llm.profile``)."""
    return "profile" in LocalLLMSettings.model_fields


def choose_model(settings: Settings, name: str | None) -> ModelChoice:
    """Settings for model ``name`` (an alias or an endpoint model name); ``settings`` as they are when None.

    Raises:
        ModelError: the name needs an endpoint and none is configured.
    """
    if name is None:
        target = "embedded" if settings.uses_embedded_llm else settings.llm.model
        return ModelChoice("(settings)", target, settings)
    aliases = load_aliases(settings.workspace)
    target = aliases.get(name, name)
    if target == "embedded" or target.startswith("embedded:"):
        profile = target.partition(":")[2]
        overrides: dict[str, object] = {"llm.base_url": None}
        if profile and has_profiles():
            overrides["local_llm.profile"] = profile
        return ModelChoice(name, target, settings.with_overrides(**overrides))
    if settings.uses_embedded_llm:
        known = ", ".join(sorted(aliases))
        raise ModelError(
            f"model {name!r}{f' (alias of {target!r})' if target != name else ''} is served by an endpoint, and none "
            f"is configured: set ARA_LLM_BASE_URL (or [llm] base_url in ara.toml), or pick an alias: {known} "
            f"(yours go in {aliases_path(settings.workspace)})",
            title="No endpoint for this model",
        )
    return ModelChoice(name, target, settings.with_overrides(**{"llm.model": target}))
