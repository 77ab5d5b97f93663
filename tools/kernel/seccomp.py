"""A classic-BPF seccomp filter for sandboxed kernels, assembled here so no library is needed.

Covers the filter bwrap loads with ``--seccomp FD``: it denies (``EPERM``) the syscalls that let code escape or
inspect the sandbox (namespace creation and entry, every mount call, ptrace and cross-process memory access,
BPF, kernel modules and kexec, keyrings, perf events, userfaultfd, reboot/swap/clock changes) and ``clone``
calls that ask for a new namespace. ``clone3`` passes its flags in memory a filter cannot read, so it answers
``ENOSYS`` and the C library falls back to ``clone`` (what Docker and Flatpak do). ``io_uring_setup``,
``io_uring_enter`` and ``io_uring_register`` also answer ``ENOSYS`` ("this kernel has no io_uring"): io_uring runs
file and socket operations from kernel threads that the per-syscall filter never sees, and it has been a steady
source of kernel privilege escalations; libraries that use it (liburing, libuv, Tokio) fall back to plain
syscalls on ``ENOSYS``. Syscalls of a foreign ABI
(i386 ``int 0x80`` on x86-64, x32) are denied outright. Supports x86-64 and aarch64; does not cover other
architectures (``build_filter`` raises there).
"""

from __future__ import annotations

import errno
import platform
import struct

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];
_OFF_NR, _OFF_ARCH, _OFF_ARG0_LO = 0, 4, 16

_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000

CLONE_NAMESPACE_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)
"""Every ``clone`` flag that creates a namespace (``CLONE_NEWTIME`` exists only for unshare/clone3)."""

# name number pairs, from <asm/unistd_64.h> (x86_64) and <asm-generic/unistd.h> (aarch64).
_X86_64 = """
clone 56 clone3 435 unshare 272 setns 308 mount 165 umount2 166 pivot_root 155 chroot 161 open_tree 428
move_mount 429 fsopen 430 fsconfig 431 fsmount 432 fspick 433 mount_setattr 442 ptrace 101
process_vm_readv 310 process_vm_writev 311 bpf 321 perf_event_open 298 userfaultfd 323 init_module 175
finit_module 313 delete_module 176 kexec_load 246 kexec_file_load 320 add_key 248 request_key 249 keyctl 250
name_to_handle_at 303 open_by_handle_at 304 quotactl 179 swapon 167 swapoff 168 reboot 169 acct 163
settimeofday 164 clock_settime 227 iopl 172 ioperm 173 io_uring_setup 425 io_uring_enter 426
io_uring_register 427
"""
_AARCH64 = """
clone 220 clone3 435 unshare 97 setns 268 mount 40 umount2 39 pivot_root 41 chroot 51 open_tree 428
move_mount 429 fsopen 430 fsconfig 431 fsmount 432 fspick 433 mount_setattr 442 ptrace 117
process_vm_readv 270 process_vm_writev 271 bpf 280 perf_event_open 241 userfaultfd 282 init_module 105
finit_module 273 delete_module 106 kexec_load 104 kexec_file_load 294 add_key 217 request_key 218 keyctl 219
name_to_handle_at 264 open_by_handle_at 265 quotactl 60 swapon 224 swapoff 225 reboot 142 acct 89
settimeofday 170 clock_settime 112 io_uring_setup 425 io_uring_enter 426 io_uring_register 427
"""


def _table(text: str) -> dict[str, int]:
    words = text.split()
    return {name: int(nr) for name, nr in zip(words[::2], words[1::2], strict=True)}


_ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, _table(_X86_64)),
    "aarch64": (0xC00000B7, _table(_AARCH64)),
}
_X32_SYSCALL_BIT = 0x40000000

