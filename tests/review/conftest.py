"""Fixtures for the review tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.vcs._support import isolate_git
from tools.vcs import Workspace


@pytest.fixture(autouse=True)
def _git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A fresh workspace repository."""
    return Workspace.open_or_create(tmp_path / "ws")
