"""``ara tui`` in a real terminal (tmux): the start-up modal without a model, every pane, a past run opened.

Runs the same check that makes the ``docs/tui.md`` screenshots (``tests/tui/tmux_check.py``) into a tmp folder and
asserts on what the terminal showed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.tui.testing import PAST_RUNS
from tests.tui.tmux_check import run_check

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def test_every_pane_in_a_real_terminal(tmp_path: Path) -> None:
    screens = run_check(tmp_path / "shots", tmp_path / "workspace")
    assert list(screens) == ["no-model", "chat", "runs", "run-opened", "run-report", "papers", "review"]
    assert "http://127.0.0.1:9/v1 did not answer GET /models" in " ".join(screens["no-model"].split())
    runs = screens["runs"].splitlines()
    rows = [line for line in runs if " tok " in line]
    assert [row.strip("▊▎ ").split()[:4] for row in rows] == [
        ["2h", "awaiting_approval", "1,234", "tok"],
        ["1d", "failed", "1,234", "tok"],
        ["3d", "done", "2,468", "tok"],
    ]
    done = PAST_RUNS[0]
    assert f"{done} done node=run_cells #0 tokens=2,468/20,000 cells=1/20 time=83s/3600s" in screens["run-opened"]
    assert "[cell 0] PGR 0.41" in screens["run-opened"]
    assert "Weak-to-strong on synthetic data" in screens["run-report"]
    assert "proposals: 0 (0 open)" in screens["review"]
    # log output goes to a file while the app owns the terminal, never over the screen
    assert not [name for name, text in screens.items() if "Traceback" in text or "errors.Endpoint" in text]
    log = (tmp_path / "workspace" / ".ara" / "tui" / "tui.log").read_text(encoding="utf-8")
    assert "worker connect_llm failed" in log
    assert "EndpointUnreachableError" in log
    for name in screens:
        assert (tmp_path / "shots" / f"tmux-{name}.svg").read_text(encoding="utf-8").startswith("<svg")
