"""A run's session on one sandboxed kernel: execute cells with timeouts, interrupts, restarts and death checks.

Covers ``Session.execute``: send one cell (``store_history=False``, ``stop_on_error=False``), collect its iopub
messages until idle plus its ``execute_reply``, poll the launcher every ~0.25 s so a crashed or OOM-killed
kernel is reported as ``died`` within about a second, interrupt on timeout (by message) and kill + restart a
kernel that ignores the interrupt. A replacement kernel gets a fresh client and is bound to the same run
directory (taken warm from the pool when one is ready). Does not pick kernels (``tools.kernel.pool``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tools.kernel.config import KernelConfig, KernelError
from tools.kernel.local import LocalKernel
from tools.kernel.results import CellResult, CellStatus, OutputCollector
from tools.kernel.sandbox import prepare_workdir

logger = logging.getLogger(__name__)

_POLL_S = 0.25
_IDLE_GRACE_S = 2.0
_Empty = (queue.Empty, TimeoutError)


class _Died(Exception):
    pass


class Session:
    """Cells of one run, executed in a kernel that no other run ever sees.

    Use ``await session.execute(code, timeout)``; close with ``KernelPool.release(session)`` or ``close()``.
    """

    def __init__(
        self,
        kernel: LocalKernel,
        run_dir: Path,
        config: KernelConfig,
        spawn: Callable[[Path], Awaitable[LocalKernel]] | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.config = config
        self._spawn = spawn
        self._kernel: LocalKernel | None = kernel
        self._replacement: asyncio.Task[LocalKernel] | None = None
        self._lock = asyncio.Lock()
        self._cells = 0
        self.restarts = 0
        self.closed = False

    @property
    def kernel(self) -> LocalKernel | None:
        """The current kernel (None while a replacement is starting)."""
        return self._kernel

    async def _current(self) -> LocalKernel:
        if self._kernel is None:
            if self._replacement is None:
                self._replacement = asyncio.create_task(self._start_replacement())
            task, self._replacement = self._replacement, None
            self._kernel = await task
        return self._kernel

    async def _start_replacement(self) -> LocalKernel:
        if self._spawn is not None:
            return await self._spawn(self.run_dir)
        prepare_workdir(self.run_dir, self.config)
        return await LocalKernel.start(self.config, self.run_dir)

    async def _replace(self, kernel: LocalKernel) -> None:
        self._kernel = None
        self.restarts += 1
        await kernel.shutdown()
        self._replacement = asyncio.create_task(self._start_replacement())

    async def execute(self, code: str, timeout: float | None = None) -> CellResult:
        """Run one cell and return what it did.

        Args:
            code: Python source of the cell (IPython syntax allowed).
            timeout: wall-clock seconds before the cell is interrupted; None = ``config.cell_timeout_s``.

        Returns:
            A ``CellResult``: ok / error / timeout / died / aborted, with capped outputs and the error.

        Raises:
            KernelError: the session was released, or a replacement kernel could not start.
        """
        if self.closed:
            raise KernelError(f"this kernel session for {self.run_dir} was released; acquire a new one")
        async with self._lock:
            kernel = await self._current()
            return await self._execute(kernel, code, timeout or self.config.cell_timeout_s)

    async def _execute(self, kernel: LocalKernel, code: str, timeout: float) -> CellResult:
        self._cells += 1
        tag = f"cell{self._cells:03d}-{uuid.uuid4().hex[:6]}"
        collector = OutputCollector(self.run_dir, self.config.output_cap_bytes, tag)
        client = kernel.client
        assert client is not None
        kernel.reset_peak_memory()
        t0 = time.perf_counter()
        msg_id = client.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        state: dict[str, Any] = {"reply": None}
        try:
            finished = await self._collect(kernel, msg_id, collector, state, t0 + timeout)
        except _Died:
            return await self._died(kernel, collector, t0)
        if finished:
            reply = state["reply"] or {}
            content = reply.get("content") or {}
            status_text = content.get("status") if isinstance(content, dict) else None
            status: CellStatus = "ok" if status_text == "ok" else "aborted" if status_text == "aborted" else "error"
            reason = None
            if status == "error" and collector.error is None and isinstance(content, dict):
                reason = (str(content.get("ename", "Error"))[:500], str(content.get("evalue", ""))[:2000])
            return collector.result(
                status, wall_s=time.perf_counter() - t0, peak_memory_mb=kernel.peak_memory_mb(), reason=reason
            )
        return await self._timed_out(kernel, msg_id, collector, state, t0, timeout)

    async def _collect(
        self,
        kernel: LocalKernel,
        msg_id: str,
        collector: OutputCollector,
        state: dict[str, Any],
        deadline: float,
    ) -> bool:
        """Read messages until the cell is idle and replied (True) or ``deadline`` passes (False)."""
        client = kernel.client
        assert client is not None
        while not (collector.idle and state["reply"] is not None):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return False
            wait = min(_POLL_S, remaining)
            try:
                if not collector.idle:
                    msg = await client.get_iopub_msg(timeout=wait)
                    if msg.get("parent_header", {}).get("msg_id") == msg_id:
                        collector.handle(msg)
                        state["iopub_at"] = time.perf_counter()
                else:
                    msg = await client.get_shell_msg(timeout=wait)
                    if msg.get("parent_header", {}).get("msg_id") == msg_id:
                        state["reply"] = msg
            except _Empty:
                if not await kernel.is_alive():
                    raise _Died from None
                if not collector.idle:
                    await self._idle_may_be_lost(client, msg_id, collector, state)
        return True

    async def _idle_may_be_lost(
        self, client: Any, msg_id: str, collector: OutputCollector, state: dict[str, Any]
    ) -> None:
        """iopub is quiet: look for the reply, and once it came ``_IDLE_GRACE_S`` ago with no output since, take
        the cell as finished. The kernel's publisher drops messages when more are queued than the host took in
        (ZeroMQ's high-water mark), so under a flood of output the ``idle`` itself can be lost."""
        now = time.perf_counter()
        if state["reply"] is None:
            try:
                msg = await client.get_shell_msg(timeout=0)
            except _Empty:
                return
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                return
            state["reply"], state["reply_at"] = msg, now
            return
        if now - max(state.get("reply_at", now), state.get("iopub_at", 0.0)) >= _IDLE_GRACE_S:
            collector.handle(
                {
                    "msg_type": "ara_dropped",
                    "content": {
                        "text": f"no end-of-cell status arrived within {_IDLE_GRACE_S:g} s of the reply (lost under heavy "
                        "output); the cell was taken as finished and later output of it is not shown"
                    },
                }
            )
            collector.idle = True

    async def _timed_out(
        self,
        kernel: LocalKernel,
        msg_id: str,
        collector: OutputCollector,
        state: dict[str, Any],
        t0: float,
        timeout: float,
    ) -> CellResult:
        await kernel.interrupt()
        try:
            stopped = await self._collect(
                kernel, msg_id, collector, state, time.perf_counter() + self.config.interrupt_grace_s
            )
        except _Died:
            return await self._died(kernel, collector, t0)
        detail = f"the cell ran longer than {timeout:g} s and was interrupted"
        if stopped:
            return collector.result(
                "timeout",
                wall_s=time.perf_counter() - t0,
                peak_memory_mb=kernel.peak_memory_mb(),
                reason=("Timeout", detail),
            )
        peak = kernel.peak_memory_mb()
        logger.warning("kernel ignored the interrupt after %.1f s; restarting it in %s", timeout, self.run_dir)
        await self._replace(kernel)
        return collector.result(
            "timeout",
            wall_s=time.perf_counter() - t0,
            peak_memory_mb=peak,
            reason=("Timeout", detail + "; it ignored the interrupt, so the kernel was restarted (state lost)"),
            restarted=True,
        )

    async def _died(self, kernel: LocalKernel, collector: OutputCollector, t0: float) -> CellResult:
        if kernel.stopped is not None:  # the host stopped it on purpose (disk quota): say why, not how
            await self._replace(kernel)
            return collector.result("died", wall_s=time.perf_counter() - t0, reason=kernel.stopped, restarted=True)
        reason = kernel.exit_reason()
        tail = kernel.log_tail().strip()
        logger.warning("kernel in %s died: %s", self.run_dir, reason)
        await self._replace(kernel)
        detail = f"the kernel process {reason}; a new kernel was started (state lost)"
        if tail:
            detail += f". Last kernel log lines:\n{tail[-1500:]}"
        return collector.result("died", wall_s=time.perf_counter() - t0, reason=("KernelDied", detail), restarted=True)

    async def close(self) -> None:
        """Kill the kernel (and a replacement being started); the session cannot be used afterwards."""
        self.closed = True
        if self._replacement is not None:
            task, self._replacement = self._replacement, None
            try:
                kernel = await task
            except KernelError:
                kernel = None
            if kernel is not None:
                await kernel.shutdown()
        if self._kernel is not None:
            kernel, self._kernel = self._kernel, None
            with contextlib.suppress(asyncio.CancelledError):
                await kernel.shutdown()
