"""One local kernel process started through the sandbox launch chain, with its jupyter-client client.

Covers ``SandboxKernelManager`` (an ``AsyncKernelManager`` whose command is the bwrap/prlimit/setpriv chain,
transport ``ipc`` and ``interrupt_mode: "message"``) and ``LocalKernel`` (start and wait until it answers,
liveness, death reason, peak memory, the disk-quota watchdog that stops it, hard kill and cleanup). Does not run
cells (``tools.kernel.session``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

from tools.kernel.config import KernelConfig, KernelStartError
from tools.kernel.quota import Breach, DiskWatchdog, describe
from tools.kernel.sandbox import LaunchPlan, plan_launch, require_isolation
from tools.kernel.wire import RelayedKernelClient, capped_socket, relay_budget_mb, start_relay

logger = logging.getLogger(__name__)

_LOG_TAIL_BYTES = 4000


class SandboxKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` that launches ``plan.argv`` over Unix sockets, interrupting by message."""

    def __init__(
        self, plan: LaunchPlan, sandbox_uid: int | None, relay_ip: str | None = None, cap: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(
            transport="ipc",
            ip=str(plan.socket_dir / "k"),
            connection_file=str(plan.connection_file),
            kernel_name="",
            **kwargs,
        )
        self._plan = plan
        self._sandbox_uid = sandbox_uid
        self._relay_ip = relay_ip
        self._cap = cap
        if relay_ip is not None:
            self.client_factory = RelayedKernelClient
        self._kernel_spec = KernelSpec(
            argv=list(plan.argv),
            display_name="ara sandboxed Python",
            language="python",
            interrupt_mode="message",
            env={},
            metadata={},
        )

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The launch chain, unchanged (the connection file path is already in it)."""
        return list(self._plan.argv)

    def _create_connected_socket(self, channel: str, identity: bytes | None = None) -> zmq.Socket[Any]:
        """The manager's own socket (control, for interrupts) goes through the relay too, when there is one."""
        if self._relay_ip is None:
            return super()._create_connected_socket(channel, identity)
        return capped_socket(self, channel, identity, self._relay_ip, self._cap)

    def write_connection_file(self, **kwargs: Any) -> None:
        """Write the connection file and hand it to the sandbox uid (the kernel must read it)."""
        super().write_connection_file(**kwargs)
        if self._sandbox_uid is not None and os.path.exists(self.connection_file):
            os.chown(self.connection_file, self._sandbox_uid, self._sandbox_uid)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    if code > 128 and code - 128 in signal.Signals._value2member_map_:
        return f"killed by {signal.Signals(code - 128).name} (exit {code})"
    return f"exited with code {code}"


class LocalKernel:
    """A started sandboxed kernel: its manager, client, host pid and launch plan."""

    def __init__(self, config: KernelConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.plan: LaunchPlan | None = None
        self.km: SandboxKernelManager | None = None
        self.client: AsyncKernelClient | None = None
        self.kernel_pid: int | None = None
        self.started_at = 0.0
        self.watchdog: DiskWatchdog | None = None
        self.relay: subprocess.Popen[bytes] | None = None
        self.stopped: tuple[str, str] | None = None
        """(name, detail) when the host stopped the kernel on purpose (disk quota), for the cell's result."""
        self._log: Any = None

    @classmethod
    async def start(cls, config: KernelConfig, workdir: Path) -> LocalKernel:
        """Start a kernel whose writable directory is ``workdir`` and wait until it answers ``kernel_info``.

        Raises:
            SandboxUnavailableError: bwrap cannot be used and rlimit-only mode was not chosen.
            KernelStartError: the kernel exited or stayed silent while starting (the log tail is included).
        """
        require_isolation(config)
        kernel = cls(config, workdir)
        await kernel._launch()
        return kernel

    async def _launch(self) -> None:
        t0 = time.perf_counter()
        plan = plan_launch(self.config, self.workdir)
        self.plan = plan
        cap = self.config.message_cap_bytes
        relay_ip = str(plan.runtime_dir / "r" / "k") if cap is not None else None
        self.km = SandboxKernelManager(plan, plan.uid, relay_ip=relay_ip, cap=cap or 0)
        self._log = open(plan.log_file, "wb")  # noqa: SIM115 - the kernel's stderr, closed in shutdown()
        try:
            await self.km.start_kernel(
                env=plan.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                pass_fds=plan.pass_fds,
                cwd=str(plan.workdir),
            )
        except OSError as err:
            await self.shutdown()
            raise KernelStartError(f"could not launch the kernel command {plan.argv[0]!r}: {err}") from err
        finally:
            plan.close_fds()
        if cap is not None and relay_ip is not None:
            out_cap = self.config.output_cap_bytes
            self.relay = start_relay(plan.connection_file, plan.runtime_dir / "r", cap, out_cap, self._log)
            self.client = self.km.client(relay_ip=relay_ip, message_cap=cap)
            self.client.start_channels(stdin=False, hb=False, control=False)
        else:
            self.client = self.km.client()
            self.client.start_channels()
        try:
            self._start_watchdog()
            await self._wait_ready()
        except KernelStartError:
            await self.shutdown()
            raise
        self.kernel_pid = self._find_kernel_pid()
        self.started_at = time.perf_counter()
        logger.debug("kernel ready in %.3f s (pid %s)", self.started_at - t0, self.kernel_pid)

    async def _wait_ready(self) -> None:
        """Wait until the kernel answers ``kernel_info`` on shell AND its iopub status reaches our client.

        A shell reply alone does not prove the iopub subscription is live (ZeroMQ subscriptions connect
        asynchronously); a cell sent before it is would lose its busy/idle messages and hang until its
        timeout. So ``kernel_info`` is re-sent until an iopub message answering it arrives.
        """
        assert self.client is not None
        deadline = time.monotonic() + self.config.startup_timeout_s
        shell_ok = False
        pending: set[str] = {self.client.kernel_info()}
        resend_at = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            if not await self.is_alive():
                raise KernelStartError(
                    f"the kernel {self.exit_reason()} while starting. Kernel log:\n{self.log_tail()}"
                )
            try:
                reply = await self.client.get_shell_msg(timeout=0.02)
                if reply.get("parent_header", {}).get("msg_id") in pending:
                    shell_ok = True
            except (queue.Empty, TimeoutError):
                pass
            try:
                msg = await self.client.get_iopub_msg(timeout=0.02)
                if shell_ok and msg.get("parent_header", {}).get("msg_id") in pending:
                    await self._drain_iopub()
                    return
            except (queue.Empty, TimeoutError):
                pass
            if shell_ok and time.monotonic() >= resend_at:
                pending.add(self.client.kernel_info())
                resend_at = time.monotonic() + 0.5
        raise KernelStartError(
            f"the kernel did not answer within {self.config.startup_timeout_s:.0f} s of starting. "
            f"Kernel log:\n{self.log_tail()}"
        )

    async def _drain_iopub(self) -> None:
        assert self.client is not None
        while True:
            try:
                await self.client.get_iopub_msg(timeout=0.01)
            except (queue.Empty, TimeoutError):
                return

    def _start_watchdog(self) -> None:
        quota = self.config.limits.disk_quota_mb
        plan = self.plan
        if quota is None or plan is None:
            return
        try:
            self.watchdog = DiskWatchdog(
                [plan.workdir, plan.socket_dir],
                quota * 2**20,
                self.config.limits.disk_quota_entries,
                self.config.disk_check_interval_s,
                self.sandbox_pids,
                self._over_quota,
            )
        except OSError as err:
            raise KernelStartError(
                f"could not watch the kernel's directory {plan.workdir} for its quota: {err}"
            ) from err
        self.watchdog.start()

    def _over_quota(self, breach: Breach) -> None:
        """Called from the watchdog thread: record why, then kill the whole sandbox."""
        quota = self.config.limits.disk_quota_mb or 0
        self.stopped = ("DiskQuotaExceeded", describe(breach, quota * 2**20, self.config.limits.tmp_size_mb))
        logger.warning("kernel in %s stopped: %s", self.workdir, self.stopped[1])
        self.kill_now()

    def sandbox_pids(self) -> list[int]:
        """Every host pid of this kernel's sandbox: its cgroup's members, else the launcher and its descendants."""
        plan = self.plan
        if plan is not None and plan.cgroup is not None:
            return plan.cgroup.pids()
        proc = self.process
        if proc is None:
            return []
        try:
            root = psutil.Process(proc.pid)
            return [proc.pid, *(c.pid for c in root.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    def kill_now(self) -> None:
        """SIGKILL every process of the sandbox (safe from any thread); ``shutdown`` still cleans up."""
        for pid in self.sandbox_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue

    def _find_kernel_pid(self) -> int | None:
        proc = self.process
        if proc is None:
            return None
        head = [str(self.config.python), "-m", "ipykernel_launcher"]
        try:
            for child in psutil.Process(proc.pid).children(recursive=True):
                try:
                    if child.cmdline()[:3] == head:
                        return int(child.pid)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
        except psutil.NoSuchProcess:
            return None
        return proc.pid if self.config.isolation == "rlimits-only" else None

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The launcher process (bwrap, or the kernel itself in rlimit-only mode)."""
        prov = self.km.provisioner if self.km is not None else None
        return getattr(prov, "process", None)

    async def is_alive(self) -> bool:
        """True while the launcher process and the message relay run; a dead relay stops the kernel."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return False
        if self.relay is not None and self.relay.poll() is not None:
            self._relay_died()
            return False
        return True

    def _relay_died(self) -> None:
        if self.stopped is None and not self.started_at:
            self.stopped = (
                "KernelDied",
                f"was stopped because its message relay {_describe_exit(self.relay.poll() if self.relay else None)}",
            )
        if self.stopped is None:
            cap = self.config.message_cap_bytes or 0
            self.stopped = (
                "MessageTooLarge",
                f"the kernel sent more output at once than the host takes in (its message relay, limited to "
                f"{relay_budget_mb(cap)} MB, {_describe_exit(self.relay.poll() if self.relay else None)}); the "
                "kernel was stopped and a new one started (variables are lost; files stay). Print or display less "
                "at once: summarise large arrays and tables, and write big results to files in the run directory.",
            )
            logger.warning("kernel in %s stopped: %s", self.workdir, self.stopped[1])
        self.kill_now()

    def exit_reason(self) -> str:
        """Why the kernel ended: exit code or signal, and an OOM kill where the cgroup recorded one."""
        if self.stopped is not None:
            return self.stopped[1]
        proc = self.process
        code = proc.poll() if proc is not None else None
        reason = _describe_exit(code)
        plan = self.plan
        if plan is not None and plan.cgroup is not None and plan.cgroup.oom_kills() > 0:
            reason += " (out of memory: the cgroup's OOM killer ended it)"
        elif code in (-signal.SIGKILL, 128 + signal.SIGKILL):
            reason += " (possibly out of memory)"
        return reason

    def log_tail(self) -> str:
        """The last few KB of the kernel's stderr."""
        if self.plan is None:
            return ""
        try:
            data = self.plan.log_file.read_bytes()
        except OSError:
            return ""
        return data[-_LOG_TAIL_BYTES:].decode("utf-8", "replace")

    def reset_peak_memory(self) -> None:
        """Start a new peak-memory window (per cell)."""
        plan = self.plan
        if plan is not None and plan.cgroup is not None:
            plan.cgroup.reset_peak()
        if self.kernel_pid is not None:
            try:
                Path(f"/proc/{self.kernel_pid}/clear_refs").write_text("5")
            except OSError as err:
                logger.debug("could not reset VmHWM: %s", err)

    def peak_memory_mb(self) -> float | None:
        """Peak resident memory since the last reset: the kernel's VmHWM, else its cgroup's peak."""
        if self.kernel_pid is not None:
            try:
                for line in Path(f"/proc/{self.kernel_pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        return round(int(line.split()[1]) / 1024, 1)
            except OSError:
                pass
        plan = self.plan
        if plan is not None and plan.cgroup is not None and plan.cgroup.version == 1:
            peak = plan.cgroup.peak_memory_bytes()
            if peak is not None:
                return round(peak / 2**20, 1)
        return None

    async def interrupt(self) -> None:
        """Ask the kernel to interrupt the running cell (``interrupt_request`` on the control channel)."""
        if self.km is not None:
            await self.km.interrupt_kernel()

    async def shutdown(self) -> None:
        """Kill the kernel and everything it started, then remove its runtime directory and cgroup."""
        if self.watchdog is not None:
            await asyncio.to_thread(self.watchdog.stop)
        if self.client is not None:
            self.client.stop_channels()
        if self.km is not None and self.km.has_kernel:
            try:
                await self.km.shutdown_kernel(now=True)
            except (OSError, RuntimeError) as err:
                logger.debug("shutdown_kernel: %s", err)
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if self.relay is not None and self.relay.poll() is None:
            self.relay.kill()
            self.relay.wait(5)
        if self.plan is not None:
            await asyncio.to_thread(self.plan.cleanup)
        if self._log is not None:
            self._log.close()
            self._log = None
