"""Run ``ara`` as a separate process on a real pseudo-terminal (stdin, stdout and stderr are the pty's slave end),
the way a person at a terminal runs it, with typed answers already waiting in the terminal's input queue."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.review._cli import Ran


def ara_tty(ws: Path, *args: str, answers: str = "", env: dict[str, str] | None = None, timeout: float = 60) -> Ran:
    """``ara --workspace ws review <args>`` on a pty; ``answers`` is typed before it starts."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "--workspace", str(ws), "review", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, **(env or {}), "COLUMNS": "200", "TERM": "dumb"},
            close_fds=True,
            start_new_session=True,
        )
    finally:
        os.close(slave)
    if answers:
        os.write(master, answers.encode())
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave end is closed
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return Ran(code, text)
