"""Fixtures for the TUI tests: settings in a tmp workspace (the doubles live in ``assistant.tui.testing``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a tmp workspace (no model endpoint: tests pass their own client)."""
    return load_settings(tmp_path / "ws")
