"""A throwaway PostgreSQL server for tests: Debian's binaries, a temporary data directory, a free loopback port.

``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user (``runuser``) with the data
directory handed to it. Password authentication (scram-sha-256) is on, so wrong-password errors are real.
``find_binaries`` returns None where the binaries are absent (the fixtures then skip, saying so).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

USER = "ara"
PASSWORD = "s3cret-ara-pw"


def find_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (PATH first, then Debian's versioned folders)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running server; ``url`` builds connection URLs."""

    bindir: Path
    datadir: Path
    port: int
    run_as: list[str]

    def url(self, database: str = "postgres", *, password: str = PASSWORD, port: int | None = None) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{port or self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"],
            capture_output=True, check=False, timeout=60,
        )  # fmt: skip
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_server(bindir: Path, *, fsync: bool = False) -> PgServer:
    """initdb + pg_ctl start in a fresh temporary folder; raises ``RuntimeError`` with the server's log on failure.

    ``fsync`` off (the tests' default) trades crash safety of the throwaway server for speed; benchmarks turn it on.
    """
    root = Path(tempfile.mkdtemp(prefix="ara-pg-"))
    datadir = root / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n", encoding="utf-8")
    if run_as:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    init = subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(datadir), "-U", USER, f"--pwfile={pwfile}",
         "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr[-2000:]}")
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c fsync={'on' if fsync else 'off'}"
    start = subprocess.run(
        [*run_as, str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(root / "server.log"), "-o", options,
         "-w", "-t", "60", "start"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    if start.returncode != 0:
        log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {start.stderr[-2000:]} {log[-2000:]}")
    return PgServer(bindir=bindir, datadir=datadir, port=port, run_as=run_as)
