"""An in-process stand-in for the kernel pool, for benchmarks that measure the host around a cell, not the kernel.

Covers only what the research loop calls (``acquire`` and ``execute``); cells run with ``exec`` in the run
directory, their stdout discarded. Not a sandbox: the benchmarks that measure kernels use ``tools.kernel``.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CellResult:
    """The fields of a kernel's cell result the loop reads."""

    status: str
    stdout: str = ""
    stderr: str = ""


class InProcessSession:
    """Runs a cell in this process, in the run's directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    async def execute(self, code: str, timeout: float) -> CellResult:
        with contextlib.chdir(self.run_dir), contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "<cell>", "exec"), {})
        return CellResult("ok")


class InProcessPool:
    """Hands out an ``InProcessSession`` per run."""

    async def acquire(self, run_dir: Path) -> InProcessSession:
        return InProcessSession(run_dir)
