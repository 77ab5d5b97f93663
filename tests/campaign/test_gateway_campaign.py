"""A campaign whose cells run through a real jupyter-kernel-gateway 3.0.1 process (the Enterprise Gateway path).

The worker is configured only by settings (``ARA_KERNEL_GATEWAY_URL``/``_TOKEN``), as on a cluster: each run's
kernel is started by the gateway, the research loop runs with the scripted model, and the proposal is pushed to a
bare review remote. The gateway's kernel launcher (here the gateway's local launcher), not bubblewrap, is then the
boundary around the cell; see docs/campaigns.md.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.campaign.entry_runner import ResearchEntryRunner
from assistant.campaign.queue import CampaignQueue
from assistant.campaign.review_remote import PushingEntryRunner
from assistant.campaign.spec import load_campaign
from assistant.campaign.workers import CampaignWorker
from assistant.graph.session import SessionDeps
from assistant.llm.testing import ScriptedLLM
from assistant.settings import load_settings
from tests.campaign.graph_driver import reply
from tests.campaign.pgserver import free_port
from tests.campaign.test_workers import bare_remote, remote_heads, write_campaign
from tests.graph.conftest import recipes_with_divide
from tools.vcs import Workspace

GATEWAY = Path(sys.executable).parent / "jupyter-kernelgateway"
pytestmark = pytest.mark.skipif(not GATEWAY.exists(), reason="jupyter-kernel-gateway is not installed in this venv")


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """A kernel gateway on 127.0.0.1 with a random token; yields (url, token, its log file)."""
    home = tmp_path / "gateway"
    home.mkdir()
    port, token = free_port(), secrets.token_hex(16)
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "IPYTHONDIR": str(home / "ipython"),
        "MPLCONFIGDIR": str(home / "mpl"),
    }
    log_path = home / "gateway.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(GATEWAY), "--KernelGatewayApp.ip=127.0.0.1", f"--KernelGatewayApp.port={port}",
             f"--KernelGatewayApp.auth_token={token}"],
            cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{url}/api", headers={"Authorization": f"token {token}"}).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            proc.kill()
            pytest.fail(f"kernel gateway did not start: {log_path.read_text()[-2000:]}")
        yield url, token, log_path
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_a_worker_runs_a_campaign_through_the_gateway_and_pushes_the_proposal(
    tmp_path: Path, gateway: tuple[str, str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, token, log = gateway
    ws = tmp_path / "ws"
    remote = bare_remote(tmp_path / "review.git")
    monkeypatch.setenv("ARA_KERNEL_GATEWAY_URL", url)
    monkeypatch.setenv("ARA_KERNEL_GATEWAY_TOKEN", token)
    monkeypatch.setenv("ARA_CAMPAIGN_REVIEW_REMOTE", str(remote))
    # the divide recipe calls no model: no embedded subject server (tests/subject covers the gateway's model channel)
    monkeypatch.setenv("ARA_SUBJECT_ENABLED", "false")
    settings = load_settings(ws)
    queue = CampaignQueue.from_settings(settings)
    path = write_campaign(tmp_path, 1)
    cid = queue.create(load_campaign(path), path)
    deps = SessionDeps(llm=ScriptedLLM(replies=[reply] * 60).client(), recipes=recipes_with_divide())
    run_entry = PushingEntryRunner(
        ResearchEntryRunner(settings, deps), "cluster-1", settings.workspace, settings.campaign.review_remote
    )
    result = CampaignWorker(queue, "cluster-1", run_entry, exit_when_idle=True, poll_s=0.05).run()
    assert result.entries_done == 1
    [entry] = queue.get(cid).entries
    assert entry.outcome is not None
    assert entry.status == "done", entry.outcome.detail
    assert entry.outcome.key_metrics == {"ratio": 0.5}
    assert entry.outcome.pushed_to == str(remote)
    assert "Kernel started" in log.read_text(), "the cell ran in a kernel the gateway started"
    [proposal] = Workspace.open(ws).list_proposals()
    assert remote_heads(remote) == {proposal.branch: proposal.head_commit}
