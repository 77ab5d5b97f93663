"""Settings precedence, error messages for bad files and values, and ``ara config show``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.errors import SettingsError
from assistant.settings import SECRET_MASK, explain_settings, load_settings


def write_toml(workspace: Path, text: str) -> None:
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "ara.toml").write_text(text, encoding="utf-8")


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARA_LOCAL_LLM_PROFILE")  # the test environment picks the tiny model
    settings = load_settings(tmp_path / "ws")
    assert settings.workspace == (tmp_path / "ws").resolve()
    assert settings.llm.base_url is None
    assert settings.uses_embedded_llm is True
    assert settings.local_llm.profile == "default"
    assert (settings.local_llm.n_threads, settings.local_llm.n_threads_batch) == (None, None)


def test_env_beats_toml_beats_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "ws"
    write_toml(ws, '[llm]\nmodel = "from-toml"\ntemperature = 0.7\n[kernel]\npool_size = 3\n')
    monkeypatch.setenv("ARA_LLM_MODEL", "from-env")
    settings = load_settings(ws)
    assert settings.llm.model == "from-env"
    assert settings.llm.temperature == 0.7
    assert settings.kernel.pool_size == 3
    assert settings.kernel.memory_mb == 3072
    sources = {key: source for key, _, source in explain_settings(settings)}
    assert sources["llm.model"] == "env"
    assert sources["llm.temperature"] == "toml"
    assert sources["kernel.memory_mb"] == "default"


def test_env_with_single_underscore_sets_nested_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARA_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ARA_LOCAL_LLM_N_CTX", "2048")
    settings = load_settings(tmp_path)
    assert settings.llm.base_url == "http://127.0.0.1:9/v1"
    assert settings.local_llm.n_ctx == 2048


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    write_toml(tmp_path, '[llm]\nmodel = "ok"\ntemperature = = 3\n')
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path)
    assert str(tmp_path / "ara.toml") in str(err.value)
    assert "line 3" in str(err.value)


def test_unknown_key_is_named_with_its_line(tmp_path: Path) -> None:
    write_toml(tmp_path, '[llm]\nmodel = "ok"\n\n[kernel]\nmemroy_mb = 100\n')
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path)
    message = str(err.value)
    assert "unknown setting 'kernel.memroy_mb'" in message
    assert f"{tmp_path / 'ara.toml'}:5" in message


def test_unknown_section_is_rejected(tmp_path: Path) -> None:
    write_toml(tmp_path, "[lmm]\nmodel = 1\n")
    with pytest.raises(SettingsError, match=r"unknown setting 'lmm'"):
        load_settings(tmp_path)


def test_invalid_value_names_key_and_input(tmp_path: Path) -> None:
    write_toml(tmp_path, "[kernel]\npool_size = -4\n")
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path)
    assert "'kernel.pool_size'" in str(err.value)
    assert "-4" in str(err.value)
    assert ":2" in str(err.value)


def test_invalid_env_value_blames_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARA_KERNEL_POOL_SIZE", "many")
    with pytest.raises(SettingsError, match=r"'kernel.pool_size' \(environment \(ARA_\*\)\)"):
        load_settings(tmp_path)


def test_workspace_key_in_file_is_refused(tmp_path: Path) -> None:
    write_toml(tmp_path, 'workspace = "/elsewhere"\n')
    with pytest.raises(SettingsError, match="cannot be set inside the workspace"):
        load_settings(tmp_path)


def test_config_show_masks_secrets_and_shows_sources(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write_toml(ws, '[llm]\napi_key = "sk-toml-secret-123"\n')
    result = CliRunner().invoke(
        cli,
        ["--workspace", str(ws), "config", "show", "--json"],
        env={"ARA_KERNEL_GATEWAY_TOKEN": "tok-secret-9"},
    )
    assert result.exit_code == 0, result.output
    assert "sk-toml-secret-123" not in result.output
    assert "tok-secret-9" not in result.output
    import json

    rows = {row["key"]: row for row in json.loads(result.output)}
    assert rows["llm.api_key"] == {"key": "llm.api_key", "value": SECRET_MASK, "source": "toml"}
    assert rows["kernel.gateway_token"] == {
        "key": "kernel.gateway_token",
        "value": SECRET_MASK,
        "source": "env",
    }
    assert rows["llm.model"]["source"] == "default"


def test_with_overrides_validates(tmp_path: Path) -> None:
    settings = load_settings(tmp_path).with_overrides(**{"run.max_cells": 5, "llm.model": "gpt-x"})
    assert settings.run.max_cells == 5
    assert settings.llm.model == "gpt-x"