ENOSYS_SYSCALLS: tuple[str, ...] = ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register")
"""Syscalls answered with ENOSYS, so callers take their fallback path instead of failing."""
DENIED_SYSCALLS: tuple[str, ...] = tuple(
    name for name in _ARCHES["x86_64"][1] if name != "clone" and name not in ENOSYS_SYSCALLS
)
"""Syscalls answered with EPERM on every supported architecture (where they exist)."""


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(machine: str | None = None) -> bytes:
    """The filter program as ``struct sock_filter`` bytes for ``bwrap --seccomp FD``.

    Args:
        machine: ``platform.machine()`` value; defaults to this machine's.

    Raises:
        RuntimeError: the architecture has no syscall table here (only x86_64 and aarch64 do).
    """
    machine = machine or platform.machine()
    if machine not in _ARCHES:
        raise RuntimeError(
            f"no seccomp syscall table for architecture {machine!r} (supported: {sorted(_ARCHES)}); "
            "run kernels on x86_64/aarch64 or set kernel.isolation = 'rlimits-only' (unsafe)"
        )
    arch, table = _ARCHES[machine]
    deny = sorted(table[name] for name in table if name != "clone" and name not in ENOSYS_SYSCALLS)
    eperm = RET_ERRNO | errno.EPERM
    enosys = RET_ERRNO | errno.ENOSYS

    # Layout (jumps are relative to the next instruction):
    #   0 ld arch; 1 jeq arch ? 3 : 2; 2 ret EPERM
    #   3 ld nr; [4 jge X32 -> EPERM] ; then one jeq per denied nr -> EPERM
    #   one jeq per ENOSYS nr (clone3, io_uring_*) -> ENOSYS ; jeq clone ? check flags : allow
    #   ld arg0; jset NS ? EPERM : allow ; ret allow ; ret EPERM ; ret ENOSYS
    body: list[tuple[int, int, int, int]] = []
    checks: list[tuple[str, int]] = []
    if machine == "x86_64":
        checks.append(("x32", _X32_SYSCALL_BIT))
    checks += [("deny", nr) for nr in deny]
    checks += [("enosys", table[name]) for name in ENOSYS_SYSCALLS]
    n_checks = len(checks)
    # Instruction indexes after the checks block (relative to the first check):
    #   n_checks + 0: jeq clone ? +0 : skip to allow
    #   n_checks + 1: ld arg0
    #   n_checks + 2: jset NS ? eperm : allow
    #   n_checks + 3: ret allow
    #   n_checks + 4: ret eperm
    #   n_checks + 5: ret enosys
    allow_at, eperm_at, enosys_at = n_checks + 3, n_checks + 4, n_checks + 5
    for i, (kind, value) in enumerate(checks):
        target = {"x32": eperm_at, "deny": eperm_at, "enosys": enosys_at}[kind]
        op = _JGE_K if kind == "x32" else _JEQ_K
        body.append((op, target - i - 1, 0, value))
    i = n_checks
    body.append((_JEQ_K, 0, allow_at - i - 1, table["clone"]))
    body.append((_LD_W_ABS, 0, 0, _OFF_ARG0_LO))
    i = n_checks + 2
    body.append((_JSET_K, eperm_at - i - 1, allow_at - i - 1, CLONE_NAMESPACE_FLAGS))
    body.append((_RET_K, 0, 0, RET_ALLOW))
    body.append((_RET_K, 0, 0, eperm))
    body.append((_RET_K, 0, 0, enosys))
    if any(jt > 255 or jf > 255 for _, jt, jf, _ in body):
        raise AssertionError("seccomp program too long for 8-bit jump offsets")

    head = [
        (_LD_W_ABS, 0, 0, _OFF_ARCH),
        (_JEQ_K, 1, 0, arch),
        (_RET_K, 0, 0, eperm),
        (_LD_W_ABS, 0, 0, _OFF_NR),
    ]
    return b"".join(_insn(*ins) for ins in head + body)


def syscall_table(machine: str | None = None) -> dict[str, int]:
    """The syscall numbers this filter uses for ``machine`` (for tests that cross-check them)."""
    return dict(_ARCHES[machine or platform.machine()][1])
