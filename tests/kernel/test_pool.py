"""KernelPool / Session behaviour: warm acquire, one kernel per run, typed results, output caps and bad input."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest

from tests.kernel.conftest import TEST_CONFIG, needs_bwrap
from tools.kernel import (
    KernelConfig,
    KernelError,
    KernelPool,
    KernelStartError,
    SyncKernelPool,
    run_code,
    split_cells,
)

pytestmark = needs_bwrap


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.anyio
async def test_pool_hands_each_run_a_fresh_warm_kernel(tmp_path: Path) -> None:
    config = TEST_CONFIG.model_copy(update={"staging_dir": tmp_path})
    pool = KernelPool(config, size=1)
    await pool.start()
    try:
        assert pool.warm_count == 1
        existing = tmp_path / "run-a"
        existing.mkdir()
        (existing / "config.json").write_text('{"seed": 3}')
        t0 = time.perf_counter()
        a = await pool.acquire(existing)
        assert a.kernel is not None
        assert a.kernel.started_at < t0  # the warm kernel was ready before acquire: adopted by rename, not started
        assert pool.warm_count == 0
        r = await a.execute("import json, os\nprint(json.load(open('config.json'))['seed'], os.getcwd())\n"
                            "open('out.txt', 'w').write('from a')")  # fmt: skip
        assert r.stdout == "3 /ara/run\n"
        assert (existing / "out.txt").read_text() == "from a"
        await pool.wait_warm()
        async with pool.session(tmp_path / "run-b") as b:
            assert b.kernel is not a.kernel
            rb = await b.execute("import os; print(sorted(os.listdir('.')))")
            assert rb.stdout == "[]\n"  # nothing of run-a is visible
        assert b.closed
        launcher = a.kernel.process if a.kernel else None
        assert launcher is not None
        await pool.release(a)
        assert launcher.poll() is not None
        with pytest.raises(KernelError, match="was released"):
            await a.execute("1")
    finally:
        await pool.shutdown()
    assert not any(p.name.startswith(".ara-kernel-pool") for p in tmp_path.iterdir())


@pytest.mark.anyio
async def test_run_dir_on_another_filesystem_cold_starts(tmp_path: Path) -> None:
    if not Path("/dev/shm").is_dir() or Path("/dev/shm").stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on a filesystem other than the tmp dir")
    pool = KernelPool(TEST_CONFIG.model_copy(update={"staging_dir": tmp_path}), size=1)
    await pool.start()
    run_dir = Path("/dev/shm") / f"ara-test-{time.time_ns()}"
    try:
        async with pool.session(run_dir) as s:
            assert pool.warm_count == 1  # the warm kernel stayed for a run it can serve
            r = await s.execute("open('x.txt', 'w').write('hi')")
            assert r.status == "ok"
            assert (run_dir / "x.txt").read_text() == "hi"
    finally:
        await pool.shutdown()
        for p in sorted(run_dir.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        run_dir.rmdir()


def test_result_fields_rich_outputs_and_peak_memory(sandbox_pool: SyncKernelPool, run_dir: Path) -> None:
    with sandbox_pool.session(run_dir) as s:
        r = s.execute(
            "from IPython.display import Markdown, JSON, display\n"
            "import matplotlib.pyplot as plt\n"
            "print('out'); import sys; print('err', file=sys.stderr)\n"
            "display(Markdown('**bold**')); display(JSON({'a': [1, 2]}))\n"
            "plt.plot([1, 2, 3]); plt.show()\n"
            "big = bytearray(200 * 1024**2)\n"
            "41 + 1"
        )
        assert r.status == "ok", r.text
        assert r.stdout == "out\n"
        assert r.stderr == "err\n"
        kinds = [o.kind for o in r.outputs]
        assert kinds.count("image/png") == 1
        md = next(o for o in r.outputs if o.kind == "text/markdown")
        js = next(o for o in r.outputs if o.kind == "application/json")
        assert md.text == "**bold**"
        assert js.data == {"a": [1, 2]}
        [png] = [o for o in r.outputs if o.kind == "image/png"]
        assert png.path is not None
        assert png.path.parent == run_dir / "outputs"
        assert png.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert r.outputs[-1].text == "42"
        assert r.peak_memory_mb is not None
        assert r.peak_memory_mb >= 200
        assert r.wall_s > 0
        err = s.execute("def f():\n    raise KeyError('missing')\nf()")
        assert err.status == "error"
        assert (err.error_name, err.error_value) == ("KeyError", "'missing'")
        assert any("raise KeyError" in line for line in err.traceback)
        assert not any("\x1b[" in line for line in err.traceback)


def test_printing_100mb_is_truncated_with_a_marker(sandbox_pool: SyncKernelPool, run_dir: Path) -> None:
    with sandbox_pool.session(run_dir) as s:
        t0 = time.perf_counter()
        r = s.execute("import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)\nprint('end')", 120)
        elapsed = time.perf_counter() - t0
        assert r.status == "ok"
        assert r.truncated
        assert len(r.stdout.encode()) < TEST_CONFIG.output_cap_bytes + 200
        assert "[ara: output truncated:" in r.stdout
        assert elapsed < 60
        assert s.execute("print('alive')").stdout == "alive\n"


def test_binary_junk_and_closed_stdout(sandbox_pool: SyncKernelPool, run_dir: Path) -> None:
    with sandbox_pool.session(run_dir) as s:
        junk = s.execute("import os, sys\nsys.stdout.flush()\nos.write(1, bytes(range(256)) * 4)\nprint()")
        assert junk.status == "ok"
        assert "\ufffd" in junk.stdout
        closed = s.execute("import sys; sys.stdout.close()")
        assert closed.status == "ok"
        after = s.execute("print('still here')\n1 + 1", timeout=10)
        assert (after.status, after.error_name) == ("error", "ValueError")  # its own stdout is gone, not ours


def test_cell_that_never_returns_and_spawns_children(sandbox_pool: SyncKernelPool, run_dir: Path) -> None:
    s = sandbox_pool.acquire(run_dir)
    r = s.execute("import subprocess, time\nkids = [subprocess.Popen(['sleep', '300']) for _ in range(3)]\n"
                  "while True: time.sleep(0.1)", timeout=1.5)  # fmt: skip
    assert r.status == "timeout"
    kernel = s.session.kernel
    assert kernel is not None
    assert kernel.process is not None
    sleepers = [p for p in _descendants(kernel.process.pid) if p.name() == "sleep"]
    assert len(sleepers) == 3
    sandbox_pool.release(s)
    _gone, alive = psutil.wait_procs(sleepers, timeout=5)
    assert alive == []


def test_kernel_dying_while_starting_is_a_clear_error(run_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "venv" / "bin" / "python"
    broken.parent.mkdir(parents=True)
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named ipykernel' >&2\nexit 3\n")
    broken.chmod(0o755)
    config = TEST_CONFIG.model_copy(update={"python": broken})
    with pytest.raises(KernelStartError, match=r"exited with code 3 while starting(.|\n)*No module named ipykernel"):
        run_code("1", run_dir, config)


def test_run_code_splits_cells_and_stops_on_error(run_dir: Path) -> None:
    script = "x = 1\n# %% second\nprint(x + 1)\n# %%\nraise RuntimeError('stop')\n# %%\nprint('never')\n"
    assert split_cells(script) == ["x = 1", "print(x + 1)", "raise RuntimeError('stop')", "print('never')"]
    results = run_code(script, run_dir, TEST_CONFIG)
    assert [r.status for r in results] == ["ok", "ok", "error"]
    assert results[1].stdout == "2\n"
    assert results[2].error_value == "stop"


def test_kernel_imports_tools_but_not_assistant(sandbox_pool: SyncKernelPool, run_dir: Path) -> None:
    with sandbox_pool.session(run_dir) as s:
        r = s.execute("import tools.kernel.results as m, tools\nprint(tools.__file__)\nimport assistant")
    assert r.stdout == "/ara/lib/tools/__init__.py\n"
    assert r.error_name == "ModuleNotFoundError"


def test_default_config_matches_documented_defaults() -> None:
    config = KernelConfig()
    assert (config.limits.memory_mb, config.limits.tmp_size_mb, config.isolation) == (3072, 256, "bwrap")


def test_readonly_paths_from_settings_are_visible_but_not_writable(tmp_path: Path, run_dir: Path) -> None:
    from assistant.cli.kernel import kernel_config
    from assistant.settings import load_settings

    data = tmp_path / "datasets"
    data.mkdir()
    (data / "train.csv").write_text("a,b\n1,2\n")
    data.chmod(0o755)
    tmp_path.chmod(0o755)
    settings = load_settings(tmp_path / "ws").with_overrides(**{"kernel.readonly_paths": [str(data)]})
    config = kernel_config(settings)
    assert config.readonly_paths == (data,)
    code = f"print(open({str(data / 'train.csv')!r}).read().splitlines()[1])\nopen({str(data / 'x')!r}, 'w')"
    [r] = run_code(code, run_dir, config.model_copy(update={"limits": TEST_CONFIG.limits}))
    assert r.stdout == "1,2\n"
    assert r.error_name == "OSError"
    assert "Read-only file system" in (r.error_value or "")


def test_hidden_paths_read_as_empty_inside_a_bound_tree(tmp_path: Path, run_dir: Path) -> None:
    from assistant.cli.kernel import kernel_config
    from assistant.settings import load_settings
    from tools.datasets import heldout_sources

    data = tmp_path / "datasets"
    (data / "heldout").mkdir(parents=True)
    (data / "heldout" / "labels.csv").write_text("0,1,1\n")
    (data / "answers.txt").write_text("secret")
    (data / "train.csv").write_text("a,b\n")
    for path in (tmp_path, data, data / "heldout"):
        path.chmod(0o755)
    link = tmp_path / "link"
    link.symlink_to(data)  # bound through a symlink: the hidden paths are named by their real location
    hidden = (data / "heldout", data / "answers.txt", tmp_path / "elsewhere.txt")
    readonly = [str(data), str(data / "heldout"), str(link)]  # the second lies inside a hidden folder
    settings = load_settings(tmp_path / "ws").with_overrides(**{"kernel.readonly_paths": readonly})
    assert kernel_config(settings).hidden_paths == tuple(heldout_sources()), "the loop's kernels hide the sources"
    config = kernel_config(settings).model_copy(update={"limits": TEST_CONFIG.limits, "hidden_paths": hidden})
    code = f"""import os
