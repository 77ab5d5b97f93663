"""Test-wide fixtures: no API keys, no network beyond loopback, a private workspace per test, shared data.

The shared data (``../shared`` beside the checkout, or ``ARA_SHARED``) is reached only through the ``shared_dir``
fixture, which skips with a clear reason where it is absent; CI always has it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from assistant.paths import PROJECT_ROOT

_SECRET_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ARA_LLM_API_KEY", "ARA_KERNEL_GATEWAY_TOKEN")


def _loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):
        return True  # AF_UNIX path
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NetworkBlockedError(RuntimeError):
    """A test tried to reach a non-loopback address."""


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Remove API keys and ARA_* settings, give each test its own workspace, review-audit key (never the user's
    ``~/.config/ara/audit.key``) and the ``tiny`` embedded model, and block non-loopback network."""
    for name in list(os.environ):
        if name in _SECRET_VARS or (name.startswith("ARA_") and name != "ARA_SHARED"):
            monkeypatch.delenv(name, raising=False)
    workspace = tmp_path / "workspace"
    monkeypatch.setenv("ARA_WORKSPACE", str(workspace))
    monkeypatch.setenv("ARA_AUDIT_KEY_FILE", str(tmp_path / "user-config" / "ara" / "audit.key"))
    monkeypatch.setenv("ARA_LOCAL_LLM_PROFILE", "tiny")  # fast tests; the default profile is asked for by name
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if not _loopback(address):
            raise NetworkBlockedError(f"test tried to reach {address!r}; only loopback is allowed in tests")
        return real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> Any:
        if not _loopback(address):
            raise NetworkBlockedError(f"test tried to reach {address!r}; only loopback is allowed in tests")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` (or ``$ARA_SHARED``), resolved: real corpus and datasets. Skips where absent.

    Resolved because ``../shared`` may be a symlink and the tools record resolved paths in their provenance.
    """
    candidate = Path(os.environ.get("ARA_SHARED", PROJECT_ROOT.parent / "shared"))
    if not (candidate / "corpus").is_dir():
        pytest.skip(f"shared data not found at {candidate} (set ARA_SHARED); CI always has it")
    return candidate.resolve()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (LangGraph, jupyter-client and Textual all use it)."""
    return "asyncio"
