"""Configuration and errors of sandboxed kernels: limits, paths, isolation mode.

Covers the pydantic models a caller fills (``SandboxLimits``, ``KernelConfig``) and the errors ``tools.kernel``
raises. Does not read ara's settings: ``assistant.cli.kernel`` maps ``KernelSettings`` onto ``KernelConfig`` so
``tools`` never imports ``assistant``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.errors import ToolError, UserInputError

Isolation = Literal["bwrap", "rlimits-only"]

TOOLS_DIR = Path(__file__).resolve().parent.parent
"""The project's ``tools`` package, bound read-only into every sandbox so ``import tools.w2s`` works."""


class SandboxLimits(BaseModel):
    """Hard limits applied to one kernel (prlimit, tmpfs size, optional cgroup)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_mb: int = Field(default=3072, ge=128)
    """Address-space limit (RLIMIT_AS) and, where a cgroup is writable, the cgroup memory limit."""
    cgroup_memory_mb: int | None = Field(default=None, ge=64)
    """Cgroup memory limit when it should differ from ``memory_mb`` (None = same); only used with a cgroup."""
    cpu_seconds: int = Field(default=1800, ge=1)
    """CPU-time limit (RLIMIT_CPU) of the kernel process."""
    max_processes: int = Field(default=64, ge=4)
    """RLIMIT_NPROC for the sandbox uid, and the cgroup ``pids`` limit where available."""
    file_size_mb: int = Field(default=512, ge=1)
    """Largest file a kernel may write (RLIMIT_FSIZE)."""
    open_files: int = Field(default=256, ge=32)
    """Open file descriptors (RLIMIT_NOFILE)."""
    tmp_size_mb: int = Field(default=256, ge=1)
    """Size of the private /tmp tmpfs (tmpfs pages sit outside RLIMIT_AS, so they are capped here)."""
    disk_quota_mb: int | None = Field(default=2048, ge=1)
    """Disk the kernel may fill in its writable host directories (the run directory and its socket directory),
    counted in allocated blocks by a host watchdog that stops the kernel past it (``tools.kernel.quota``); each
    file is also capped at this size through RLIMIT_FSIZE. None = no watchdog (unguarded; for measurements)."""
    disk_quota_entries: int = Field(default=200_000, ge=100)
    """Files and directories the watchdog measures in one scan; a writable tree holding more is over the quota."""


class KernelConfig(BaseModel):
    """How kernels are started: isolation, limits, paths, timeouts and output caps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    isolation: Isolation = "bwrap"
    """``bwrap``: namespaces + seccomp + rlimits + dropped privileges. ``rlimits-only``: NOT isolated; warns."""
    limits: SandboxLimits = Field(default_factory=SandboxLimits)
    """Resource limits per kernel."""
    cell_timeout_s: float = Field(default=300.0, gt=0)
    """Default wall-clock limit for one cell when ``execute`` gets no timeout."""
    interrupt_grace_s: float = Field(default=0.8, gt=0, le=10)
    """How long a timed-out cell may take to stop after the interrupt before the kernel is killed."""
    startup_timeout_s: float = Field(default=30.0, gt=0)
    """How long a kernel may take to answer its first ``kernel_info`` request."""
    output_cap_bytes: int = Field(default=1_000_000, ge=1024)
    """Stream text kept per cell (stdout and stderr each); the rest is cut with an explicit marker."""
    message_cap_bytes: int | None = Field(default=8 * 2**20, ge=65536)
    """Largest kernel message the host takes in: a relay process (``tools.kernel.relay``) with a memory limit of
    its own sits between the kernel's sockets and the host client and drops bigger messages unread, leaving a
    marker. None = connect straight to the kernel (unguarded; for measurements)."""
    disk_check_interval_s: float = Field(default=0.2, gt=0, le=5)
    """Pause between two disk-quota scans (a scan of a large tree waits longer: 4 x its own duration)."""
    sandbox_uid: int = Field(default=65534, ge=1)
    """Unprivileged uid (and gid) every kernel runs as when ara runs as root and ``uid_range`` is None."""
    uid_range: tuple[int, int] | None = (1_000_000, 2_000_000)
    """When ara runs as root, each kernel runs as its own uid drawn from ``[start, end)``, so RLIMIT_NPROC counts
    only that kernel's processes (one idle ipykernel already has ~11 threads). None = all share ``sandbox_uid``."""
    use_cgroup: Literal["auto", "never", "require"] = "auto"
    """Memory + pids cgroup per kernel: ``auto`` = where the cgroup tree is writable."""
    python: Path = Field(default_factory=lambda: Path(sys.executable))
    """Python that runs ipykernel (the venv's); its venv and base install are bound read-only."""
    tools_dir: Path = TOOLS_DIR
    """The ``tools`` package bound read-only at ``/ara/lib/tools`` (on the kernel's PYTHONPATH)."""
    readonly_paths: tuple[Path, ...] = ()
    """Extra host paths (datasets, model files) bound read-only at the same path."""
    hidden_paths: tuple[Path, ...] = ()
    """Files or directories inside the bound trees that kernels must not read (held-out data sources): each is
    covered by an empty read-only file or directory. Only ``bwrap`` isolation can hide."""
    model_socket: Path | None = None
    """A model proxy's Unix socket (``tools.kernel.modelproxy``) to bind read-only at ``/ara/model`` so kernel code
    can call the run's subject model without network access; None = no model endpoint in the sandbox."""
    model_name: str | None = None
    """The model name kernel code sends through ``model_socket`` (``ARA_MODEL_NAME``); chosen by the host."""
    staging_dir: Path | None = None
    """Where warm kernels' empty run directories wait; put it on the filesystem of the run directories so an
    acquire is a rename. None = a private temporary directory (an acquire on another filesystem cold-starts)."""


class KernelError(ToolError):
    """A sandboxed kernel could not be started, reached or controlled."""


class KernelStartError(KernelError):
    """A kernel exited or did not answer while starting; the message carries its log tail."""


class SandboxUnavailableError(UserInputError):
    """bwrap is missing or cannot create namespaces and rlimit-only mode was not chosen."""


class GatewayError(KernelError):
    """A Jupyter Kernel/Enterprise Gateway is down, refused the token, or answered something unexpected."""
