"""Benchmark sandboxed kernels against plain jupyter-client kernels in the same run; writes docs/benchmarks.md.

Measures (medians unless stated): cold start of a sandboxed kernel vs a plain ``AsyncKernelManager`` kernel
(both with history off, until ``kernel_info`` answers), warm ``acquire`` from a ``KernelPool`` (p50/p95),
the ``1+1`` round trip through ``Session.execute`` vs raw jupyter-client on the same sandboxed kernel and on a
plain kernel, and 20 cells that each draw a PNG. Run: ``nice -n 10 .venv/bin/python -m bench.kernel``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import queue
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager

from bench._results import write_section
from tools.kernel import KernelConfig, KernelPool
from tools.kernel.local import LocalKernel
from tools.kernel.sandbox import prepare_workdir

PNG_CELL = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(3, 2)); ax.plot([1, 3, 2]); plt.show()"


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


async def _plain_start(cwd: Path) -> tuple[AsyncKernelManager, AsyncKernelClient, float]:
    t0 = time.perf_counter()
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel(extra_arguments=["--HistoryManager.enabled=False"], cwd=str(cwd),
                          env={**os.environ, "MPLCONFIGDIR": str(cwd / ".mpl"), "IPYTHONDIR": str(cwd / ".ipy")})  # fmt: skip
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    return km, kc, time.perf_counter() - t0


async def _raw_roundtrip(kc: AsyncKernelClient, code: str) -> float:
    """Raw jupyter-client: send, then wait for the reply and the idle status of that request."""
    t0 = time.perf_counter()
    msg_id = kc.execute(code, store_history=False)
    idle = replied = False
    while not (idle and replied):
        if not idle:
            msg = await kc.get_iopub_msg(timeout=30)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status":
                idle = msg["content"]["execution_state"] == "idle"
        else:
            reply = await kc.get_shell_msg(timeout=30)
            replied = reply["parent_header"].get("msg_id") == msg_id
    return time.perf_counter() - t0


async def _drain(kc: AsyncKernelClient) -> None:
    while True:
        try:
            await kc.get_iopub_msg(timeout=0.05)
        except (queue.Empty, TimeoutError):
            return


async def bench(n_start: int, n_acquire: int, n_cells: int, root: Path) -> dict[str, Any]:
    config = KernelConfig(staging_dir=root)
    out: dict[str, Any] = {}

    # 1. cold start, interleaved so load drift hits both alike
    sandboxed, plain = [], []
    for i in range(n_start):
        wd = root / f"cold-{i}"
        prepare_workdir(wd, config)
        t0 = time.perf_counter()
        k = await LocalKernel.start(config, wd)
        sandboxed.append(time.perf_counter() - t0)
        await k.shutdown()
        pd = root / f"plain-{i}"
        pd.mkdir()
        km, kc, dt = await _plain_start(pd)
        plain.append(dt)
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
    out["cold_sandboxed"], out["cold_plain"] = sandboxed, plain

    # 2. warm acquire
    pool = KernelPool(config, size=1)
    await pool.start()
    acquires = []
    for i in range(n_acquire):
        await pool.wait_warm()
        t0 = time.perf_counter()
        s = await pool.acquire(root / f"run-{i}")
        acquires.append(time.perf_counter() - t0)
        await pool.release(s)
    out["acquire"] = acquires

    # 3. 1+1 round trip: Session vs raw client on the same sandboxed kernel, and raw on a plain kernel
    await pool.wait_warm()
    session = await pool.acquire(root / "rt")
    kernel = session.kernel
    assert kernel is not None
    assert kernel.client is not None
    for _ in range(20):
        await session.execute("1+1")
    ours, raw_same = [], []
    for _ in range(n_cells):
        t0 = time.perf_counter()
        r = await session.execute("1+1")
        ours.append(time.perf_counter() - t0)
        assert r.status == "ok"
        raw_same.append(await _raw_roundtrip(kernel.client, "1+1"))
    pd = root / "plain-rt"
    pd.mkdir()
    km, kc, _ = await _plain_start(pd)
    await _drain(kc)
    for _ in range(20):
        await _raw_roundtrip(kc, "1+1")
    raw_plain = [await _raw_roundtrip(kc, "1+1") for _ in range(n_cells)]
    out["rt_session"], out["rt_raw_sandboxed"], out["rt_raw_plain"] = ours, raw_same, raw_plain

    # 4. 20 cells with a PNG each: Session (files written) vs raw client on a plain kernel
    await session.execute("import matplotlib.pyplot as plt")
    t0 = time.perf_counter()
    pngs = 0
    for _ in range(20):
        r = await session.execute(PNG_CELL)
        pngs += sum(1 for o in r.outputs if o.kind == "image/png")
    out["png_session_s"], out["png_files"] = time.perf_counter() - t0, pngs
    await _raw_roundtrip(kc, "import matplotlib.pyplot as plt\n%matplotlib inline")
    t0 = time.perf_counter()
    for _ in range(20):
        await _raw_roundtrip(kc, PNG_CELL)
    out["png_plain_s"] = time.perf_counter() - t0
    kc.stop_channels()
    await km.shutdown_kernel(now=True)
    await pool.release(session)
    await pool.shutdown()
    return out


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    med = statistics.median
    ms = 1000.0
    cold_ratio = med(r["cold_sandboxed"]) / med(r["cold_plain"])
    overhead = (med(r["rt_session"]) - med(r["rt_raw_sandboxed"])) * ms
    rows = [
        ("cold start, sandboxed (median)", f"{med(r['cold_sandboxed']):.3f} s", f"n={args.starts}"),
        ("cold start, plain jupyter-client (median)", f"{med(r['cold_plain']):.3f} s", f"n={args.starts}"),
        ("**cold-start ratio sandboxed / plain**", f"**{cold_ratio:.2f}**", "target <= 1.15"),
        ("warm acquire p50", f"**{med(r['acquire']) * ms:.2f} ms**", "target < 50 ms"),
        ("warm acquire p95", f"{_pct(r['acquire'], 0.95) * ms:.2f} ms", f"n={args.acquires}"),
        ("`1+1` via `Session.execute` (median)", f"{med(r['rt_session']) * ms:.2f} ms", f"n={args.cells}"),
        ("`1+1` raw jupyter-client, same sandboxed kernel", f"{med(r['rt_raw_sandboxed']) * ms:.2f} ms", ""),
        ("**`Session.execute` overhead over raw**", f"**{overhead:.2f} ms**", "target < 2 ms"),
        ("`1+1` raw jupyter-client, plain kernel (median)", f"{med(r['rt_raw_plain']) * ms:.2f} ms", ""),
        ("20 PNG cells via `Session` (total)", f"{r['png_session_s']:.2f} s", f"{r['png_files']} PNG files written"),
        ("20 PNG cells raw, plain kernel (total)", f"{r['png_plain_s']:.2f} s",
         f"ratio {r['png_session_s'] / r['png_plain_s']:.2f}"),
    ]  # fmt: skip
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"""## Sandboxed kernels (`bench/kernel.py`)

Command: `nice -n 10 .venv/bin/python -m bench.kernel` ({platform.machine()}, {os.cpu_count()} cores, Python
{platform.python_version()}, bwrap at `{shutil.which("bwrap")}`). The machine was shared with other work
(load average {load} at the end), so absolute times are inflated; the ratios compare runs interleaved in time.
Sandboxed = the full chain (cgroup where writable → bwrap with seccomp → prlimit → setpriv → ipykernel, `ipc`
transport); plain = a stock `AsyncKernelManager` kernel (tcp) with history off. Both start until `kernel_info`
answers. The `1+1` overhead compares `Session.execute` (output collection, death polling, peak-memory reset and
read) with a bare send/wait-for-idle-and-reply loop on the *same* sandboxed kernel.

| measure | value | note |
|---|---|---|
{table}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--acquires", type=int, default=20)
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="print only; do not touch docs/benchmarks.md")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ara-bench-kernel-"))
    try:
        results = asyncio.run(bench(args.starts, args.acquires, args.cells, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    text = render(results, args)
    print(text)
    if not args.no_write:
        write_section("kernel", text)


if __name__ == "__main__":
    main()
