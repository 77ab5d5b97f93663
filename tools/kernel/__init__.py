"""Sandboxed Jupyter kernels: a warm pool of ipykernel kernels behind bubblewrap, seccomp, rlimits and setpriv.

Public API: ``KernelPool`` / ``SyncKernelPool`` / ``run_code`` (local sandboxed kernels), ``Session.execute``
returning a typed ``CellResult``, ``GatewaySession`` (the same ``execute`` against a Jupyter Kernel/Enterprise
Gateway), and the configuration ``KernelConfig`` / ``SandboxLimits``. See docs/kernel.md. Does not decide
what code to run (the research loop does) and never imports ``assistant``.
"""

from __future__ import annotations

from tools.kernel.config import (
    GatewayError,
    KernelConfig,
    KernelError,
    KernelStartError,
    SandboxLimits,
    SandboxUnavailableError,
)
from tools.kernel.gateway import GatewaySession
from tools.kernel.pool import KernelPool, SyncKernelPool, SyncSession, run_code, split_cells
from tools.kernel.results import CellOutput, CellResult, CellStatus
from tools.kernel.sandbox import bwrap_status
from tools.kernel.session import Session

__all__ = [
    "CellOutput",
    "CellResult",
    "CellStatus",
    "GatewayError",
    "GatewaySession",
    "KernelConfig",
    "KernelError",
    "KernelPool",
    "KernelStartError",
    "SandboxLimits",
    "SandboxUnavailableError",
    "Session",
    "SyncKernelPool",
    "SyncSession",
    "bwrap_status",
    "run_code",
    "split_cells",
]
