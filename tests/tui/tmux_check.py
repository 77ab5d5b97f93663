"""Drive ``ara tui`` in a real terminal (tmux) and save what each pane shows as an SVG.

The app runs as a user starts it (``python -m assistant.cli tui``) inside a detached tmux session of a fixed size,
on a workspace holding three runs in the on-disk format (``assistant.tui.testing.write_past_runs``) and with the
model endpoint pointed at a closed loopback port, so the check also sees the start-up error modal a user without a
model gets. Keys go in with ``tmux send-keys``; each screen is read back with ``tmux capture-pane -e`` (text and
colours as the terminal holds them) and written as an SVG through Rich. Used by ``tests/tui/test_tmux.py`` and, to
refresh the screenshots in ``docs/tui.md``: ``.venv/bin/python -m tests.tui.tmux_check docs/screenshots``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.text import Text

from assistant.paths import PROJECT_ROOT
from assistant.tui.testing import write_past_runs

SIZE = (100, 30)
DEAD_ENDPOINT = "http://127.0.0.1:9/v1"
"""The discard port: nothing listens, so the app's start-up probe fails at once."""


class TmuxCheckError(AssertionError):
    """The terminal never showed what a step waits for (the message holds the last screen)."""


class Terminal:
    """One detached tmux session running a command."""

    def __init__(self, command: str, env: dict[str, str], size: tuple[int, int] = SIZE) -> None:
        self.name = f"ara-check-{uuid.uuid4().hex[:8]}"
        self.size = size
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                str(size[0]),
                "-y",
                str(size[1]),
                f"env -i {exports} {command}",
            ],
            check=True,
            cwd=PROJECT_ROOT,
        )

    def keys(self, *keys: str) -> None:
        """Send keys (tmux names: ``F3``, ``Down``, ``Enter``, ``Escape``, ``C-q``; or text)."""
        for key in keys:
            subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)
            time.sleep(0.15)

    def screen(self, colours: bool = False) -> str:
        """What the terminal shows now (with ANSI colours when ``colours``)."""
        args = ["tmux", "capture-pane", "-p", "-t", self.name] + (["-e"] if colours else [])
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout

    def wait_for(self, text: str, timeout_s: float = 60.0) -> str:
        """Wait until ``text`` is on the screen (and the screen stopped changing); returns the screen."""
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            last = self.screen()
            if text in last:
                time.sleep(0.4)  # let the frame that drew it finish
                return self.screen()
            time.sleep(0.2)
        raise TmuxCheckError(f"the terminal never showed {text!r} within {timeout_s:.0f} s; it shows:\n{last}")

    def alive(self) -> bool:
        """Whether the session (the app) is still running."""
        return subprocess.run(["tmux", "has-session", "-t", self.name], capture_output=True).returncode == 0

    def close(self) -> None:
        """Kill the session if it is still there."""
        if self.alive():
            subprocess.run(["tmux", "kill-session", "-t", self.name], check=False)


def save_svg(terminal: Terminal, path: Path, title: str) -> Path:
    """The terminal's screen, colours included, as an SVG at ``path``."""
    with open(os.devnull, "w", encoding="utf-8") as sink:
        console = Console(record=True, width=terminal.size[0], force_terminal=True, color_system="truecolor", file=sink)
        console.print(Text.from_ansi(terminal.screen(colours=True).rstrip("\n")), soft_wrap=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(console.export_svg(title=title), encoding="utf-8")
    return path


def run_check(out: Path, workspace: Path) -> dict[str, str]:
    """Open ``ara tui`` on ``workspace`` (three past runs are written into it), visit every pane, save
    ``tmux-<screen>.svg`` into ``out``; returns each screen's text. Raises ``TmuxCheckError`` on a missing step."""
    if shutil.which("tmux") is None:
        raise TmuxCheckError("tmux is not installed; install it (apt-get install tmux) to run the terminal check")
    write_past_runs(workspace, now=time.time())
    env = {
        "ARA_WORKSPACE": str(workspace),
        "ARA_LLM_BASE_URL": DEAD_ENDPOINT,
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    for name in ("ARA_AUDIT_KEY_FILE", "ARA_SHARED", "ARA_LOCAL_LLM_PROFILE"):
        if name in os.environ:
            env[name] = os.environ[name]
    terminal = Terminal(f"{shlex.quote(sys.executable)} -m assistant.cli tui --images off", env)
    screens: dict[str, str] = {}

    def shot(name: str, text: str, title: str) -> None:
        screens[name] = terminal.wait_for(text)
        save_svg(terminal, out / f"tmux-{name}.svg", title)

    try:
        shot("no-model", "LLM endpoint unreachable", "ara tui in tmux: started without a model")
        terminal.keys("Enter")
        shot("chat", "thread: main", "ara tui in tmux: Chat (F2)")
        terminal.keys("F3")
        shot("runs", "runs on disk: 3", "ara tui in tmux: Runs (F3), the runs on disk")
        terminal.keys("Down", "Down", "Enter")
        shot("run-opened", "cells=1/20", "ara tui in tmux: Runs, a past run opened")
        terminal.keys("v")
        shot("run-report", "Report of run", "ara tui in tmux: the opened run's report (v)")
        terminal.keys("Escape", "F4")
        shot("papers", "papers", "ara tui in tmux: Papers (F4)")
        terminal.keys("F5")
        shot("review", "proposals: 0", "ara tui in tmux: Review (F5)")
        terminal.keys("F2", "C-q")
        deadline = time.monotonic() + 20
        while terminal.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        if terminal.alive():
            raise TmuxCheckError(f"ctrl+q did not quit ara tui within 20 s; the terminal shows:\n{terminal.screen()}")
    finally:
        terminal.close()
    return screens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="folder for the SVGs (docs/screenshots)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ara-tmux-") as tmp:
        for name in run_check(args.out, Path(tmp) / "workspace"):
            print(args.out / f"tmux-{name}.svg")


if __name__ == "__main__":
    main()
