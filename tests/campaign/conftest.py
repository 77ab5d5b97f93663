"""Campaign fixtures: a campaign file writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


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
