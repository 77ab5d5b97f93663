"""Run ``ara review ...`` in-process through the real entry point (``assistant.cli.main``: exit codes and the
plain error messages for ``AssistantError``), capturing stdout and stderr together."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from click.testing import CliRunner

from assistant.cli import main


class Ran(NamedTuple):
    """Exit code and combined output of one command."""

    exit_code: int
    output: str


def ara(ws: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Ran:
    """``ara --workspace ws review <args>`` with ``input`` on stdin (never a TTY) and ``env`` set meanwhile."""
    with CliRunner().isolation(input=input, env=env) as (_, _, output):
        try:
            main(["--workspace", str(ws), "review", *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        text = output.getvalue().decode("utf-8", "replace")
    return Ran(code, text)
