"""Campaign fixtures: a campaign file writer, a real PostgreSQL server, and the backend parameter (SQLite/PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ulid import ULID

from tests.campaign.pgserver import PgServer, find_binaries, start_server


@pytest.fixture
def campaign_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a campaign TOML with ``n`` question entries (extra top-level TOML appended verbatim)."""

    def make(n: int = 3, extra: str = "", name: str = "night", concurrency: int = 2) -> Path:
        path = tmp_path / f"{name}.toml"
        entries = "".join(f'\n[[entries]]\nid = "e{i}"\nquestion = "Question {i}?"\n' for i in range(n))
        path.write_text(
            f'name = "{name}"\nconcurrency = {concurrency}\nheartbeat_s = 0.2\n{extra}\n{entries}', encoding="utf-8"
        )
        return path

    return make


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server for the session (Debian's binaries); skips where they are not installed."""
    bindir = find_binaries()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's 'postgresql' package "
            "(scripts/setup.sh does when run as root)"
        )
    server = start_server(bindir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty database on the session's server."""
    return pg_server.create_database(f"t{ULID()}".lower())


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """The campaign database a test runs on: None (the SQLite default) or a fresh PostgreSQL URL."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_url")
    return url
