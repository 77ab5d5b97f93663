"""The hand-assembled seccomp program: syscall numbers match libseccomp's, and the program is well formed."""

from __future__ import annotations

import ctypes
import ctypes.util
import struct

import pytest

from tools.kernel.seccomp import DENIED_SYSCALLS, RET_ALLOW, build_filter, syscall_table

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
