"""``ara tui`` and ``ara`` with no arguments: the TUI opens only in a terminal, wired to the real backends."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.tui.adapters import GraphRunDriver, LibraryBackend, ReviewServiceBackend
from assistant.tui.app import AraApp


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[AraApp]:
    apps: list[AraApp] = []

    def fake_run(self: AraApp, *args: Any, **kwargs: Any) -> None:
        apps.append(self)

    monkeypatch.setattr(AraApp, "run", fake_run)
    return apps


def test_bare_ara_outside_a_terminal_prints_help(opened: list[AraApp]) -> None:
    result = CliRunner().invoke(cli, [], prog_name="ara")
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ara [OPTIONS] [COMMAND] [ARGS]...")
    assert "  tui " in result.output
    assert opened == []


def test_bare_ara_in_a_terminal_opens_the_tui(opened: list[AraApp], monkeypatch: pytest.MonkeyPatch) -> None:
    class TTYStream:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", TTYStream())
    monkeypatch.setattr(sys, "stdout", TTYStream())
    cli.main(args=[], prog_name="ara", standalone_mode=False)
    [app] = opened
    assert isinstance(app.runner, GraphRunDriver)
    assert isinstance(app.papers, LibraryBackend)
    assert isinstance(app.review, ReviewServiceBackend)
    assert app.llm is None  # connected in a worker once the app runs


def test_ara_tui_passes_thread_and_workspace(opened: list[AraApp], tmp_path: Any) -> None:
    result = CliRunner().invoke(cli, ["--workspace", str(tmp_path / "w2"), "tui", "--thread", "probes"])
    assert result.exit_code == 0, result.output
    [app] = opened
    assert app.thread_id == "probes"
    assert app.settings.workspace == (tmp_path / "w2").resolve()


def test_ara_tui_images_option_picks_the_protocol(opened: list[AraApp], tmp_path: Any) -> None:
    workspace = ["--workspace", str(tmp_path / "w")]
    for choice, expected in (("off", None), ("halfcell", "halfcell"), ("sixel", "sixel")):
        result = CliRunner().invoke(cli, [*workspace, "tui", "--images", choice])
        assert result.exit_code == 0, result.output
        assert opened[-1].image_protocol == expected
        assert opened[-1].freeze_heap is True
    result = CliRunner().invoke(cli, [*workspace, "tui", "--images", "png"])
    assert result.exit_code == 2
    assert "Invalid value for '--images': 'png' is not one of 'auto', 'sixel', 'tgp', 'halfcell', 'off'." in (
        result.output
    )
    assert len(opened) == 3
