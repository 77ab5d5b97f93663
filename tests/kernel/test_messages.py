"""Kernel messages are capped before the host buffers them: a kernel printing or sending hundreds of MB costs the
host a bounded amount of memory, the output is cut with a marker, and the session goes on.

The host's memory is measured in a child process (its peak resident memory, VmHWM, before and after each attack), next to the
relay's own peak; the control runs the biggest attack with the relay turned off, to show the measurement sees it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from assistant.paths import PROJECT_ROOT
from tests.kernel.conftest import needs_bwrap
from tools.kernel.wire import relay_budget_mb

pytestmark = needs_bwrap

HOST_BOUND_MB = 200
ATTACKS = {
    # Well-behaved code: the kernel's startup splits its output into small messages; the relay cuts the rest.
    "print_one_write": "import sys\nsys.stdout.write('x' * 250 * 2**20)\nprint('end')",
    "print_flushed": "import sys\nfor _ in range(250):\n    sys.stdout.write('x' * 2**20)\n    sys.stdout.flush()",
    # Hostile code: one 250 MB message sent with the kernel's own session, past the startup's splitting.
    "raw_one_message": (
        "k = get_ipython().kernel\nk.session.send(k.iopub_socket, 'stream', {'name': 'stdout', 'text': 'x' * 250 * 2**20},"
        " parent=k.get_parent())\nimport time\ntime.sleep(1)\nprint('end')"
    ),
    # Hostile code: raw ZeroMQ on the kernel's iopub socket, 150 frames of 4 MB, each under the cap.
    "raw_multipart": (
        "import time\nk = get_ipython().kernel\nsock, blob = k.iopub_thread.socket, b'y' * 4 * 2**20\n"
        "frames = [b't', b'<IDS|MSG>', b's', b'{}', b'{}', b'{}', b'{}'] + [blob] * 150\n"
        "k.iopub_thread.io_loop.add_callback(lambda: sock.send_multipart(frames))\ntime.sleep(3)"
    ),
}

_PROBE = """
import asyncio, json, sys
from pathlib import Path
from tests.kernel.conftest import TEST_CONFIG
from tools.kernel import KernelPool, SandboxLimits

def peak_mb() -> float:
    # VmHWM, not ru_maxrss: ru_maxrss carries the parent's peak across exec (a probe started from a long pytest
    # session began above 1 GB and never showed growth), VmHWM is this process's own address space only.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")

def relay_peak_mb(session) -> float | None:
    relay = session.kernel.relay
    if relay is None or relay.poll() is not None:
        return None
    for line in Path(f"/proc/{relay.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

async def main(cap, attacks, run_dir):
    config = TEST_CONFIG.model_copy(update={
        "message_cap_bytes": cap, "output_cap_bytes": 1_000_000, "limits": SandboxLimits(memory_mb=4096),
    })
    pool = KernelPool(config, size=0)
    await pool.start()
    out = {}
    async with pool.session(Path(run_dir)) as s:
        await s.execute("print(1)")
        for name, code in attacks.items():
            before = peak_mb()
            r = await s.execute(code, 60)
            after = await s.execute("print('alive')")
            out[name] = {
                "growth_mb": peak_mb() - before, "relay_peak_mb": relay_peak_mb(s), "status": r.status,
                "truncated": r.truncated, "stdout": r.stdout[-300:], "stderr": r.stderr[-600:],
                "after": [after.status, after.stdout], "error": [r.error_name, (r.error_value or "")[:1500]],
            }
    await pool.shutdown()
    print(json.dumps(out))

cap = None if sys.argv[1] == "none" else int(sys.argv[1])
asyncio.run(main(cap, json.loads(sys.argv[2]), sys.argv[3]))
"""


def _probe(cap: int | None, attacks: dict[str, str], run_dir: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "none" if cap is None else str(cap), json.dumps(attacks), run_dir],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_huge_output_costs_the_host_a_bounded_amount_of_memory(tmp_path: Any) -> None:
    cap = 8 * 2**20
    results = _probe(cap, ATTACKS, str(tmp_path / "run"))
    for name, r in results.items():
        assert r["growth_mb"] < HOST_BOUND_MB, (name, r)
        assert r["relay_peak_mb"] is not None, (name, r)  # the relay lived through it
        assert r["relay_peak_mb"] < relay_budget_mb(cap) + 128, (name, r)  # + what it had mapped at start
        assert r["after"] == ["ok", "alive\n"], (name, r)
    refused = f"[ara: the kernel sent a message over {cap} bytes on iopub; it was refused unread"
    for name in ("raw_one_message", "raw_multipart"):
        r = results[name]
        # Sending hundreds of MB can also break the sending kernel itself (seen: a segfault inside ZeroMQ when the
        # relay hangs up mid-message, or a kernel stuck in the send): the cell then reports that, a new kernel
        # serves on, and the host stayed within its bound all the same (checked above).
        if r["status"] in ("died", "timeout"):
            assert r["error"][0] in ("KernelDied", "Timeout"), r
        else:
            assert (r["status"], r["truncated"]) == ("ok", True), r
            assert refused in r["stderr"], r
    # The first MB arrives and is cut with the usual marker; a note says how much more there was.
    for name in ("print_one_write", "print_flushed"):
        r = results[name]
        assert (r["status"], r["truncated"]) == ("ok", True), r
        assert "[ara: output truncated: " in r["stdout"], r
    # 250 MiB minus the 1,000,001 characters sent, give or take the 'end' line in the same flush
    left_out = (
        r"\[ara: the kernel left out 26114\d{4} more characters of stdout from one write \(it sends at most 1000001 "
    )
    assert re.search(left_out, results["print_one_write"]["stderr"])
    assert "[ara: the kernel sent " in results["print_flushed"]["stderr"]
    assert (
        "after the cell reached the host's output caps; they were dropped unread]" in results["print_flushed"]["stderr"]
    )


def test_control_without_the_relay_the_host_buffers_the_whole_message(tmp_path: Any) -> None:
    # Three tries: a kernel sending 250 MB at once occasionally breaks itself before the message leaves it.
    attacks = {f"raw_one_message_{i}": ATTACKS["raw_one_message"] for i in range(3)}
    results = _probe(None, attacks, str(tmp_path / "run"))
    assert all(r["relay_peak_mb"] is None for r in results.values())
    delivered = [r for r in results.values() if "[ara: output truncated: " in r["stdout"]]
    if not delivered:
        # Seen on a loaded machine: the kernel's publisher dropped or never finished the 250 MB message in every
        # try, so the host received nothing to buffer and this control has nothing to measure.
        pytest.skip(f"the kernel delivered none of the 3 raw 250 MB messages; the control measured nothing: {results}")
    growth = max(r["growth_mb"] for r in delivered)
    assert growth > 2 * HOST_BOUND_MB, results  # what the relay prevents: ~3x the message in host memory
