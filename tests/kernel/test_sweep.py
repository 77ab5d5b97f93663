"""A pool's start sweeps what a killed pool left behind (runtime dirs, staging folder, cgroups), never a live one's.

The orphans are real: a child process starts a pool with a kernel in use and a warm one, then gets ``kill -9``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant.paths import PROJECT_ROOT
from tests.kernel.conftest import TEST_CONFIG, needs_bwrap
from tools.kernel import SyncKernelPool, owners
from tools.kernel.owners import owner_tag, start_ticks
from tools.kernel.sandbox import cgroup_parents
from tools.kernel.sweep import UNTAGGED_MIN_AGE_S, sweep_orphans

pytestmark = needs_bwrap

_CHILD = """
import sys, time
from pathlib import Path
from tests.kernel.conftest import TEST_CONFIG
from tools.kernel import SyncKernelPool
pool = SyncKernelPool(TEST_CONFIG.model_copy(update={"staging_dir": Path(sys.argv[1])}), size=1)
pool.start()
session = pool.acquire(Path(sys.argv[2]))
assert session.execute("print('x')").stdout == "x\\n"
pool.wait_warm()
print("ready", flush=True)
time.sleep(600)
"""


def _leftovers(tag: str, staging: Path) -> list[Path]:
    """Everything on the host whose name carries the owner ``tag``: runtime dirs, staging folders, cgroups."""
    found = [p for p in Path(tempfile.gettempdir()).iterdir() if f"-{tag}-" in p.name]
    found += [p for p in staging.iterdir() if p.name.endswith(f"-{tag}")]
    for parent in cgroup_parents().values():
        found += [p for p in parent.iterdir() if p.name.endswith(f"-{tag}")]
    return sorted(found)


def test_pool_start_sweeps_a_killed_pools_leftovers_and_keeps_live_ones(tmp_path: Path) -> None:
    live_staging, dead_staging = tmp_path / "live-staging", tmp_path / "dead-staging"
    live_staging.mkdir()
    dead_staging.mkdir()
    live = SyncKernelPool(TEST_CONFIG.model_copy(update={"staging_dir": live_staging}), size=1)
    live.start()
    try:
        with live.session(tmp_path / "live-run") as kept:
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(dead_staging), str(tmp_path / "dead-run")],
                cwd=PROJECT_ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert child.stdout is not None
                assert child.stdout.readline().strip() == "ready"
                dead_tag = f"{os.stat('/proc/self/ns/pid').st_ino}.{child.pid}.{start_ticks(child.pid)}"
                orphans = _leftovers(dead_tag, dead_staging)
                mine = _leftovers(owner_tag(), live_staging)
            finally:
                child.send_signal(signal.SIGKILL)
                child.wait(10)
            n_cgroups = len(cgroup_parents())
            # two runtime dirs (the kernel in use, the warm one), the staging folder, and each kernel's cgroup(s)
            assert len(orphans) == 3 + 2 * n_cgroups, orphans
            assert len(mine) == 3 + 2 * n_cgroups, mine
            with SyncKernelPool(TEST_CONFIG.model_copy(update={"staging_dir": dead_staging}), size=0) as fresh:
                assert [p for p in orphans if p.exists()] == []
                assert [p for p in mine if not p.exists()] == []
                with fresh.session(tmp_path / "fresh-run") as s:
                    assert s.execute("print(2)").stdout == "2\n"
            assert kept.execute("print('still alive')").stdout == "still alive\n"
            assert (tmp_path / "dead-run").is_dir()  # run directories are never swept
    finally:
        live.shutdown()


def test_untagged_leftovers_go_only_when_old_and_unused(tmp_path: Path) -> None:
    tmp = Path(tempfile.gettempdir())
    stale = Path(tempfile.mkdtemp(prefix="ara-kernel-0123456789ab-", dir=tmp))
    recent = Path(tempfile.mkdtemp(prefix="ara-kernel-ba9876543210-", dir=tmp))
    in_use = Path(tempfile.mkdtemp(prefix="ara-kernel-abcdefabcdef-", dir=tmp))
    (stale / "s").mkdir()
    old = time.time() - UNTAGGED_MIN_AGE_S - 60
    os.utime(stale, (old, old))
    os.utime(in_use, (old, old))
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(in_use / "s" / "kernel.json")])
    try:
        deadline = time.monotonic() + 10
        while str(in_use) not in Path(f"/proc/{holder.pid}/cmdline").read_text() and time.monotonic() < deadline:
            time.sleep(0.01)  # until the holder has exec'd
        report = sweep_orphans()
        assert stale in report.removed
        assert not stale.exists()
        assert recent.is_dir()
        assert in_use.is_dir()
        assert (in_use, "in use by a running process") in report.kept
    finally:
        holder.kill()
        holder.wait()
        for p in (recent, in_use):
            p.rmdir()


def test_tag_names_this_process_and_a_reused_pid_is_not_its_owner() -> None:
    ns, pid, start = owner_tag().split(".")
    assert int(pid) == os.getpid()
    assert int(ns) == os.stat("/proc/self/ns/pid").st_ino
    assert int(start) == start_ticks(os.getpid())
    name = f"ara-kernel-0123456789ab-{ns}.{pid}.{int(start) - 1}"  # same pid, earlier start: another process
    match = owners.CGROUP.match(name)
    assert match is not None
    assert owners.owner_state(match) == "gone"
    other_ns = owners.CGROUP.match(f"ara-kernel-0123456789ab-1.{pid}.{start}")
    assert other_ns is not None
    assert owners.owner_state(other_ns) == "unknown"
