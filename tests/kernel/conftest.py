"""Fixtures for kernel tests: one shared sandboxed pool per module and one plain (unsandboxed) control kernel.

The control kernel is a stock jupyter-client kernel with the host's environment: each attack runs there too,
to show it would succeed without the sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

from tools.kernel import KernelConfig, SandboxLimits, SyncKernelPool, bwrap_status

CONTROL_SECRET = "sk-control-secret-0123456789"

TEST_LIMITS = SandboxLimits(
    memory_mb=3072, cpu_seconds=120, max_processes=48, file_size_mb=8, open_files=128, tmp_size_mb=16
)
TEST_CONFIG = KernelConfig(limits=TEST_LIMITS, cell_timeout_s=30, output_cap_bytes=64_000, startup_timeout_s=30)

needs_bwrap = pytest.mark.skipif(not bwrap_status()[0], reason=f"bwrap unusable here: {bwrap_status()[1]}")


@pytest.fixture(scope="module")
def sandbox_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncKernelPool]:
    """A started pool of sandboxed kernels shared by a test module (staged on the tests' filesystem)."""
    if not bwrap_status()[0]:
        pytest.skip(f"bwrap unusable here: {bwrap_status()[1]}")
    staging = tmp_path_factory.mktemp("staging")
    pool = SyncKernelPool(TEST_CONFIG.model_copy(update={"staging_dir": staging}), size=1)
    pool.start()
    yield pool
    pool.shutdown()


class PlainKernel:
    """An unsandboxed control kernel; ``run`` returns stdout (raises on a failing cell)."""

    def __init__(self, km: KernelManager, kc: BlockingKernelClient) -> None:
        self.km, self.kc = km, kc

    def run(self, code: str, timeout: float = 30) -> str:
        out: list[str] = []
        errors: list[str] = []

        def hook(msg: dict[str, object]) -> None:
            content = msg["content"]
            assert isinstance(content, dict)
            if msg["msg_type"] == "stream":
                out.append(str(content["text"]))
            elif msg["msg_type"] == "error":
                errors.append(f"{content['ename']}: {content['evalue']}")

        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook, store_history=False)
        assert reply["content"]["status"] == "ok", errors
        return "".join(out)


@pytest.fixture(scope="module")
def plain_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlainKernel]:
    """A stock kernel started with the host environment plus a planted ``OPENAI_API_KEY``."""
    cwd = tmp_path_factory.mktemp("plain")
    env = {**os.environ, "OPENAI_API_KEY": CONTROL_SECRET}
    km, kc = start_new_kernel(
        extra_arguments=["--HistoryManager.enabled=False"], env=env, cwd=str(cwd), startup_timeout=60
    )
    yield PlainKernel(km, kc)
    kc.stop_channels()
    km.shutdown_kernel(now=True)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A fresh run directory for one test."""
    return tmp_path / "run"
