"""The embedded model server: llama-cpp-python's OpenAI-compatible server with the GGUF of ``local_llm.profile``.

Covers starting one server per workspace on 127.0.0.1 with the profile's verified model (``assistant.llm.profiles``)
and thread counts (a file lock makes concurrent ``ara`` processes share one server), health checks, reuse across
commands through a state file (a server started for another profile or file is replaced), and a clean stop. Does
not cover talking to the server (``assistant.llm.client``) or finding and verifying model files
(``tools.research.modelfiles``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict

from assistant.errors import LocalModelError
from assistant.llm.profiles import LocalModel, resolve_profile, threads_for
from assistant.paths import ensure_state_dir
from assistant.settings import LocalLLMSettings

_INSTALL_HINT = "run 'make setup' in the ara checkout"


class ServerInfo(BaseModel):
    """What the state file records about a running server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pid: int
    """Server process id."""
    port: int
    """Port on 127.0.0.1."""
    model_path: str
    """GGUF file served."""
    started_at: float
    """Unix time of start."""
    profile: str = ""
    """``default``, ``tiny`` or ``path`` (empty in state files written before profiles existed)."""
    alias: str = ""
    """Model name the server answers to: profile, file and sha256."""
    sha256: str = ""
    """Hex sha256 of the served file."""
    n_threads: int = 0
    """Generation threads."""
    n_threads_batch: int = 0
    """Prompt-processing threads."""

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL."""
        return f"http://127.0.0.1:{self.port}/v1"


def check_server_installed() -> None:
    """Raise ``LocalModelError`` naming the install step when llama-cpp-python's server cannot be imported."""
    missing = [
        name for name in ("llama_cpp", "fastapi", "uvicorn", "sse_starlette") if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise LocalModelError(
            f"llama-cpp-python's server cannot start: missing module(s) {', '.join(missing)}. {_INSTALL_HINT} "
            "(it installs 'llama-cpp-python[server]==0.3.36', from ../shared/wheels when present, else built from "
            "source in about 10 minutes).",
            title="Local model server not installed",
        )


def free_port() -> int:
    """A port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """True when something already listens on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def healthy(port: int, timeout: float = 1.0) -> bool:
    """True when the server on ``port`` answers ``GET /v1/models``."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


class LocalServer:
    """One embedded model server per workspace, shared by every ``ara`` process on it."""

    def __init__(self, workspace: Path, settings: LocalLLMSettings) -> None:
        self.settings = settings
        self.dir = ensure_state_dir(workspace, "llm")
        self.state_file = self.dir / "server.json"
        self.log_file = self.dir / "server.log"
        self.lock = FileLock(str(self.dir / "server.lock"))

    def read_state(self) -> ServerInfo | None:
        """The recorded server, if the state file exists and parses."""
        try:
            return ServerInfo.model_validate_json(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _alive(self, info: ServerInfo) -> bool:
        """The recorded process lives and is a model server (not another program that took its pid since)."""
        try:
            proc = psutil.Process(info.pid)
            return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE and "llama_cpp.server" in proc.cmdline()
        except psutil.Error:
            return False

    def running(self) -> ServerInfo | None:
        """The recorded server when its process lives and answers, or is busy answering.

        llama-cpp-python's ``/v1/models`` waits for the model lock, so a server in the middle of a long completion
        misses a health check's timeout; a live server whose port takes connections is that, busy, and is kept
        (replacing it would kill another ``ara`` process's call mid-answer).
        """
        info = self.read_state()
        if info is not None and self._alive(info) and (healthy(info.port) or port_in_use(info.port)):
            return info
        return None

    def ensure(self) -> ServerInfo:
        """Return the running server, starting one if needed (one server even when processes race).

        A running server that serves another file or thread count than the settings ask for is replaced.
        """
        model = resolve_profile(self.settings)
        info = self.running()
        if info is not None and self._serves(info, model):
            return info
        try:
            with self.lock.acquire(timeout=self.settings.startup_timeout_s + 30):
                info = self.running()
                if info is not None and self._serves(info, model):
                    return info
                return self._start(model)
        except Timeout as err:
            raise LocalModelError(
                f"another ara process holds {self.lock.lock_file} and the server did not come up; "
                "run 'ara llm stop' and retry.",
                title="Local model server busy",
            ) from err

    def _serves(self, info: ServerInfo, model: LocalModel) -> bool:
        threads, batch = threads_for(self.settings)
        return (info.alias, info.n_threads, info.n_threads_batch) == (model.alias, threads, batch)

    def _start(self, model: LocalModel) -> ServerInfo:
        check_server_installed()
        threads, batch = threads_for(self.settings)
        stale = self.read_state()
        if stale is not None and self._alive(stale):
            self._terminate(stale.pid)
        port = self.settings.port or free_port()
        if self.settings.port and port_in_use(port):
            raise LocalModelError(
                f"port {port} on 127.0.0.1 is taken by another program, so the local model server cannot start; "
                "set ARA_LOCAL_LLM_PORT (or [local_llm] port) to a free port, or unset it to pick one automatically.",
                title="Port taken",
            )
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model.path),
            "--model_alias", model.alias,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--n_threads", str(threads),
            "--n_threads_batch", str(batch),
            "--n_ctx", str(self.settings.n_ctx),
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        info = ServerInfo(
            pid=proc.pid,
            port=port,
            model_path=str(model.path),
            started_at=time.time(),
            profile=model.profile,
            alias=model.alias,
            sha256=model.sha256,
            n_threads=threads,
            n_threads_batch=batch,
        )
        deadline = time.monotonic() + self.settings.startup_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise LocalModelError(
                    f"the local model server exited with code {proc.returncode} while starting; last log lines:\n"
                    f"{self._log_tail()}\nFull log: {self.log_file}",
                    title="Local model server failed",
                )
            if healthy(port, timeout=0.5):
                self.state_file.write_text(info.model_dump_json(), encoding="utf-8")
                return info
            time.sleep(0.2)
        self._terminate(proc.pid)
        raise LocalModelError(
            f"the local model server did not answer on port {port} within {self.settings.startup_timeout_s:.0f} s; "
            f"see {self.log_file}, or raise [local_llm] startup_timeout_s.",
            title="Local model server too slow",
        )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @staticmethod
    def _terminate(pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        try:
            psutil.Process(pid).wait(timeout=5)
        except psutil.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        except psutil.Error:
            return

    def stop(self) -> ServerInfo | None:
        """Stop the recorded server, if any; returns what was stopped."""
        with self.lock.acquire(timeout=30):
            info = self.read_state()
            if info is None:
                return None
            if self._alive(info):
                self._terminate(info.pid)
            self.state_file.unlink(missing_ok=True)
            return info


def describe(info: ServerInfo) -> dict[str, object]:
    """A JSON-able description for ``ara llm status``."""
    return {
        **info.model_dump(),
        "base_url": info.base_url,
        "uptime_s": round(time.time() - info.started_at, 1),
    }


def dumps(info: ServerInfo | None) -> str:
    """JSON text of ``describe`` (or null)."""
    return json.dumps(describe(info) if info else None)
