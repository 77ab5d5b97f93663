"""The hand-assembled seccomp program: syscall numbers match libseccomp's, the program is well formed, and run
on a small BPF interpreter it gives each syscall the intended verdict (EPERM, ENOSYS or allow)."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import struct

import pytest

from tools.kernel.seccomp import DENIED_SYSCALLS, ENOSYS_SYSCALLS, RET_ALLOW, RET_ERRNO, build_filter, syscall_table

_ARCH_TOKENS = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_syscall_numbers_match_libseccomp(machine: str) -> None:
    name = ctypes.util.find_library("seccomp")
    if name is None:
        pytest.skip("libseccomp is not installed here to cross-check against")
    lib = ctypes.CDLL(name)
    lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name_arch.restype = ctypes.c_int
    ours = syscall_table(machine)
    theirs = {n: lib.seccomp_syscall_resolve_name_arch(_ARCH_TOKENS[machine], n.encode()) for n in ours}
    assert ours == theirs


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_program_shape(machine: str) -> None:
    prog = build_filter(machine)
    insns = [struct.unpack("=HBBI", prog[i : i + 8]) for i in range(0, len(prog), 8)]
    assert len(prog) % 8 == 0
    assert insns[0] == (0x20, 0, 0, 4)  # load arch first
    assert insns[1][3] == _ARCH_TOKENS[machine]
    rets = [k for code, _, _, k in insns if code == 0x06]
    assert RET_ALLOW in rets
    for i, (code, jt, jf, _) in enumerate(insns):
        if code & 0x07 == 0x05:  # jumps stay inside the program
            assert i + 1 + max(jt, jf) < len(insns)
    denied = {k for code, _, _, k in insns if code == 0x15}
    table = syscall_table(machine)
    assert {table[n] for n in DENIED_SYSCALLS if n in table} <= denied


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(RuntimeError, match="no seccomp syscall table for architecture 'riscv64'"):
        build_filter("riscv64")


def _verdict(prog: bytes, arch: int, nr: int, arg0: int = 0) -> int:
    """Run the classic-BPF program on one ``seccomp_data`` (only the opcodes the filter uses)."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    insns = [struct.unpack("=HBBI", prog[i : i + 8]) for i in range(0, len(prog), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:
            acc = struct.unpack_from("=I", data, k)[0]
        elif code == 0x06:
            return k
        else:
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += jt if taken else jf


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_verdicts_per_syscall(machine: str) -> None:
    prog, arch, table = build_filter(machine), _ARCH_TOKENS[machine], syscall_table(machine)
    enosys, eperm = RET_ERRNO | errno.ENOSYS, RET_ERRNO | errno.EPERM
    for name in ("io_uring_setup", "io_uring_enter", "io_uring_register", "clone3"):
        assert _verdict(prog, arch, table[name]) == enosys, name
    assert set(ENOSYS_SYSCALLS) == {"clone3", "io_uring_setup", "io_uring_enter", "io_uring_register"}
    for name in DENIED_SYSCALLS:
        if name in table:
            assert _verdict(prog, arch, table[name]) == eperm, name
    assert _verdict(prog, arch, 0) == RET_ALLOW  # read / io_setup
    assert _verdict(prog, arch, table["clone"], arg0=0x11) == RET_ALLOW  # plain fork
    assert _verdict(prog, arch, table["clone"], arg0=0x10000000) == eperm  # CLONE_NEWUSER
    assert _verdict(prog, 0x40000003, 0) == eperm  # i386 ABI
