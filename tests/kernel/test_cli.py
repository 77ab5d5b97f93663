"""``ara kernel run`` and ``ara kernel check`` through the real click entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.errors import SettingsError
from tests.kernel.conftest import needs_bwrap
from tools.kernel import sandbox


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pretend bubblewrap is not installed."""
    real_which = sandbox.shutil.which
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None if name == "bwrap" else real_which(name))
    sandbox.bwrap_status.cache_clear()
    yield
    sandbox.bwrap_status.cache_clear()


@needs_bwrap
def test_run_file_prints_outputs_and_exits_2_on_error(tmp_path: Path) -> None:
    script = tmp_path / "demo.py"
    script.write_text("print('hello')\n# %%\nprint('\\x1b[2J\\x1b[31mred')\n# %%\n1/0\n# %%\nprint('skipped')\n")
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(cli, ["kernel", "run", str(script), "--run-dir", str(run_dir)])
    assert result.exit_code == 2, result.output
    assert result.stdout.splitlines() == ["hello", "red"]  # escapes from the kernel are stripped
    assert "ZeroDivisionError" in result.stderr
    assert "skipped" not in result.output
    assert f"[run directory: {run_dir}]" in result.stderr


@needs_bwrap
def test_run_stdin_as_json(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(
        cli, ["kernel", "run", "-", "--json", "--run-dir", str(run_dir)], input="open('f.txt','w').write('x')\n6*7"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["run_dir"] == str(run_dir.resolve())
    [cell] = data["results"]
    assert cell["status"] == "ok"
    assert cell["outputs"][0]["text"] == "42"
    assert (run_dir / "f.txt").read_text() == "x"


def test_missing_bwrap_is_refused_with_what_to_do(no_bwrap: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["kernel", "run", "-", "--run-dir", str(tmp_path / "r")], input="print(1)")
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    message = str(result.exception)
    assert "bubblewrap (bwrap) is not installed" in message
    assert "kernel.isolation = 'rlimits-only'" in message
    check = CliRunner().invoke(cli, ["kernel", "check"])
    assert check.exit_code == 2
    assert check.output.strip() == "sandbox unavailable: bubblewrap (bwrap) is not installed"


def test_empty_script_is_a_user_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("\n\n")
    result = CliRunner().invoke(cli, ["kernel", "run", str(empty)])
    assert result.exit_code != 0
    assert "holds no code to run" in str(result.exception)


@pytest.mark.parametrize(
    ("name", "value", "setting", "example"),
    [
        (
            "ARA_KERNEL_READONLY_PATHS",
            "/data/models",
            "kernel.readonly_paths",
            '\'["/data/models", "/data/datasets"]\'',
        ),
        ("ARA_KERNEL_READONLY_PATHS", '["/data",', "kernel.readonly_paths", '\'["/data/models", "/data/datasets"]\''),
        ("ARA_KERNEL", "{memory_mb: 1}", "kernel", '\'{"key": "value"}\''),
    ],
)
def test_setting_that_is_not_json_is_a_clear_error_with_exit_2(
    name: str, value: str, setting: str, example: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "kernel", "run", "-"],
        input="print(1)",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{name}={value!r} is not valid JSON (" in done.stderr
    assert f"sets '{setting}', which the environment gives as JSON, e.g. {name}={example}." in done.stderr


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ARA_KERNEL_DISK_QUOTA_MB", "lots", "'kernel.disk_quota_mb' (environment (ARA_*)): Input should be a valid"),
        ("ARA_KERNEL_DISK_QUOTA_MB", "0", "'kernel.disk_quota_mb' (environment (ARA_*)): Input should be greater"),
        ("ARA_KERNEL_MEMORY_MB", "3G", "'kernel.memory_mb' (environment (ARA_*)): Input should be a valid integer"),
    ],
)
def test_other_bad_kernel_settings_exit_2(
    name: str, value: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["kernel", "run", "-"], input="print(1)")
    assert isinstance(result.exception, SettingsError)
    assert expected in str(result.exception)
