"""Remote kernels reach the subject model over their Jupyter stdin channel, through the same host-side proxy.

A kernel on a gateway cannot bind the host's socket. Its model requests go out as ``input_request`` messages that
the host answers from the run's ``ModelProxy`` (``tools.kernel.modelchannel``). The unit tests drive
``ModelProxy.answer_channel`` with hostile prompts; the gateway test runs a real jupyter-kernel-gateway kernel
set up by ``SubjectProxies`` (as a run does) that calls the scripted upstream through ``Endpoint.in_sandbox()``:
the answer arrives, the run's meter and event log count it, the budget stops further calls, a model off the
allow-list is refused, the async transport (Inspect's) lists the model, an ordinary ``input()`` gets an empty
answer instead of hanging, and no key is in the kernel's environment.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from assistant.budget import Budget
from assistant.events import SubjectModelCalled
from assistant.kernels import GatewayPool
from assistant.llm.client import UsageLedger
from assistant.runlog import RunLog, events_of, read_events
from assistant.settings import SubjectSettings
from assistant.subject import SubjectProxies
from tests.campaign.test_gateway_campaign import GATEWAY, gateway  # noqa: F401 (the fixture)
from tests.subject.scripted_subject import UPSTREAM_KEY, CountingMeter, ScriptedSubject
from tools.kernel import KernelConfig
from tools.kernel.modelchannel import PREFIX, encode_request
from tools.kernel.modelproxy import ModelProxy, ProxyLimits, Upstream

UPSTREAM = Upstream(base_url="http://upstream.test/v1", model="alias", api_key=SecretStr(UPSTREAM_KEY))


def _proxy(tmp_path: Path, meter: CountingMeter, subject: ScriptedSubject, body_kb: int = 64) -> ModelProxy:
    limits = ProxyLimits(max_body_bytes=body_kb * 1024)
    return ModelProxy(tmp_path / "m" / "model.sock", {"embedded": UPSTREAM}, limits, meter, subject.transport)


def _ask(proxy: ModelProxy, body: dict[str, object], path: str = "/v1/chat/completions") -> tuple[int, dict]:
    answer = json.loads(proxy.answer_channel(encode_request("POST", path, json.dumps(body).encode())))
    return answer["status"], answer["body"]


def test_a_channel_request_is_checked_forwarded_and_metered_like_a_socket_request(tmp_path: Path) -> None:
    subject, meter = ScriptedSubject(), CountingMeter()
    proxy = _proxy(tmp_path, meter, subject)
    messages = [{"role": "user", "content": "A or B?"}]
    status, body = _ask(proxy, {"model": "embedded", "messages": messages, "max_tokens": 100000, "api_key": "x"})
    assert status == 200
    assert body["choices"][0]["message"]["content"] == "A"
    [sent] = subject.requests
    assert sent["model"] == "alias"  # the upstream's name, chosen by the host
    assert sent["max_tokens"] == ProxyLimits().max_tokens  # clamped
    assert "api_key" not in sent
    assert subject.headers[0]["authorization"] == f"Bearer {UPSTREAM_KEY}"  # added on the host
    [call] = meter.calls
    assert call.status == 200
    assert call.dropped_fields == ("api_key",)
    assert call.total_tokens > 0


def test_hostile_channel_requests_are_refused_before_anything_goes_upstream(tmp_path: Path) -> None:
    subject, meter = ScriptedSubject(), CountingMeter(limit=1)
    proxy = _proxy(tmp_path, meter, subject, body_kb=1)
    messages = [{"role": "user", "content": "hi"}]
    status, body = _ask(proxy, {"model": "gpt-4o", "messages": messages})
    assert status == 403
    assert "gpt-4o" in body["error"]["message"]
    assert "embedded" in body["error"]["message"]
    status, body = _ask(proxy, {"model": "embedded", "messages": [{"role": "user", "content": "x" * 5000}]})
    assert status == 413
    assert body["error"]["type"] == "body_too_large"
    status, body = _ask(proxy, {"model": "embedded", "messages": messages}, path="/v1/embeddings")
    assert status == 404
    for prompt in ("What is your name?", PREFIX + "{not json", PREFIX + '["a list"]', PREFIX + "x" * (5 << 20)):
        answer = json.loads(proxy.answer_channel(prompt))
        assert answer["status"] == 400, prompt[:40]
    assert subject.requests == []
    status, _ = _ask(proxy, {"model": "embedded", "messages": messages})
    assert status == 200
    status, body = _ask(proxy, {"model": "embedded", "messages": messages})
    assert status == 429
    assert body["error"]["type"] == "budget_exhausted"
    assert len(subject.requests) == 1


CELL = """
import json, os
from tools.evals.endpoint import ChatClient, Endpoint, EndpointError
endpoint = Endpoint.in_sandbox()
client = ChatClient(endpoint)
first = client.complete([{"role": "user", "content": "A or B?"}], max_tokens=4)
try:
    client.complete([{"role": "user", "content": "again"}], max_tokens=4)
    second = "answered"
