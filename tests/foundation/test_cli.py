"""The ``ara`` entry point as a user runs it: exit codes, messages without tracebacks, doctor's table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import click
from click.testing import CliRunner

from assistant.cli import COMMANDS, cli

ARA = [sys.executable, "-m", "assistant.cli"]


def run_ara(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    return subprocess.run(
        [*ARA, *args],
        stdin=subprocess.DEVNULL,  # ara chat reads piped stdin: never inherit the test runner's
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


def test_unreachable_endpoint_fails_fast_with_endpoint_and_setting(tmp_path: Path) -> None:
    started = time.monotonic()
    done = run_ara(["chat", "hi"], {"ARA_LLM_BASE_URL": "http://127.0.0.1:9/v1", "ARA_WORKSPACE": str(tmp_path)})
    took = time.monotonic() - started
    assert done.returncode == 2
    assert took < 15
    assert "http://127.0.0.1:9/v1" in done.stderr
    assert "ARA_LLM_BASE_URL" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_malformed_settings_file_exits_2_naming_line(tmp_path: Path) -> None:
    (tmp_path / "ara.toml").write_text("[llm\nmodel = 3\n", encoding="utf-8")
    done = run_ara(["config", "show"], {"ARA_WORKSPACE": str(tmp_path)})
    assert done.returncode == 2
    assert "ara.toml is not valid TOML" in done.stderr
    assert "line 1" in done.stderr
    assert "Traceback" not in done.stderr


def test_empty_question_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["chat", "   "])
    assert result.exit_code == 2
    assert "the question is empty" in result.output


def test_every_listed_command_imports_and_has_help() -> None:
    runner = CliRunner()
    for name in COMMANDS:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, f"ara {name} --help failed: {result.output}"
        assert "Usage:" in result.output


def test_group_help_lists_each_command_with_its_own_help_without_importing_it() -> None:
    for name, (_, summary) in COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        assert command.help is not None
        assert command.help.startswith(summary), f"COMMANDS[{name!r}] help is out of step with the command's"
    probe = (
        "import sys; from assistant.cli import cli; cli.main(['--help'], standalone_mode=False); "
        "heavy = [m for m in ('assistant.graph', 'assistant.tui', 'openai', 'langgraph', 'textual') if m in sys.modules]; "
        "print('HEAVY', heavy)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert "HEAVY []" in done.stdout
    assert "  tui        Open the terminal UI: chat, live runs, papers and review" in done.stdout


def test_doctor_reports_missing_local_model_and_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    done = run_ara(
        ["doctor", "--json", "--no-endpoint"],
        {"ARA_WORKSPACE": str(tmp_path), "ARA_LOCAL_LLM_PROFILE": str(missing)},
    )
    assert done.returncode == 2, done.stderr
    checks = {c["name"]: c for c in json.loads(done.stdout)}
    assert checks["python"]["status"] == "ok"
    assert checks["local model"]["status"] == "fail"
    assert str(missing) in checks["local model"]["fix"]
    databases = {"db: paper catalogue", "db: proposal index", "db: campaign queue", "db: run checkpoints"}
    assert set(checks) == {"python", "sandbox", "local model", "embedding model", "disk", *databases}
