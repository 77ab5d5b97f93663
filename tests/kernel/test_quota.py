"""The disk quota on a kernel's run directory: the host measures it safely, and a kernel that fills it is stopped.

The attacks run through the real sandbox; the measuring is checked on real files (sparse, hard-linked, symlinked
to a large host tree, deeply nested) against what ``du`` would count.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kernel.conftest import TEST_CONFIG, TEST_LIMITS, needs_bwrap
from tools.kernel import KernelConfig, SyncKernelPool
from tools.kernel.quota import MAX_DEPTH, measure_tree

QUOTA_MB = 48
QUOTA_CONFIG = TEST_CONFIG.model_copy(
    update={"limits": TEST_LIMITS.model_copy(update={"disk_quota_mb": QUOTA_MB, "file_size_mb": 8})}
)
OVERSHOOT_MB = 96
"""How far past the quota a fast writer may get before it is stopped: about 5 ms of writing plus one scan when the
watchdog thread gets a CPU at once (measured 1-17 MB), more on a loaded machine; an unguarded writer would fill GBs."""


def _allocated(path: Path) -> int:
    """Allocated bytes under ``path`` the way ``du`` counts them (no symlinks followed, hard links once)."""
    seen: set[tuple[int, int]] = set()
    total = path.lstat().st_blocks * 512
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(top, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def _snapshot(root: Path, skip: Path) -> dict[str, tuple[int, float]]:
    return {
        str(p): (p.lstat().st_size, p.lstat().st_mtime)
        for p in root.rglob("*")
        if not p.is_relative_to(skip) and not p.is_symlink()
    }


@pytest.fixture
def dir_fd(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    root = tmp_path / "tree"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    yield root, fd
    os.close(fd)


# --- measuring ------------------------------------------------------------------------------------------


def test_measure_counts_allocation_not_links_or_sparse_holes(dir_fd: tuple[Path, int]) -> None:
    root, fd = dir_fd
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "data.bin").write_bytes(os.urandom(3 * 2**20))
    os.link(root / "a" / "data.bin", root / "a" / "b" / "again.bin")  # counted once
    with open(root / "sparse.bin", "wb") as f:
        f.truncate(2**30)  # 1 GB apparent, nothing allocated
    os.symlink("/usr", root / "usr")  # never followed
    os.symlink(root / "a", root / "a" / "b" / "loop")
    usage = measure_tree(fd, 1000)
    assert usage.problem is None
    assert usage.entries == 7
    assert usage.bytes == _allocated(root)
    assert 3 * 2**20 <= usage.bytes < 4 * 2**20


def test_measure_gives_up_on_too_many_entries_or_too_deep(dir_fd: tuple[Path, int]) -> None:
    root, fd = dir_fd
    for i in range(50):
        (root / f"f{i}").touch()
    assert measure_tree(fd, 1000).problem is None
    assert measure_tree(fd, 20).problem == "it holds more than 20 files and directories"
    deep = root.joinpath(*["d"] * (MAX_DEPTH + 2))
    deep.mkdir(parents=True)
    assert measure_tree(fd, 1000).problem == f"its directories nest more than {MAX_DEPTH} levels deep"


# --- attacks --------------------------------------------------------------------------------------------


_FILL = """
import os
buf = b'x' * 2**20
i = 0
while True:
    with open(f'fill-{i}.bin', 'wb') as f:
        for _ in range(8):
            f.write(buf)
    i += 1
"""


@needs_bwrap
def test_filling_the_run_dir_stops_the_kernel_near_the_quota(sandbox_pool: SyncKernelPool, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("host file")
    before = _snapshot(tmp_path, run_dir)
    with sandbox_pool.session(run_dir, QUOTA_CONFIG) as s:
        r = s.execute(_FILL, 60)
        assert r.status == "died", r.text
        assert r.restarted
        assert r.error_name == "DiskQuotaExceeded"
        value = r.error_value or ""
        assert value.startswith(f"the cell wrote more than {QUOTA_MB} MB into its run directory (")
        assert "the kernel was stopped and a new one started (variables are lost; files stay)" in value
        assert "raise kernel.disk_quota_mb (ARA_KERNEL_DISK_QUOTA_MB)" in value
        used = _allocated(run_dir)
        assert QUOTA_MB * 2**20 < used < (QUOTA_MB + OVERSHOOT_MB) * 2**20
        # The new kernel may clean up (the directory is over the quota, so it may shrink but not grow).
        clean = s.execute("import os\nfor f in os.listdir('.'):\n    os.remove(f)\nprint(len(os.listdir('.')))")
        assert (clean.status, clean.stdout) == ("ok", "0\n")
        assert s.execute("open('small.bin', 'wb').write(b'y' * 2**20)").status == "ok"
    assert _snapshot(tmp_path, run_dir) == before


@needs_bwrap
def test_deleted_files_held_open_still_count(sandbox_pool: SyncKernelPool, tmp_path: Path) -> None:
    code = """
import os
held = []
i = 0
while True:
    f = open(f'h-{i}.bin', 'wb')
    for _ in range(8):
        f.write(b'x' * 2**20)
    f.flush()
    os.unlink(f'h-{i}.bin')
    held.append(f)
    i += 1
"""
    run_dir = tmp_path / "run"
    with sandbox_pool.session(run_dir, QUOTA_CONFIG) as s:
        r = s.execute(code, 60)
    assert (r.status, r.error_name) == ("died", "DiskQuotaExceeded")
    # At most the file being written when it was stopped is visible: the rest was held only through descriptors.
    assert _allocated(run_dir) <= 9 * 2**20


@needs_bwrap
def test_background_writer_between_cells_is_stopped(sandbox_pool: SyncKernelPool, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    start = "import threading\nthreading.Thread(target=exec, args=(" + repr(_FILL) + ",), daemon=True).start()"
    with sandbox_pool.session(run_dir, QUOTA_CONFIG) as s:
        assert s.execute(start).status == "ok"
        later = s.execute("import time\ntime.sleep(20)", 60)
    assert (later.status, later.error_name) == ("died", "DiskQuotaExceeded")
    assert _allocated(run_dir) < (QUOTA_MB + OVERSHOOT_MB) * 2**20


@needs_bwrap
def test_run_dir_already_over_quota_may_shrink_but_not_grow(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "earlier.bin").write_bytes(os.urandom((QUOTA_MB + 8) * 2**20))
    config: KernelConfig = QUOTA_CONFIG.model_copy(update={"staging_dir": tmp_path})
    with SyncKernelPool(config, size=1) as pool, pool.session(run_dir) as s:  # a warm kernel, adopted by rename
        assert s.execute("import os\nprint(os.path.getsize('earlier.bin') // 2**20)").stdout == f"{QUOTA_MB + 8}\n"
        grow = s.execute("open('more.bin', 'wb').write(b'z' * 4 * 2**20)\nimport time\ntime.sleep(5)", 30)
        assert (grow.status, grow.error_name) == ("died", "DiskQuotaExceeded")
        assert (grow.error_value or "").startswith(
            f"the cell wrote into a run directory that was already over its {QUOTA_MB} MB quota ("
        )
    assert (run_dir / "earlier.bin").stat().st_size == (QUOTA_MB + 8) * 2**20
