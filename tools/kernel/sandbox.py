"""The launch chain of one sandboxed kernel: optional cgroup → bwrap → prlimit → setpriv → ipykernel.

Covers building the command line, the minimal environment, the per-kernel runtime directory (connection file,
Unix sockets, seccomp program, log), a memory + pids cgroup where the cgroup tree is writable (v1 or v2), and
the one-time check that bubblewrap can create namespaces here. Does not talk to the kernel (``tools.kernel.local``
does) and does not decide which run directory a kernel gets (``tools.kernel.pool`` does).

Inside the sandbox: ``/usr`` (with the merged-usr symlinks), the Python install and its venv read-only at
their host paths, a short ``/etc`` list plus a synthetic passwd/group, ``tools`` read-only at
``/ara/lib/tools``, the run directory read-write at ``/ara/run`` (the kernel's cwd and the only writable host
path), a private size-capped ``/tmp``, fresh ``/proc`` and ``/dev``, the directory of the run's model proxy socket
read-only at ``/ara/model`` when ``KernelConfig.model_socket`` is set (``ARA_MODEL_SOCKET`` and ``ARA_MODEL_NAME``
name it; no key is ever passed), and nothing else.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tools.kernel.config import KernelConfig, SandboxUnavailableError
from tools.kernel.modelproxy import MODEL_MOUNT
from tools.kernel.owners import owner_tag
from tools.kernel.seccomp import build_filter

logger = logging.getLogger(__name__)

RUN_MOUNT = Path("/ara/run")
"""Where the run directory appears inside the sandbox (also the kernel's cwd)."""
LIB_MOUNT = Path("/ara/lib")
"""On the kernel's PYTHONPATH; ``tools`` is bound below it."""

_ETC_FILES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "hosts", "mime.types",
    "fonts", "alternatives",
)  # fmt: skip
_MERGED_USR = ("bin", "sbin", "lib", "lib64", "lib32", "libx32")


def _mb(n: int) -> int:
    return n * 1024 * 1024


