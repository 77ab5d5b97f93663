"""GatewaySession against a real jupyter-kernel-gateway 3.0.1 started on 127.0.0.1 by the fixture."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tools.kernel import GatewayError, GatewaySession, KernelConfig

GATEWAY = Path(sys.executable).parent / "jupyter-kernelgateway"
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not GATEWAY.exists(), reason="jupyter-kernel-gateway is not installed in this venv"),
]
CONFIG = KernelConfig(cell_timeout_s=30, interrupt_grace_s=1.0, startup_timeout_s=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A kernel gateway on 127.0.0.1 with a random token; yields (url, token)."""
    home = tmp_path_factory.mktemp("gateway")
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "IPYTHONDIR": str(home / "ipython"),
        "MPLCONFIGDIR": str(home / "mpl"),
    }
    log = (home / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [str(GATEWAY), "--KernelGatewayApp.ip=127.0.0.1", f"--KernelGatewayApp.port={port}",
         f"--KernelGatewayApp.auth_token={token}"],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/api", headers={"Authorization": f"token {token}"}).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"kernel gateway did not start: {(home / 'gateway.log').read_text()[-2000:]}")
    yield url, token
    proc.terminate()
    proc.wait(10)
    log.close()


async def test_remote_cells_outputs_and_errors(gateway: tuple[str, str], tmp_path: Path) -> None:
    url, token = gateway
    async with await GatewaySession.start(url, token, tmp_path, CONFIG) as s:
        r = await s.execute("x = 20\nprint('hello')\nx + 1")
        assert r.status == "ok"
        assert r.stdout == "hello\n"
        assert [o.text for o in r.outputs] == ["21"]
        err = await s.execute("1/0")
        assert err.status == "error"
        assert err.error_name == "ZeroDivisionError"
        png = await s.execute(
            "import matplotlib\nmatplotlib.use('module://matplotlib_inline.backend_inline')\n"
            "import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()"
        )
        assert png.status == "ok", png.text
        [image] = [o for o in png.outputs if o.kind == "image/png"]
        assert image.path is not None
        assert image.path.parent == tmp_path / "outputs"
        assert image.path.read_bytes()[:4] == b"\x89PNG"
        kernel_id = s.kernel_id
    gone = httpx.get(f"{url}/api/kernels/{kernel_id}", headers={"Authorization": f"token {token}"})
    assert gone.status_code == 404


async def test_remote_message_over_the_cap_is_refused_and_the_kernel_keeps_its_state(
    gateway: tuple[str, str], tmp_path: Path
) -> None:
    url, token = gateway
    config = CONFIG.model_copy(update={"message_cap_bytes": 2**16})  # 900 KB stays under the server's rate limit
    async with await GatewaySession.start(url, token, tmp_path, config) as s:
        assert (await s.execute("state = 7")).status == "ok"
        big = await s.execute("import sys, time\nsys.stdout.write('x' * 900_000)\nsys.stdout.flush()\ntime.sleep(1)")
        assert big.status == "ok", big.text
        assert big.truncated
        assert f"[ara: the kernel sent a message over {2**16} bytes; the websocket refused it" in big.stderr
        assert "x" * 1000 not in big.stdout
        after = await s.execute("print(state)")
        assert (after.status, after.stdout) == ("ok", "7\n")


async def test_remote_timeout_interrupt_and_restart(gateway: tuple[str, str], tmp_path: Path) -> None:
    url, token = gateway
    async with await GatewaySession.start(url, token, tmp_path, CONFIG) as s:
        await s.execute("state = 1")
        soft = await s.execute("import time\nwhile True: time.sleep(0.05)", timeout=1)
        assert soft.status == "timeout"
        assert not soft.restarted
        assert (await s.execute("print(state)")).stdout == "1\n"
        hard = await s.execute(
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass", timeout=1
        )
        assert hard.status == "timeout"
        assert hard.restarted
        after = await s.execute("print('state' in dir())")
        assert after.stdout == "False\n"


async def test_remote_kernel_death_is_reported(gateway: tuple[str, str], tmp_path: Path) -> None:
    url, token = gateway
    async with await GatewaySession.start(url, token, tmp_path, CONFIG) as s:
        r = await s.execute("import os; os._exit(1)", timeout=20)
        assert r.status == "died"
        assert r.error_name == "KernelDied"
        assert (await s.execute("print(2 + 2)")).stdout == "4\n"


async def test_wrong_token_is_refused_with_a_clear_error(gateway: tuple[str, str], tmp_path: Path) -> None:
    url, _ = gateway
    with pytest.raises(GatewayError, match=r"refused the token \(403|refused the token \(401"):
        await GatewaySession.start(url, "wrong-token", tmp_path, CONFIG)


async def test_gateway_down_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(GatewayError, match="is unreachable"):
        await GatewaySession.start(url, "t", tmp_path, CONFIG)


async def test_runs_use_the_gateway_when_settings_name_one(
    gateway: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.kernels import GatewayPool, kernel_pool
    from assistant.settings import load_settings

    url, token = gateway
    monkeypatch.setenv("ARA_KERNEL_GATEWAY_URL", url)
    monkeypatch.setenv("ARA_KERNEL_GATEWAY_TOKEN", token)
    pool = kernel_pool(load_settings(tmp_path / "ws"))
    assert isinstance(pool, GatewayPool)
    session = await pool.acquire(tmp_path)
    result = await session.execute("print(6 * 7)", 30)
    assert (result.status, result.stdout) == ("ok", "42\n")
    kernel_id = session.kernel_id
    await pool.shutdown()
    assert pool.sessions == []
    gone = httpx.get(f"{url}/api/kernels/{kernel_id}", headers={"Authorization": f"token {token}"})
    assert gone.status_code == 404
