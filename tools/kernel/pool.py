"""A pool of warm sandboxed kernels, one per run and never reused, with a synchronous wrapper.

Covers ``KernelPool`` (async: ``start``, ``acquire(run_dir)``, ``release``, ``shutdown``, ``session``),
``SyncKernelPool`` (the same from plain code, on a private event loop thread) and ``run_code`` (one fresh
kernel for a list of cells). A warm kernel waits with an empty directory under the staging folder bound as its
``/ara/run``; ``acquire`` renames that directory to the run directory (a bind mount follows the directory, so
the kernel now writes into the run directory) after moving anything already in the run directory into it. When
the staging folder is on another filesystem, ``acquire`` cold-starts a kernel bound straight to the run
directory. Released kernels are killed, never handed to another run. Does not run cells (``Session``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tools.kernel.config import KernelConfig, KernelError, KernelStartError
from tools.kernel.local import LocalKernel
from tools.kernel.owners import owner_tag
from tools.kernel.results import CellResult
from tools.kernel.sandbox import own_tree, prepare_workdir, require_isolation
from tools.kernel.session import Session
from tools.kernel.sweep import sweep_orphans

logger = logging.getLogger(__name__)

T = TypeVar("T")
_CELL_MARK = re.compile(r"^# ?%%.*$", re.MULTILINE)


class KernelPool:
    """Keeps ``size`` sandboxed kernels started so ``acquire`` takes milliseconds instead of ~0.7 s."""

    def __init__(self, config: KernelConfig | None = None, size: int = 1) -> None:
        self.config = config or KernelConfig()
        self.size = max(0, size)
        self._warm: collections.deque[tuple[LocalKernel, Path]] = collections.deque()
        self._starting: set[asyncio.Task[None]] = set()
        self._sessions: set[Session] = set()
        self._staging: Path | None = None
        self._own_staging = False
        self._started = False
        self._closed = False
        self.start_failures = 0
        self._last_error = ""

    async def start(self) -> None:
        """Check the sandbox, sweep what killed pools left behind (``tools.kernel.sweep``), start the warm kernels.

        Raises:
            SandboxUnavailableError: bwrap cannot be used and rlimit-only mode was not chosen.
            KernelStartError: a warm kernel could not start.
        """
        require_isolation(self.config)
        await asyncio.to_thread(sweep_orphans, self.config.staging_dir)
        tag = owner_tag()
        if self.config.staging_dir is not None:
            self._staging = self.config.staging_dir / f".ara-kernel-pool-{uuid.uuid4().hex[:8]}-{tag}"
            self._staging.mkdir(parents=True)
        else:
            self._staging = Path(tempfile.mkdtemp(prefix=f"ara-kernel-pool-{tag}-"))
            self._own_staging = True
        os.chmod(self._staging, 0o711)
        self._started = True
        self._refill()
        outcomes = await asyncio.gather(*self._starting, return_exceptions=True) if self._starting else []
        failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failure is not None or (self.size and not self._warm):
            await self.shutdown()
            if failure is not None:
                raise failure
            raise KernelStartError(f"none of the {self.size} warm kernels started: {self._last_error}")

    def _refill(self) -> None:
        if self._closed or not self._started:
            return
        while len(self._warm) + len(self._starting) < self.size:
            task = asyncio.create_task(self._start_warm())
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    async def _start_warm(self) -> None:
        assert self._staging is not None
        workdir = self._staging / uuid.uuid4().hex[:12]
        prepare_workdir(workdir, self.config)
        try:
            kernel = await LocalKernel.start(self.config, workdir)
        except KernelStartError as err:
            self.start_failures += 1
            self._last_error = str(err)
            logger.error("a warm kernel failed to start: %s", err)
            shutil.rmtree(workdir, ignore_errors=True)
            return
        if self._closed:
            await kernel.shutdown()
            shutil.rmtree(workdir, ignore_errors=True)
            return
        self._warm.append((kernel, workdir))

    def _adopt(self, workdir: Path, run_dir: Path) -> bool:
        """Make the warm kernel's directory become ``run_dir``; False where a rename cannot do it."""
        parent = run_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        if os.stat(parent).st_dev != os.stat(workdir).st_dev:
            return False
        if run_dir.exists():
            if not run_dir.is_dir() or run_dir.is_symlink():
                raise KernelError(f"run directory {run_dir} exists and is not a directory; choose another path")
            for entry in run_dir.iterdir():
                os.rename(entry, workdir / entry.name)
        os.rename(workdir, run_dir)
        return True

    async def acquire(self, run_dir: Path, config: KernelConfig | None = None) -> Session:
        """A session whose kernel writes only into ``run_dir`` (created if missing; existing files are kept).

        Args:
            run_dir: the run's directory; the only host path the kernel may write.
            config: limits and paths for this run when they differ from the pool's (the kernel is then started
                cold, since warm kernels were started with the pool's configuration).

        Raises:
            KernelError: the pool is shut down, or ``run_dir`` is not a directory.
            KernelStartError: no kernel could be started.
        """
        if self._closed:
            raise KernelError("the kernel pool is shut down; create a new KernelPool")
        if not self._started:
            await self.start()
        run_dir = Path(run_dir).resolve()
        if config is not None and config != self.config:
            run_config = config

            async def cold(path: Path) -> LocalKernel:
                prepare_workdir(path, run_config)
                return await LocalKernel.start(run_config, path)

            session = Session(await cold(run_dir), run_dir, run_config, spawn=cold)
        else:
            kernel = await self._kernel_for(run_dir)
            session = Session(kernel, run_dir, self.config, spawn=self._kernel_for)
        self._sessions.add(session)
        return session

    async def _kernel_for(self, run_dir: Path) -> LocalKernel:
        """A kernel bound to ``run_dir``: a warm one adopted by rename, else a cold start (also for restarts)."""
        if self._closed:
            raise KernelError("the kernel pool is shut down; create a new KernelPool")
        while True:
            while self._warm:
                kernel, workdir = self._warm.popleft()
                if not await kernel.is_alive():
                    logger.warning("a warm kernel had died (%s); discarding it", kernel.exit_reason())
                    await kernel.shutdown()
                    shutil.rmtree(workdir, ignore_errors=True)
                    continue
                with kernel.watchdog.rebinding() if kernel.watchdog else contextlib.nullcontext():
                    adopted = self._adopt(workdir, run_dir)
                if adopted:
                    kernel.workdir = run_dir
                    own_tree(run_dir, kernel.plan.uid if kernel.plan else None)
                    self._refill()
                    return kernel
                self._warm.appendleft((kernel, workdir))
                logger.info("run dir %s is on another filesystem than the pool's staging dir; cold start", run_dir)
                break
            else:
                if self._starting and self.size:
                    await asyncio.wait(set(self._starting), return_when=asyncio.FIRST_COMPLETED)
                    if self._warm:
                        continue
            break
        prepare_workdir(run_dir, self.config)
        kernel = await LocalKernel.start(self.config, run_dir)
        self._refill()
        return kernel

    async def release(self, session: Session) -> None:
        """Kill the session's kernel; it is never given to another run."""
        self._sessions.discard(session)
        await session.close()

    @asynccontextmanager
    async def session(self, run_dir: Path, config: KernelConfig | None = None) -> AsyncIterator[Session]:
        """``async with pool.session(run_dir) as s:`` acquires and always releases."""
        session = await self.acquire(run_dir, config)
        try:
            yield session
        finally:
            await self.release(session)

    @property
    def warm_count(self) -> int:
        """Kernels ready to hand out now."""
        return len(self._warm)

    async def wait_warm(self) -> None:
        """Wait until every warm kernel being started has finished starting."""
        while self._starting:
            await asyncio.gather(*set(self._starting), return_exceptions=True)

    async def shutdown(self) -> None:
        """Kill every kernel (warm and in use) and remove the staging folder."""
        self._closed = True
        for task in list(self._starting):
            await asyncio.gather(task, return_exceptions=True)
        while self._warm:
            kernel, workdir = self._warm.popleft()
            await kernel.shutdown()
            shutil.rmtree(workdir, ignore_errors=True)
        for session in list(self._sessions):
            await self.release(session)
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    async def __aenter__(self) -> KernelPool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()


