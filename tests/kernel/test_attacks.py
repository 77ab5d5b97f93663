"""Attack suite: each test attacks ONE sandbox property and asserts it held; its control shows the same attack
succeeding in a plain, unsandboxed kernel.
"""

from __future__ import annotations

import ast
import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.kernel.conftest import CONTROL_SECRET, TEST_CONFIG, TEST_LIMITS, PlainKernel, needs_bwrap
from tools.kernel import CellResult, KernelConfig, SyncKernelPool, run_code
from tools.kernel.sandbox import _venv_paths, create_cgroup

pytestmark = needs_bwrap

SECRET = "sk-planted-secret-9f8e7d6c"


def run(pool: SyncKernelPool, run_dir: Path, code: str, timeout: float = 30) -> CellResult:
    with pool.session(run_dir) as s:
        return s.execute(code, timeout)


# --- files ---------------------------------------------------------------------------------------------


def test_cannot_read_a_secret_file_outside_the_run_dir(
    sandbox_pool: SyncKernelPool, plain_kernel: PlainKernel, run_dir: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "elsewhere" / "credentials.txt"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    code = f"""
try:
    print(open({str(secret)!r}).read())
except OSError as e:
    print(type(e).__name__)
"""
    r = run(sandbox_pool, run_dir, code)
    assert r.status == "ok"
    assert r.stdout == "FileNotFoundError\n"
    assert SECRET in plain_kernel.run(code)


def test_home_directory_is_not_visible(sandbox_pool: SyncKernelPool, plain_kernel: PlainKernel, run_dir: Path) -> None:
    home = Path.home()
    allowed = {p.relative_to(home).parts[0] for p in _venv_paths(TEST_CONFIG.python) if p.is_relative_to(home)}
    code = f"import os\nprint(sorted(os.listdir({str(home)!r})) if os.path.isdir({str(home)!r}) else [])"
    r = run(sandbox_pool, run_dir, code)
    assert r.status == "ok", r.text
    seen = set(ast.literal_eval(r.stdout))
    assert seen <= allowed  # only the ancestors of the bound Python install, e.g. ~/.pyenv
    host_entries = set(ast.literal_eval(plain_kernel.run(code)))
    assert host_entries - allowed  # the control sees the rest of the home directory


def test_cannot_write_outside_the_run_dir(
    sandbox_pool: SyncKernelPool, plain_kernel: PlainKernel, run_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "outside.txt"
    target.write_text("original")
    code = f"""
import os
for path in [{str(target)!r}, '/ara/lib/tools/evil.py', '/usr/evil', '/etc/evil', '/evil']:
    try:
        with open(path, 'w') as f:
            f.write('pwned')
        print('WROTE', path)
    except OSError as e:
        print('denied', path, type(e).__name__)
open('inside.txt', 'w').write('allowed')
"""
    r = run(sandbox_pool, run_dir, code)
    assert r.status == "ok", r.text
    assert "WROTE" not in r.stdout
    assert r.stdout.count("denied") == 5
    assert target.read_text() == "original"
    assert (run_dir / "inside.txt").read_text() == "allowed"
    assert not (Path(TEST_CONFIG.tools_dir) / "evil.py").exists()
    plain_kernel.run(f"open({str(target)!r}, 'w').write('pwned')")
    assert target.read_text() == "pwned"


def test_planted_symlink_cannot_redirect_host_image_writes(
    sandbox_pool: SyncKernelPool, run_dir: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    code = f"""
import os
os.symlink({str(victim)!r}, 'outputs')
import matplotlib.pyplot as plt
plt.plot([1, 2]); plt.show()
"""
    r = run(sandbox_pool, run_dir, code)
    assert r.status == "ok", r.text
    assert list(victim.iterdir()) == []
    assert [o.kind for o in r.outputs] == ["text/plain"]
    assert "[ara: image not saved: outputs/" in r.stderr
    assert (run_dir / "outputs").is_symlink()


def test_file_over_the_size_cap_is_refused(
    sandbox_pool: SyncKernelPool, plain_kernel: PlainKernel, run_dir: Path, tmp_path: Path
) -> None:
    size = (TEST_LIMITS.file_size_mb + 2) * 2**20
    code = f"""
try:
    with open('big.bin', 'wb') as f:
        f.write(b'x' * {size})
    print('wrote all')
except OSError as e:
    print('refused', e.errno)
import os; print(os.path.getsize('big.bin'))
"""
    r = run(sandbox_pool, run_dir, code)
    assert r.status == "ok", r.text
    assert r.stdout.split() == ["refused", "27", str(TEST_LIMITS.file_size_mb * 2**20)]  # EFBIG
    plain_kernel.run(f"open({str(tmp_path / 'big.bin')!r}, 'wb').write(b'x' * {size})")
    assert (tmp_path / "big.bin").stat().st_size == size


def test_tmp_cannot_be_filled_past_its_cap(
    sandbox_pool: SyncKernelPool, plain_kernel: PlainKernel, run_dir: Path, tmp_path: Path
) -> None:
    chunk = 2**20
    code = f"""
written = 0
try:
    for i in range({TEST_LIMITS.tmp_size_mb + 8}):
        with open(f'/tmp/fill{{i}}', 'wb') as f:
            f.write(b'x' * {chunk})
        written += 1
except OSError as e:
    print('full', e.errno, written)
"""
    r = run(sandbox_pool, run_dir, code)
    assert r.status == "ok", r.text
    word, errno_, written = r.stdout.split()
    assert (word, errno_) == ("full", "28")  # ENOSPC
    assert int(written) <= TEST_LIMITS.tmp_size_mb
    out = plain_kernel.run(
        f"import pathlib\nfor i in range({TEST_LIMITS.tmp_size_mb + 8}):\n"
        f"    pathlib.Path({str(tmp_path)!r}, f'fill{{i}}').write_bytes(b'x' * {chunk})\nprint('ok')"
    )
    assert out.strip() == "ok"


# --- secrets in the environment ---------------------------------------------------------------------------


def test_secret_environment_variable_is_not_inherited(
    monkeypatch: pytest.MonkeyPatch, plain_kernel: PlainKernel, run_dir: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    [r] = run_code("import os; print(sorted(os.environ)); print(os.environ.get('OPENAI_API_KEY'))", run_dir,
                   TEST_CONFIG)  # fmt: skip
    assert r.status == "ok", r.text
    assert SECRET not in r.stdout
    assert r.stdout.splitlines()[-1] == "None"
    assert "HOME" in r.stdout
    assert "OPENAI_API_KEY" not in r.stdout
    assert plain_kernel.run("import os; print(os.environ['OPENAI_API_KEY'])").strip() == CONTROL_SECRET


@pytest.fixture
def helper_with_secret() -> Iterator[int]:
    proc = subprocess.Popen(["sleep", "60"], env={"PATH": "/usr/bin:/bin", "ARA_PLANTED": SECRET})
    yield proc.pid
    proc.kill()
    proc.wait()


def test_proc_environ_of_other_processes_shows_no_secrets(
    sandbox_pool: SyncKernelPool, plain_kernel: PlainKernel, run_dir: Path, helper_with_secret: int
) -> None:
    code = """
import os
seen = []
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        seen.append(open(f'/proc/{pid}/environ', 'rb').read().decode())
    except OSError as e:
        print('denied', pid, type(e).__name__)
print('pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit())[:3])
print('|'.join(seen))
"""
    r = run(sandbox_pool, run_dir, code)
    assert r.status == "ok", r.text
    assert SECRET not in r.stdout
    assert "denied 1 PermissionError" in r.stdout  # bwrap's init belongs to root
    out = plain_kernel.run(f"print(open('/proc/{helper_with_secret}/environ', 'rb').read())")
    assert SECRET in out


# --- network ----------------------------------------------------------------------------------------------


@pytest.fixture
def listeners() -> Iterator[tuple[int, int, list[bytes]]]:
    """A TCP and a UDP listener on 127.0.0.1 that record whatever reaches them."""
    got: list[bytes] = []
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    tcp.settimeout(0.2)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = tcp.accept()
                got.append(b"tcp-connect:" + conn.recv(100))
                conn.close()
            except OSError:
                pass
            with contextlib.suppress(OSError):
                got.append(b"udp:" + udp.recv(100))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield tcp.getsockname()[1], udp.getsockname()[1], got
    stop.set()
    thread.join(2)
    tcp.close()
    udp.close()


def test_no_network_tcp_udp_or_dns(
    sandbox_pool: SyncKernelPool, plain_kernel: PlainKernel, run_dir: Path, listeners: tuple[int, int, list[bytes]]
) -> None:
    tcp_port, udp_port, got = listeners
    code = f"""
import socket
try:
    s = socket.create_connection(('127.0.0.1', {tcp_port}), timeout=2); s.sendall(b'leak'); print('tcp sent')
except OSError as e:
    print('tcp', type(e).__name__)
try:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b'leak', ('127.0.0.1', {udp_port})); print('udp sent')
except OSError as e:
    print('udp', type(e).__name__)
try:
    print('dns', socket.getaddrinfo('example.com', 443)[0][4])
except OSError as e:
    print('dns', type(e).__name__)
import os; print(sorted(os.listdir('/sys/class/net')) if os.path.exists('/sys/class/net') else 'no sysfs')
"""
    r = run(sandbox_pool, run_dir, code)
    assert r.status == "ok", r.text
    time.sleep(0.5)
    assert got == []
    assert "tcp ConnectionRefusedError" in r.stdout
    assert "dns gaierror" in r.stdout
    # UDP to the namespace's own loopback "succeeds" locally but can never reach the host's listener.
    plain_kernel.run(
        f"import socket\ns = socket.create_connection(('127.0.0.1', {tcp_port})); s.sendall(b'leak'); s.close()\n"
        f"socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'leak', ('127.0.0.1', {udp_port}))"
    )
    deadline = time.time() + 5
    while len(got) < 2 and time.time() < deadline:
        time.sleep(0.1)
    assert sorted(got) == [b"tcp-connect:leak", b"udp:leak"]


# --- memory, CPU, processes -----------------------------------------------------------------------------


def test_allocating_4gb_raises_memoryerror_and_kernel_survives(
    sandbox_pool: SyncKernelPool, plain_kernel: PlainKernel, run_dir: Path
) -> None:
    alloc = "import numpy as np\nx = np.empty(4 * 1024**3, dtype=np.uint8)\nprint('allocated', x.nbytes)"
    with sandbox_pool.session(run_dir) as s:
        r = s.execute(alloc)
        assert r.status == "error"
        assert r.error_name == "MemoryError"
        after = s.execute("print(1 + 1)")
        assert after.status == "ok"
        assert after.stdout == "2\n"
        assert not after.restarted
    assert "allocated 4294967296" in plain_kernel.run(alloc + "\ndel x")


def test_python_fork_loop_is_capped(sandbox_pool: SyncKernelPool, plain_kernel: PlainKernel, run_dir: Path) -> None:
    forker = """
import os, time
pids = []
try:
    for _ in range({n}):
        pid = os.fork()
        if pid == 0:
            time.sleep(20); os._exit(0)
        pids.append(pid)
    print('forked', len(pids))
except OSError as e:
    print('blocked', len(pids), type(e).__name__)
for p in pids:
    os.kill(p, 9); os.waitpid(p, 0)
"""
    r = run(sandbox_pool, run_dir, forker.format(n=500))
    assert r.status == "ok", r.text
    word, count, exc = r.stdout.split()
    assert (word, exc) == ("blocked", "BlockingIOError")
    assert int(count) < TEST_LIMITS.max_processes
    out = plain_kernel.run(forker.format(n=TEST_LIMITS.max_processes + 10))
    assert out.strip() == f"forked {TEST_LIMITS.max_processes + 10}"


def _sandbox_uid_processes() -> set[int]:
    low, high = TEST_CONFIG.uid_range or (65534, 65535)
    return {
        p.pid
        for p in psutil.process_iter(["uids"])
        if p.info["uids"] and (low <= p.info["uids"].real < high or p.info["uids"].real == 65534)
    }


def test_shell_fork_bomb_is_contained_and_cleaned_up(plain_kernel: PlainKernel, run_dir: Path, tmp_path: Path) -> None:
    before = _sandbox_uid_processes()
    pool = SyncKernelPool(TEST_CONFIG.model_copy(update={"staging_dir": tmp_path}), size=0)
    pool.start()
    try:
        with pool.session(run_dir) as s:
            r = s.execute(
                "import subprocess, time\n"
                "subprocess.Popen(['/bin/sh', '-c', ':(){ :|:& };:'], stderr=subprocess.DEVNULL)\n"
                "time.sleep(3)\nprint('bomb running')",
                timeout=20,
            )
            assert r.status == "ok", r.text
            t0 = time.perf_counter()
            subprocess.run(["true"], check=True)
            assert time.perf_counter() - t0 < 2.0  # the host still answers
            inside = _sandbox_uid_processes() - before
            assert 0 < len(inside) <= TEST_LIMITS.max_processes + 5
    finally:
        pool.shutdown()
    deadline = time.time() + 5
    while (_sandbox_uid_processes() - before) and time.time() < deadline:
        time.sleep(0.1)
    assert _sandbox_uid_processes() - before == set()
    n = TEST_LIMITS.max_processes + 10
    out = plain_kernel.run(
        "import subprocess\n"
        f"print(len(subprocess.run(['/bin/sh', '-c', 'for i in $(seq {n}); do sleep 1 & echo $!; done; wait'],"
        " capture_output=True, text=True).stdout.split()))"
    )
    assert out.strip() == str(n)


def test_kernel_ignoring_interrupt_is_restarted_within_2s(sandbox_pool: SyncKernelPool, run_dir: Path) -> None:
    sandbox_pool.wait_warm()
    with sandbox_pool.session(run_dir) as s:
        s.execute("state = 'old'\nopen('kept.txt', 'w').write('files survive a restart')")
        sandbox_pool.wait_warm()
        r = s.execute("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass", timeout=1)
        assert r.status == "timeout"
        assert r.restarted
        assert r.error_name == "Timeout"
        assert "ignored the interrupt" in (r.error_value or "")
        t0 = time.perf_counter()
        after = s.execute("print('state' in dir(), open('kept.txt').read())")
        since_timeout_s = (r.wall_s - 1) + (time.perf_counter() - t0)  # interrupt grace + kill + fresh kernel
        assert since_timeout_s < 2.0
        assert after.status == "ok"
        assert after.stdout == "False files survive a restart\n"


def test_interruptible_timeout_keeps_the_kernel(sandbox_pool: SyncKernelPool, run_dir: Path) -> None:
    with sandbox_pool.session(run_dir) as s:
        s.execute("state = 'kept'")
        r = s.execute("import time\nwhile True: time.sleep(0.05)", timeout=1)
        assert r.status == "timeout"
        assert not r.restarted
        assert r.traceback
        assert "KeyboardInterrupt" in "".join(r.traceback)
        assert s.execute("print(state)").stdout == "kept\n"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("import os; os._exit(3)", "exited with code 3"),
        ("import ctypes; ctypes.string_at(0)", "SIGSEGV"),
    ],
    ids=["os_exit", "segfault"],
)
def test_dead_kernel_is_reported_and_replaced(
    sandbox_pool: SyncKernelPool, run_dir: Path, code: str, reason: str
) -> None:
    with sandbox_pool.session(run_dir) as s:
        s.execute("state = 1")
        r = s.execute(code)
        assert r.status == "died"
        assert r.restarted
        assert r.error_name == "KernelDied"
        assert reason in (r.error_value or "")
        assert r.wall_s < 2.0
        after = s.execute("print('state' in dir())")
        assert after.status == "ok"
        assert after.stdout == "False\n"


def test_oom_killed_kernel_is_reported_as_died(run_dir: Path, tmp_path: Path) -> None:
    config = TEST_CONFIG.model_copy(
        update={"limits": TEST_LIMITS.model_copy(update={"cgroup_memory_mb": 300}), "use_cgroup": "auto"}
    )
    probe = create_cgroup(config, "ara-kernel-probe")
    if probe is None:
        pytest.skip("no writable memory cgroup here: an OOM kill needs one")
    probe.destroy()
    pool = SyncKernelPool(config.model_copy(update={"staging_dir": tmp_path}), size=0)
    pool.start()
    try:
        with pool.session(run_dir) as s:
            r = s.execute("x = bytearray(1024**3)")
            assert r.status == "died"
            assert r.restarted
            assert "out of memory" in (r.error_value or "")
            assert s.execute("print(1)").stdout == "1\n"
    finally:
        pool.shutdown()


# --- kernel escapes --------------------------------------------------------------------------------------

_NS_CODE = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
pid = os.fork()
if pid == 0:
    rc = libc.unshare(CLONE_NEWUSER | CLONE_NEWNS)
    if rc == 0:
        os.makedirs('/tmp/mnt', exist_ok=True)
        rc2 = libc.mount(b'none', b'/tmp/mnt', b'tmpfs', 0, None)
        os._exit(0 if rc2 == 0 else 10 + ctypes.get_errno())
    os._exit(100 + ctypes.get_errno())
print('child', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


def test_user_namespace_and_mount_are_denied(
    sandbox_pool: SyncKernelPool, plain_kernel: PlainKernel, run_dir: Path
) -> None:
    code = (
        _NS_CODE
        + """
rc = libc.mount(b'none', b'/ara/run', b'tmpfs', 0, None)
print('mount', rc, ctypes.get_errno())
print('ptrace', libc.ptrace(16, 1, None, None), ctypes.get_errno())
"""
    )
    r = run(sandbox_pool, run_dir, code)
    assert r.status == "ok", r.text
    assert r.stdout.split("\n")[:3] == ["child 101", "mount -1 1", "ptrace -1 1"]  # 101 = 100 + EPERM
    assert plain_kernel.run(_NS_CODE).strip() == "child 0"


_IO_URING_CODE = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)  # struct io_uring_params
for name, nr in [('setup', 425), ('enter', 426), ('register', 427)]:
    args = (4, params) if name == 'setup' else (0, 0, 0, 0, None, 0)
    rc = libc.syscall(nr, *args)
    print(name, rc, ctypes.get_errno())
"""


def test_io_uring_answers_enosys(sandbox_pool: SyncKernelPool, plain_kernel: PlainKernel, run_dir: Path) -> None:
    r = run(sandbox_pool, run_dir, _IO_URING_CODE)
    assert r.status == "ok", r.text
    assert r.stdout.splitlines() == ["setup -1 38", "enter -1 38", "register -1 38"]  # 38 = ENOSYS
    setup = plain_kernel.run(_IO_URING_CODE).splitlines()[0].split()
    if setup[2] != "0":
        pytest.skip(f"io_uring is disabled on this host too (errno {setup[2]}); the control proves nothing")
    assert int(setup[1]) >= 0  # the control got an io_uring file descriptor


def test_threads_and_subprocesses_still_work(sandbox_pool: SyncKernelPool, run_dir: Path) -> None:
    code = """
import subprocess, threading, multiprocessing as mp
t = threading.Thread(target=lambda: None); t.start(); t.join()
print(subprocess.run(['echo', 'child ok'], capture_output=True, text=True).stdout.strip())
with mp.get_context('fork').Pool(2) as p:
    print(sum(p.map(abs, [-1, -2, -3])))
"""
    r = run(sandbox_pool, run_dir, code)
    assert r.status == "ok", r.text
    assert r.stdout == "child ok\n6\n"


def test_rlimits_only_mode_warns_and_is_not_isolated(run_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = KernelConfig(isolation="rlimits-only", limits=TEST_LIMITS)
    with caplog.at_level("WARNING"):
        [r] = run_code(f"import os; print(os.path.exists('/proc/{os.getpid()}'), os.getcwd())", run_dir, config)
    assert r.stdout.split() == ["True", str(run_dir.resolve())]  # host processes and paths are visible
    assert any("UNSAFE" in rec.message for rec in caplog.records)