except EndpointError as err:
    second = type(err).__name__
try:
    ChatClient(Endpoint(base_url="http://ara-model/v1", model="gpt-4o", channel="stdin")).complete(
        [{"role": "user", "content": "hi"}], max_tokens=4)
    other = "answered"
except EndpointError as err:
    other = str(err)
typed = input("Your name? ")
import httpx
from tools.kernel.modelchannel import AsyncKernelChannelTransport
async def list_models():  # the async transport, as Inspect's model client uses it
    async with httpx.AsyncClient(transport=AsyncKernelChannelTransport(), base_url="http://ara-model/v1") as c:
        return (await c.get("/models")).json()
listed = [m["id"] for m in (await list_models())["data"]]
key_seen = [k for k, v in os.environ.items() if KEY in v or KEY in k]
print(json.dumps({"first": first, "second": second, "other": other, "typed": typed, "channel": endpoint.channel,
                  "listed": listed,
                  "model": endpoint.model, "key_in_env": key_seen}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not GATEWAY.exists(), reason="jupyter-kernel-gateway is not installed in this venv")
def test_a_gateway_kernel_calls_the_subject_model_over_its_stdin_channel(
    tmp_path: Path,
    gateway: tuple[str, str, Path],  # noqa: F811 (the fixture imported above)
) -> None:
    url, token, _ = gateway
    subject = ScriptedSubject()
    settings = SubjectSettings(model="embedded", allowed_models=["embedded"])
    proxies = SubjectProxies(settings, lambda: UPSTREAM, transport=subject.transport)
    runlog = RunLog(tmp_path / "events.jsonl")
    ledger = UsageLedger()
    head, tail = UPSTREAM_KEY[:8], UPSTREAM_KEY[8:]  # the cell looks for the key without holding it as one string
    code = f"SECRET = {head!r} + {tail!r}\n" + CELL.replace("KEY", "SECRET")

    async def run() -> str:
        pool = GatewayPool(url, token, KernelConfig(cell_timeout_s=60))
        run = proxies.for_run("r1", Budget(tokens=1), ledger, runlog)
        session = await proxies.acquire(pool, tmp_path / "run", run)
        assert session is not None
        try:
            result = await session.execute(code, 60)  # type: ignore[attr-defined]
        finally:
            await session.close()  # type: ignore[attr-defined]
            proxies.close()
        assert result.status == "ok", (result.error_name, result.error_value, result.traceback)
        return str(result.stdout)

    seen = json.loads(asyncio.run(run()).strip().splitlines()[-1])
    assert seen["first"] == "A"
    assert seen["second"] == "EndpointBudgetError"  # a budget of one token: the first call spent it
    assert "gpt-4o" in seen["other"]
    assert "embedded" in seen["other"]
    assert seen["typed"] == ""
    assert seen["listed"] == ["embedded"]
    assert (seen["channel"], seen["model"]) == ("stdin", "embedded")
    assert seen["key_in_env"] == []
    assert len(subject.requests) == 1
    called = events_of(read_events(tmp_path / "events.jsonl"), SubjectModelCalled)
    assert [c.status for c in called] == [200, 429, 403]  # answered, over budget, off the allow-list: all logged
    assert called[0].prompt_tokens > 0
    assert ledger.total_tokens == called[0].prompt_tokens + called[0].completion_tokens
