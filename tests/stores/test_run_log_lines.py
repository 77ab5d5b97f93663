"""Bad lines in run logs: a torn last line after a full disk, a garbled line, bytes that are not UTF-8, a FIFO named
``events.jsonl``. ``ara runs list`` (the real command, in its own process) lists every run, reports each skipped line with its file and line, exits 0,
and changes no file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from assistant.events import NodeFinished, NodeStarted, RunFinished, RunStarted
from assistant.runlog import RunLog, read_run_log
from tests.stores._corrupt import fingerprint


def started(run_id: str, question: str) -> RunStarted:
    return RunStarted(run_id=run_id, question=question, model="m", base_url="http://x", code_mode="recipe", budget={})


def write_run(root: Path, run_id: str, question: str) -> Path:
    log = RunLog(root / "runs" / run_id / "events.jsonl", fsync=False)
    log.append(started(run_id, question))
    log.append(NodeStarted(run_id=run_id, node="intake"))
    log.append(NodeFinished(run_id=run_id, node="intake", duration_s=0.1, tokens=120))
    return log.path


def test_runs_list_survives_bad_lines_and_names_them(tmp_path: Path) -> None:
    ws = tmp_path / "workspace"
    good = write_run(ws, "01J0000000000000000000000A", "a healthy run")
    RunLog(good).append(RunFinished(run_id="01J0000000000000000000000A", status="done"))
    torn = write_run(ws, "01J0000000000000000000000B", "disk filled up mid-write")
    with torn.open("ab") as fh:
        fh.write(b'{"type": "node_finished", "run_id": "01J0000000000000000000000B", "node": "wri')
    garbled = write_run(ws, "01J0000000000000000000000C", "one bad line in the middle")
    lines = garbled.read_bytes().splitlines(keepends=True)
    garbled.write_bytes(lines[0] + b'{"type": "nope", "run_id": 1}\n' + b"\xff\xfe\x00junk\n" + b"".join(lines[1:]))
    fifo_dir = ws / "runs" / "01J0000000000000000000000D"
    fifo_dir.mkdir(parents=True)
    os.mkfifo(fifo_dir / "events.jsonl")
    files = fingerprint(ws)

    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "--workspace", str(ws), "runs", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    code, stdout, stderr = done.returncode, done.stdout, done.stderr
    assert code == 0, stdout + stderr
    assert "Traceback" not in stderr
    rows = stdout.splitlines()
    assert [row.split()[:2] for row in rows] == [
        ["01J0000000000000000000000C", "running"],
        ["01J0000000000000000000000B", "running"],
        ["01J0000000000000000000000A", "done"],
    ]
    assert "120 tok" in rows[0]
    assert f"{torn}:4: a torn last line (a crash or full disk mid-write)" in stderr
    assert f"{garbled}:2: not a valid run event" in stderr
    assert f"{garbled}:3: not UTF-8 (byte 0); skipped" in stderr
    assert f"{fifo_dir / 'events.jsonl'}:0: not a regular file (a link, FIFO or device); not read" in stderr
    assert fingerprint(ws) == files

    read = read_run_log(garbled)
    assert [type(e).__name__ for e in read.events] == ["RunStarted", "NodeStarted", "NodeFinished"]
    assert [s.line for s in read.skipped] == [2, 3]
