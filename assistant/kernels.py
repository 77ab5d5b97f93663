"""Kernels for a run, from settings: local sandboxed kernels, or remote ones on a Jupyter gateway.

Covers mapping ``KernelSettings`` onto ``tools.kernel.KernelConfig`` (one place, used by ``ara kernel``, the
research loop, campaigns and the TUI) and choosing the pool: ``tools.kernel.KernelPool`` locally, or
``GatewayPool`` when ``kernel.gateway_url`` is set, so runs and campaigns spread over a cluster by configuration
alone. Does not execute code itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.paths import ensure_state_dir
from assistant.settings import Settings
from tools.datasets import heldout_sources
from tools.kernel import GatewayError, GatewaySession, KernelConfig, KernelPool, SandboxLimits


def kernel_config(settings: Settings, staging_dir: Path | None = None) -> KernelConfig:
    """The ``tools.kernel`` configuration for ``settings.kernel``.

    The datasets' source files are always hidden from kernels (``tools.datasets.heldout_sources``): held-out labels
    are scored on the host, and code that could read the sources could recompute them.
    """
    k = settings.kernel
    return KernelConfig(
        isolation=k.isolation,
        limits=SandboxLimits(
            memory_mb=k.memory_mb,
            cpu_seconds=k.cpu_seconds,
            max_processes=k.max_processes,
            file_size_mb=k.file_size_mb,
            open_files=k.open_files,
            disk_quota_mb=k.disk_quota_mb,
            tmp_size_mb=k.tmp_size_mb,
        ),
        cell_timeout_s=k.cell_timeout_s,
        output_cap_bytes=k.output_cap_bytes,
        sandbox_uid=k.sandbox_uid,
        readonly_paths=tuple(k.readonly_paths),
        hidden_paths=tuple(heldout_sources()),
        staging_dir=staging_dir,
    )


@dataclass
class GatewayPool:
    """A pool-shaped front for remote kernels: each ``acquire`` starts one kernel on the gateway."""

    url: str
    token: str | None
    config: KernelConfig
    sessions: list[GatewaySession] = field(default_factory=list)

    async def acquire(self, run_dir: Path) -> GatewaySession:
        """A new remote kernel working in ``run_dir`` (as a local one does), its outputs (figures) saved there.

        The kernel changes into ``run_dir`` first, so a recipe's ``./results.json`` lands in the run: the
        gateway's kernels must see the run directory at the same path (the same machine, or shared storage
        mounted alike on the kernel hosts).

        Raises:
            GatewayError: the gateway failed, or its kernel cannot enter ``run_dir``.
        """
        session = await GatewaySession.start(self.url, self.token, run_dir, self.config)
        self.sessions.append(session)
        enter = await session.execute(
            f"import os as _ara_os\n_ara_os.makedirs({str(run_dir)!r}, exist_ok=True)\n_ara_os.chdir({str(run_dir)!r})\n"
            "del _ara_os"
        )
        if enter.status != "ok":
            raise GatewayError(
                f"the gateway's kernel at {self.url} cannot work in the run directory {run_dir} ({enter.error_name}: "
                f"{enter.error_value}); mount the workspace on the kernel hosts at the same path (see "
                "docs/campaigns.md, 'Kernels on a cluster')"
            )
        return session

    async def shutdown(self) -> None:
        """Delete every kernel this pool started."""
        while self.sessions:
            await self.sessions.pop().close()


def kernel_pool(settings: Settings) -> Any:
    """The kernels for one run: remote when ``kernel.gateway_url`` is set, else local sandboxed kernels.

    A local pool keeps no warm spare (one run needs one kernel; ``ara kernel`` and benchmarks keep their own).

    Raises:
        tools.kernel.SandboxUnavailableError: when starting a local kernel, if bwrap is missing and isolation is bwrap.
    """
    k = settings.kernel
    staging = ensure_state_dir(settings.workspace, "kernel-staging")
    if k.gateway_url:
        token = k.gateway_token.get_secret_value() if k.gateway_token else None
        return GatewayPool(k.gateway_url, token, kernel_config(settings, staging))
    return KernelPool(kernel_config(settings, staging), size=0)
