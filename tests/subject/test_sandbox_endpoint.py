"""A real bwrap kernel reaching the subject model only through the host's proxy socket.

The kernel calls the scripted upstream through ``Endpoint.in_sandbox()`` (ChatClient) and gets its answer, while
TCP to the host's loopback and to the outside fails, no API key is in its environment or any file it can read,
and the socket's directory is read-only.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.subject.scripted_subject import UPSTREAM_KEY, CountingMeter, ScriptedSubject
from tools.kernel import KernelConfig, SandboxLimits, bwrap_status, run_code
from tools.kernel.modelproxy import ModelProxy, ProxyLimits, Upstream

pytestmark = pytest.mark.skipif(not bwrap_status()[0], reason=f"bwrap unusable here: {bwrap_status()[1]}")

PROBE = """
import json, os, socket
from tools.evals.endpoint import ChatClient, Endpoint
endpoint = Endpoint.in_sandbox()
client = ChatClient(endpoint)
answer = client.complete([{"role": "user", "content": "A or B?"}], max_tokens=4)
network = {}
for name, address in {"host_loopback": ("127.0.0.1", HOST_PORT), "outside": ("1.1.1.1", 53)}.items():
    try:
        socket.create_connection(address, timeout=2).close()
        network[name] = "connected"
    except OSError as err:
        network[name] = type(err).__name__
key_seen = [k for k, v in os.environ.items() if KEY in v or KEY in k]
files_with_key = []
paths = ["/proc/self/environ", "/proc/1/environ", "/proc/self/cmdline", "/proc/1/cmdline"]
for top in ("/ara", "/tmp", "/etc"):
    paths += [os.path.join(root, name) for root, dirs, files in os.walk(top) for name in files]
for path in paths:
    if not os.path.isfile(path) or os.path.islink(path):
        continue
    try:
        with open(path, "rb") as handle:
            if KEY.encode() in handle.read(1_000_000):
                files_with_key.append(path)
    except OSError:
        pass
try:
    open("/ara/model/planted", "w")
    writable = True
except OSError:
    writable = False
print(json.dumps({"answer": answer, "endpoint": [endpoint.model, endpoint.socket], "network": network,
                  "key_in_env": key_seen, "files_with_key": files_with_key, "model_dir_writable": writable,
                  "env": sorted(k for k in os.environ if k.startswith("ARA_"))}))
"""


def test_the_kernel_reaches_the_model_only_through_the_proxy_and_never_holds_the_key(tmp_path: Path) -> None:
    subject, meter = ScriptedSubject(), CountingMeter()
    upstream = Upstream(base_url="http://upstream.test/v1", model="alias", api_key=SecretStr(UPSTREAM_KEY))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    proxy = ModelProxy(tmp_path / "m" / "model.sock", {"embedded": upstream}, ProxyLimits(), meter, subject.transport)
    config = KernelConfig(
        limits=SandboxLimits(memory_mb=2048, cpu_seconds=60, max_processes=48, tmp_size_mb=16),
        cell_timeout_s=60,
        model_socket=proxy.socket_path,
        model_name="embedded",
    )
    # the cell looks for the key without holding it in its source as one string
    head, tail = UPSTREAM_KEY[:8], UPSTREAM_KEY[8:]
    code = f"SECRET = {head!r} + {tail!r}\n" + PROBE.replace("HOST_PORT", str(listener.getsockname()[1]))
    code = code.replace("KEY", "SECRET")
    with proxy:
        [result] = run_code([code], tmp_path / "run", config)
    listener.close()
    assert result.status == "ok", result
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["answer"] == "A"
    assert seen["endpoint"] == ["embedded", "/ara/model/model.sock"]
    assert "connected" not in seen["network"].values(), seen["network"]
    assert seen["key_in_env"] == []
    assert seen["files_with_key"] == []
    assert seen["model_dir_writable"] is False
    assert {"ARA_MODEL_NAME", "ARA_MODEL_SOCKET"} <= set(seen["env"])
    assert [c.status for c in meter.calls] == [200]
    assert subject.headers[0]["authorization"] == f"Bearer {UPSTREAM_KEY}", "the key was added on the host"