@functools.cache
def bwrap_status() -> tuple[bool, str]:
    """Whether bubblewrap can start a process with every namespace this sandbox uses, and why not."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, "bubblewrap (bwrap) is not installed"
    probe = [
        bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--ro-bind", "/usr", "/usr", *_merged_usr_args(), "--proc", "/proc",
        "--dev", "/dev", "--", "true",
    ]  # fmt: skip
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=20, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"bwrap could not run: {err}"
    if done.returncode != 0:
        return False, f"bwrap cannot create namespaces here: {done.stderr.strip() or done.returncode}"
    return True, "ok"


def require_isolation(config: KernelConfig) -> None:
    """Refuse to start kernels without a working sandbox unless ``rlimits-only`` was chosen (then warn loudly).

    Raises:
        SandboxUnavailableError: bwrap is missing or cannot create namespaces and isolation is ``bwrap``.
    """
    if config.isolation == "rlimits-only":
        logger.warning(
            "UNSAFE: kernel.isolation = 'rlimits-only': model-written code runs WITHOUT namespaces, seccomp or "
            "a private filesystem; it can read your files and secrets and reach the network. Use only for code "
            "you trust."
        )
        return
    ok, why = bwrap_status()
    if not ok:
        raise SandboxUnavailableError(
            f"cannot sandbox kernels: {why}. Install bubblewrap (apt-get install bubblewrap) and allow "
            "unprivileged user namespaces, or set kernel.isolation = 'rlimits-only' to run code UNISOLATED."
        )


def _merged_usr_args() -> list[str]:
    args: list[str] = []
    for name in _MERGED_USR:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    return args


@dataclass
class Cgroup:
    """A memory + pids cgroup for one kernel (v1: two directories, v2: one)."""

    version: int
    dirs: dict[str, Path]
    """controller ('memory', 'pids', or 'unified') -> cgroup directory."""

    @property
    def procs_files(self) -> list[Path]:
        """The ``cgroup.procs`` files a launcher writes its pid into before exec."""
        return [d / "cgroup.procs" for d in self.dirs.values()]

    def _read(self, controller: str, name: str) -> str | None:
        path = self.dirs[controller] / name
        try:
            return path.read_text()
        except OSError:
            return None

    def reset_peak(self) -> None:
        """Start a new peak-memory window (v1 only; v2's memory.peak is lifetime-wide before Linux 6.12)."""
        if self.version == 1:
            try:
                (self.dirs["memory"] / "memory.max_usage_in_bytes").write_text("0")
            except OSError as err:
                logger.debug("could not reset cgroup peak: %s", err)

    def peak_memory_bytes(self) -> int | None:
        """Peak memory charged to the cgroup, where the kernel exposes it."""
        text = (
            self._read("memory", "memory.max_usage_in_bytes")
            if self.version == 1
            else self._read("unified", "memory.peak")
        )
        return int(text) if text and text.strip().isdigit() else None

    def oom_kills(self) -> int:
        """How many processes the cgroup's OOM killer has killed."""
        text = (
            self._read("memory", "memory.oom_control") if self.version == 1 else self._read("unified", "memory.events")
        )
        for line in (text or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def pids(self) -> list[int]:
        """Processes still in the cgroup."""
        seen: set[int] = set()
        for procs in self.procs_files:
            try:
                seen.update(int(p) for p in procs.read_text().split())
            except OSError:
                continue
        return sorted(seen)

    def destroy(self, wait_s: float = 3.0) -> None:
        """Kill whatever is left in the cgroup and remove it (waiting up to ``wait_s`` for the dead to go)."""
        deadline = time.monotonic() + wait_s
        pending = dict(self.dirs)
        while pending:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
            for key, d in list(pending.items()):
                try:
                    d.rmdir()
                    del pending[key]
                except FileNotFoundError:
                    del pending[key]
                except OSError as err:
                    if time.monotonic() > deadline:
                        logger.warning("could not remove cgroup %s: %s", d, err)
                        del pending[key]
            if pending:
                time.sleep(0.02)


def _own_cgroup_paths() -> dict[str, str]:
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else ["unified"]:
            paths[c] = path
    return paths


def _cgroup_mounts() -> dict[str, Path]:
    mounts: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        fstype, _, options = right.split()[0], None, right.split()[-1]
        if fstype == "cgroup2":
            mounts.setdefault("unified", Path(fields[4]))
        elif fstype == "cgroup":
            for opt in options.split(","):
                if opt in ("memory", "pids"):
                    mounts[opt] = Path(fields[4])
    return mounts


def cgroup_parents() -> dict[str, Path]:
    """Where this process may create kernel cgroups: v1 ``{"memory": dir, "pids": dir}``, v2 ``{"unified": dir}``
    (only where ``memory`` and ``pids`` are enabled in its ``cgroup.subtree_control``), or {} when neither."""
    try:
        own, mounts = _own_cgroup_paths(), _cgroup_mounts()
        if "memory" in mounts and "pids" in mounts and "memory" in own and "pids" in own:
            return {c: mounts[c] / own[c].lstrip("/") for c in ("memory", "pids")}
        if "unified" in mounts and "unified" in own:
            parent = mounts["unified"] / own["unified"].lstrip("/")
            enabled = (parent / "cgroup.subtree_control").read_text().split()
            if "memory" in enabled and "pids" in enabled:
                return {"unified": parent}
    except OSError as err:
        logger.debug("no cgroup tree: %s", err)
    return {}


def create_cgroup(config: KernelConfig, name: str) -> Cgroup | None:
    """A fresh memory + pids cgroup below this process's own, or None where the tree is not writable.

    Raises:
        SandboxUnavailableError: ``use_cgroup = 'require'`` and no writable cgroup was found.
    """
    if config.use_cgroup == "never":
        return None
    limits = config.limits
    mem = _mb(limits.cgroup_memory_mb or limits.memory_mb)
    parents = cgroup_parents()
    try:
        if "memory" in parents:
            dirs = {c: parent / name for c, parent in parents.items()}
            for d in dirs.values():
                d.mkdir()
            (dirs["memory"] / "memory.limit_in_bytes").write_text(str(mem))
            (dirs["pids"] / "pids.max").write_text(str(limits.max_processes))
            return Cgroup(1, dirs)
        if "unified" in parents:
            d = parents["unified"] / name
            d.mkdir()
            (d / "memory.max").write_text(str(mem))
            (d / "memory.swap.max").write_text("0")
            (d / "pids.max").write_text(str(limits.max_processes))
            return Cgroup(2, {"unified": d})
    except OSError as err:
        logger.debug("no writable cgroup: %s", err)
    if config.use_cgroup == "require":
        raise SandboxUnavailableError(
            "kernel cgroup required (use_cgroup='require') but no writable memory+pids cgroup was found; "
            "run ara where it may create cgroups or set use_cgroup='auto'"
        )
    return None


@dataclass
class LaunchPlan:
    """Everything needed to start one kernel process; ``cleanup`` removes what it created."""

    argv: list[str]
    env: dict[str, str]
    runtime_dir: Path
    socket_dir: Path
    connection_file: Path
    log_file: Path
    pass_fds: tuple[int, ...]
    cgroup: Cgroup | None
    workdir: Path
    uid: int | None
    """The kernel's uid when ara runs as root (None otherwise)."""
    _fds: list[int] = field(default_factory=list)

    def close_fds(self) -> None:
        """Close the descriptors handed to the launcher (after it started)."""
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                continue
        self._fds.clear()

    def cleanup(self) -> None:
        """Close descriptors, destroy the cgroup and remove the runtime directory."""
        self.close_fds()
        if self.cgroup is not None:
            self.cgroup.destroy()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)


def _venv_paths(python: Path) -> list[Path]:
    """The venv of ``python`` and the base install it points at (both bound read-only)."""
    paths = [python.parent.parent]
    cfg = python.parent.parent / "pyvenv.cfg"
    if cfg.is_file():
        for line in cfg.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home":
                paths.append(Path(value.strip()).parent)
    resolved = python.resolve()
    paths.append(resolved.parent.parent)
    if python.parent.parent.resolve() == Path(sys.prefix).resolve():
        paths.append(Path(sys.base_prefix))
    unique: list[Path] = []
    for p in paths:
        if p not in unique and str(p) not in ("/", "/usr") and not str(p).startswith("/usr/"):
            unique.append(p)
    return unique


def _hide_args(hidden: Iterable[Path], roots: Iterable[Path], empty: Path) -> list[str]:
    """Cover each hidden path that is visible in the sandbox with an empty read-only file or directory under
    ``empty`` (not ``/dev/null``: binds are ``nodev``, so opening it would fail rather than read nothing).

    A hidden path inside a bound tree is covered where it is; a bound tree inside a hidden directory (a
    ``readonly_paths`` entry pointing into a dataset) is covered whole. Paths are compared resolved, so a symlink
    on either side does not dodge the check; a hidden path outside every bound tree is already invisible.
    """
    bound = {Path(os.path.abspath(r)): Path(os.path.realpath(r)) for r in roots}
    args: list[str] = []
    covered: set[Path] = set()

    def cover(target: Path, like: Path) -> None:
        if target in covered:
            return
        covered.add(target)
        args.extend(["--ro-bind", str(empty / ("dir" if like.is_dir() else "file")), str(target)])

    for path in hidden:
        if not os.path.exists(path):
            continue
        real = Path(os.path.realpath(path))
        for mount, root in bound.items():
            if real.is_relative_to(root):
                cover(mount / real.relative_to(root), real)
            elif root.is_relative_to(real):
                cover(mount, root)
    return args


def _dir_args(targets: Iterable[Path]) -> list[str]:
    """``--perms 0755 --dir`` for every ancestor of the bind targets, so uid 65534 can traverse them."""
    needed: set[Path] = set()
    for t in targets:
        needed.update(p for p in t.parents if str(p) != "/")
    args: list[str] = []
    for d in sorted(needed, key=lambda p: len(p.parts)):
        args += ["--perms", "0755", "--dir", str(d)]
    return args


def _model_env(config: KernelConfig) -> dict[str, str]:
    """``ARA_MODEL_SOCKET``/``ARA_MODEL_NAME`` for a kernel with a model proxy (the path as the kernel sees it)."""
    if config.model_socket is None:
        return {}
    inside = MODEL_MOUNT / config.model_socket.name if config.isolation == "bwrap" else config.model_socket
    return {"ARA_MODEL_SOCKET": str(inside), "ARA_MODEL_NAME": config.model_name or "subject"}


def _inner_env(config: KernelConfig, workdir: Path) -> dict[str, str]:
    venv_bin = str(config.python.parent)
    return _model_env(config) | {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "USER": "sandbox",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": str(LIB_MOUNT) if config.isolation == "bwrap" else str(config.tools_dir.parent),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": "/tmp/.ipython" if config.isolation == "bwrap" else str(workdir / ".ipython"),
        "MPLCONFIGDIR": "/tmp/.mplconfig" if config.isolation == "bwrap" else str(workdir / ".mplconfig"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "ARA_STREAM_LIMIT": str(config.output_cap_bytes + 1),  # read by kernel_startup.py (one past: cut is seen)
    }


def _rlimit_args(config: KernelConfig) -> list[str]:
    lim = config.limits
    return [
        "prlimit",
        f"--as={_mb(lim.memory_mb)}",
        f"--cpu={lim.cpu_seconds}",
        f"--nproc={lim.max_processes}",
        f"--fsize={_mb(min(lim.file_size_mb, lim.disk_quota_mb or lim.file_size_mb))}",
        f"--nofile={lim.open_files}",
        "--core=0",
        "--",
    ]


def _setpriv_args(uid: int | None) -> list[str]:
    if uid is None:
        return ["setpriv", "--no-new-privs", "--"]
    return [
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
        "--bounding-set=-all", "--no-new-privs", "--",
    ]  # fmt: skip


def pick_uid(config: KernelConfig) -> int | None:
    """The uid for a new kernel: None when not root, else one from ``uid_range`` (or ``sandbox_uid``)."""
    if os.geteuid() != 0:
        return None
    if config.uid_range is None:
        return config.sandbox_uid
    start, end = config.uid_range
    return secrets.randbelow(max(1, end - start)) + start


def own_tree(path: Path, uid: int | None) -> None:
    """Give ``path`` and everything below it to ``uid`` (links themselves, never their targets)."""
    if uid is None:
        return
    os.chown(path, uid, uid, follow_symlinks=False)
    for top, dirs, files in os.walk(path, followlinks=False):
        for name in (*dirs, *files):
            try:
                os.chown(os.path.join(top, name), uid, uid, follow_symlinks=False)
            except FileNotFoundError:
                continue


def plan_launch(config: KernelConfig, workdir: Path) -> LaunchPlan:
    """Build the launch of one kernel whose only writable host directory is ``workdir``.

    The caller starts ``argv`` with ``env`` and ``pass_fds`` (through jupyter-client), then calls
    ``close_fds``; ``cleanup`` after the kernel is gone.
    """
    kid = f"{uuid.uuid4().hex[:12]}-{owner_tag()}"  # the owner tag lets a later pool sweep what a killed one left
    runtime = Path(tempfile.mkdtemp(prefix=f"ara-kernel-{kid}-"))
    os.chmod(runtime, 0o711)
    sockets = runtime / "s"
    sockets.mkdir(mode=0o700)
    uid = pick_uid(config)
    if uid is not None:
        os.chown(sockets, uid, uid)
    own_tree(workdir, uid)
    connection = sockets / "kernel.json"
    log_file = runtime / "kernel.log"
    tools_in_kernel = LIB_MOUNT / "tools" if config.isolation == "bwrap" else config.tools_dir
    kernel_argv = [
        str(config.python), "-m", "ipykernel_launcher", "-f", str(connection),
        "--HistoryManager.enabled=False", "--IPKernelApp.log_level=WARN",
        f"--IPKernelApp.exec_files={tools_in_kernel / 'kernel' / 'kernel_startup.py'}",
    ]  # fmt: skip
    cgroup = create_cgroup(config, f"ara-kernel-{kid}")
    fds: list[int] = []
    if config.isolation == "rlimits-only":
        if config.hidden_paths:
            logger.warning(
                "rlimits-only kernels can read the %d hidden path(s) too; only bwrap hides them",
                len(config.hidden_paths),
            )
        argv = _rlimit_args(config) + _setpriv_args(uid) + kernel_argv
    else:
        bpf = runtime / "seccomp.bpf"
        bpf.write_bytes(build_filter())
        fd = os.open(bpf, os.O_RDONLY)
        fds.append(fd)
        passwd, group = runtime / "passwd", runtime / "group"
        shown = uid if uid is not None else os.getuid()
        passwd.write_text(f"root:x:0:0:root:/root:/bin/sh\nsandbox:x:{shown}:{shown}:sandbox:/tmp:/bin/sh\n")
        group.write_text(f"root:x:0:\nsandbox:x:{shown}:\n")
        ro = [*_venv_paths(config.python), *config.readonly_paths]
        binds_targets = [*ro, RUN_MOUNT, LIB_MOUNT / "tools", sockets, Path("/etc/passwd")]
        if config.model_socket is not None:
            binds_targets.append(MODEL_MOUNT)
        limits = config.limits
        argv = [
            shutil.which("bwrap") or "bwrap",
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "ara-sandbox", "--die-with-parent", "--new-session", "--clearenv",
            "--ro-bind", "/usr", "/usr", *_merged_usr_args(),
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(_mb(limits.tmp_size_mb)), "--perms", "1777", "--tmpfs", "/tmp",
            "--size", str(_mb(limits.tmp_size_mb)), "--perms", "1777", "--tmpfs", "/dev/shm",
            *_dir_args(binds_targets),
        ]  # fmt: skip
        for name in _ETC_FILES:
            argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        argv += ["--ro-bind", str(passwd), "/etc/passwd", "--ro-bind", str(group), "/etc/group"]
        for p in ro:
            argv += ["--ro-bind", str(p), str(p)]
        argv += ["--ro-bind", str(config.tools_dir), str(LIB_MOUNT / "tools")]
        if config.hidden_paths:
            empty = runtime / "empty"
            (empty / "dir").mkdir(parents=True)
            (empty / "file").touch()  # both bound read-only; plain modes keep cleanup simple for any user
            argv += _hide_args(config.hidden_paths, [*ro, Path("/usr")], empty)
        if config.model_socket is not None:  # the socket's own directory, read-only: connect works, nothing else
            argv += ["--ro-bind", str(config.model_socket.parent), str(MODEL_MOUNT)]
        argv += ["--bind", str(sockets), str(sockets), "--bind", str(workdir), str(RUN_MOUNT)]
        argv += ["--chdir", str(RUN_MOUNT)]
        for key, value in _inner_env(config, workdir).items():
            argv += ["--setenv", key, value]
        argv += ["--seccomp", str(fd), "--"]
        argv += _rlimit_args(config) + _setpriv_args(uid) + kernel_argv
    if cgroup is not None:
        script = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 121; shift; n=$((n-1)); done; exec "$@"'
        argv = ["/bin/sh", "-c", script, "ara-cgroup", str(len(cgroup.procs_files)),
                *map(str, cgroup.procs_files), *argv]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"} if config.isolation == "bwrap" else _inner_env(config, workdir)
    return LaunchPlan(
        argv=argv,
        env=env,
        runtime_dir=runtime,
        socket_dir=sockets,
        connection_file=connection,
        log_file=log_file,
        pass_fds=tuple(fds),
        cgroup=cgroup,
        workdir=workdir,
        uid=uid,
        _fds=fds,
    )


def prepare_workdir(path: Path, config: KernelConfig) -> None:
    """Create ``path`` if needed (``plan_launch`` gives it to the kernel's uid)."""
    path.mkdir(parents=True, exist_ok=True)