print(sorted(os.listdir({str(data)!r})), os.listdir({str(data / "heldout")!r}))
print(repr(open({str(data / "answers.txt")!r}).read()), open({str(data / "train.csv")!r}).read().strip())
print(os.listdir({str(link / "heldout")!r}), repr(open({str(link / "answers.txt")!r}).read()))"""
    [r] = run_code(code, run_dir, config)
    assert r.status == "ok", r.traceback
    assert r.stdout.splitlines() == ["['answers.txt', 'heldout', 'train.csv'] []", "'' a,b", "[] ''"]


@pytest.mark.anyio
async def test_warm_kernels_failing_to_start_leave_nothing_behind(tmp_path: Path) -> None:
    broken = tmp_path / "venv" / "bin" / "python"
    broken.parent.mkdir(parents=True)
    broken.write_text("#!/bin/sh\nexit 4\n")
    broken.chmod(0o755)
    staging = tmp_path / "staging"
    staging.mkdir()
    pool = KernelPool(TEST_CONFIG.model_copy(update={"python": broken, "staging_dir": staging}), size=2)
    with pytest.raises(KernelStartError, match="none of the 2 warm kernels started: the kernel exited with code 4"):
        await pool.start()
    assert list(staging.iterdir()) == []
    with pytest.raises(KernelError, match="shut down"):
        await pool.acquire(tmp_path / "run")


def test_each_kernel_has_its_own_uid_and_a_restart_inherits_the_files(
    sandbox_pool: SyncKernelPool, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("per-kernel uids need ara to run as root")
    low, high = TEST_CONFIG.uid_range or (0, 0)
    with sandbox_pool.session(tmp_path / "a") as a, sandbox_pool.session(tmp_path / "b") as b:
        ua = int(a.execute("import os; print(os.getuid())").stdout)
        ub = int(b.execute("import os; print(os.getuid())").stdout)
        assert ua != ub
        assert low <= ua < high
        assert low <= ub < high
        a.execute("open('results.json', 'w').write('{}')")
        assert a.execute("import os; os._exit(1)").status == "died"
        r = a.execute("import os\nopen('results.json', 'w').write('[1]')\nprint(os.getuid())")
        assert r.status == "ok", r.text
        assert int(r.stdout) != ua
        assert (tmp_path / "a" / "results.json").read_text() == "[1]"


def test_per_run_limits_override_the_pools(sandbox_pool: SyncKernelPool, tmp_path: Path) -> None:
    small = TEST_CONFIG.model_copy(update={"limits": TEST_CONFIG.limits.model_copy(update={"memory_mb": 768})})
    alloc = "x = bytearray(1024**3)\nprint('allocated')"
    with sandbox_pool.session(tmp_path / "small", small) as s:
        r = s.execute(alloc)
        assert r.error_name == "MemoryError"
        assert s.session.config == small
    with sandbox_pool.session(tmp_path / "default") as s:
        assert s.execute(alloc).stdout == "allocated\n"


@pytest.mark.slow
def test_research_tools_import_inside_the_sandbox(sandbox_pool: SyncKernelPool, run_dir: Path) -> None:
    with sandbox_pool.session(run_dir) as s:
        r = s.execute("import tools.w2s, torch\nprint(torch.ones(2, 2).sum().item(), tools.w2s.__file__)", 120)
    assert r.status == "ok", r.text
    assert r.stdout == "4.0 /ara/lib/tools/w2s/__init__.py\n"


def test_local_runs_get_readonly_paths_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.kernels import kernel_pool
    from assistant.settings import load_settings
    from tools.kernel import KernelPool

    monkeypatch.setenv("ARA_KERNEL_READONLY_PATHS", f'["{tmp_path}"]')
    pool = kernel_pool(load_settings(tmp_path / "ws"))
    assert isinstance(pool, KernelPool)
    assert pool.config.readonly_paths == (tmp_path,)