class SyncSession:
    """``Session`` for synchronous code; created by ``SyncKernelPool.acquire``."""

    def __init__(self, pool: SyncKernelPool, session: Session) -> None:
        self._pool = pool
        self.session = session
        self.run_dir = session.run_dir

    def execute(self, code: str, timeout: float | None = None) -> CellResult:
        """Run one cell; see ``Session.execute``."""
        return self._pool._call(self.session.execute(code, timeout))


class SyncKernelPool:
    """``KernelPool`` on a private event-loop thread, for code that is not async."""

    def __init__(self, config: KernelConfig | None = None, size: int = 1) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ara-kernel-pool", daemon=True)
        self._thread.start()
        self.pool = KernelPool(config, size)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def start(self) -> None:
        """See ``KernelPool.start``."""
        self._call(self.pool.start())

    def acquire(self, run_dir: Path, config: KernelConfig | None = None) -> SyncSession:
        """See ``KernelPool.acquire``."""
        return SyncSession(self, self._call(self.pool.acquire(run_dir, config)))

    def release(self, session: SyncSession) -> None:
        """See ``KernelPool.release``."""
        self._call(self.pool.release(session.session))

    def wait_warm(self) -> None:
        """See ``KernelPool.wait_warm``."""
        self._call(self.pool.wait_warm())

    @contextmanager
    def session(self, run_dir: Path, config: KernelConfig | None = None) -> Iterator[SyncSession]:
        """``with pool.session(run_dir) as s:`` acquires and always releases."""
        s = self.acquire(run_dir, config)
        try:
            yield s
        finally:
            self.release(s)

    def shutdown(self) -> None:
        """Kill every kernel and stop the loop thread."""
        if self._loop.is_closed():
            return
        try:
            self._call(self.pool.shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def __enter__(self) -> SyncKernelPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def split_cells(source: str) -> list[str]:
    """Split a script into cells at ``# %%`` lines (the whole script is one cell when there are none)."""
    parts = [p.strip("\n") for p in _CELL_MARK.split(source)]
    cells = [p for p in parts if p.strip()]
    return cells or [source]


def run_code(
    code: str | Iterable[str],
    run_dir: Path,
    config: KernelConfig | None = None,
    *,
    timeout: float | None = None,
    stop_on_error: bool = True,
) -> list[CellResult]:
    """Run cells in one fresh sandboxed kernel writing into ``run_dir``, then kill it.

    Args:
        code: a script (split at ``# %%`` lines) or a list of cells.
        run_dir: the only host directory the kernel may write.
        config: kernel configuration (default ``KernelConfig()``).
        timeout: per-cell timeout; None = ``config.cell_timeout_s``.
        stop_on_error: stop after the first cell whose status is not ``ok``.

    Returns:
        One ``CellResult`` per cell that ran.
    """
    cells = split_cells(code) if isinstance(code, str) else list(code)

    async def _run() -> list[CellResult]:
        pool = KernelPool(config, size=0)
        await pool.start()
        results: list[CellResult] = []
        try:
            async with pool.session(run_dir) as session:
                for cell in cells:
                    result = await session.execute(cell, timeout)
                    results.append(result)
                    if stop_on_error and result.status != "ok":
                        break
        finally:
            await pool.shutdown()
        return results

    return asyncio.run(_run())
