"""The model proxy on a real Unix socket with a scripted upstream: pass-through, allow-list, limits, budget, death.

Requests go from ``tools.evals.endpoint.ChatClient`` (or a raw ``httpx`` client) over the socket to the real
``ModelProxy``; only the upstream's answers are scripted.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.subject.scripted_subject import UPSTREAM_KEY, CountingMeter, ScriptedSubject
from tools.evals.endpoint import ChatClient, Endpoint, EndpointBudgetError, EndpointError
from tools.kernel.modelproxy import ModelProxy, ModelProxyError, ProxyLimits, Upstream

UPSTREAM = Upstream(base_url="http://upstream.test/v1", model="gguf-alias-sha", api_key=SecretStr(UPSTREAM_KEY))


def _proxy(tmp_path: Path, subject: ScriptedSubject, meter: CountingMeter, **limits: object) -> ModelProxy:
    return ModelProxy(
        tmp_path / "sock" / "model.sock",
        {"embedded": UPSTREAM},
        ProxyLimits.model_validate(limits),
        meter,
        transport=subject.transport,
    )


def _raw(proxy: ModelProxy) -> httpx.Client:
    return httpx.Client(base_url="http://ara-model/v1/", transport=httpx.HTTPTransport(uds=str(proxy.socket_path)))


def test_chat_passes_through_with_logprobs_and_the_host_adds_the_key(tmp_path: Path) -> None:
    subject, meter = ScriptedSubject(), CountingMeter()
    with _proxy(tmp_path, subject, meter, max_tokens=64) as proxy:
        client = ChatClient(Endpoint(base_url="http://ara-model/v1", model="embedded", socket=str(proxy.socket_path)))
        top = client.first_token_logprobs([{"role": "user", "content": "A or B?"}])
        assert top is not None
        assert top[0] == ("A", -0.1)
        assert client.complete([{"role": "user", "content": "A or B?"}], max_tokens=5000) == "A"
        client.close()
        with _raw(proxy) as raw:
            done = raw.post("completions", json={"model": "embedded", "prompt": "2+2=", "max_tokens": 3})
            models = raw.get("models").json()
    assert done.status_code == 200
    assert done.json()["choices"][0]["text"] == "A"
    assert models["data"] == [{"id": "embedded", "object": "model"}]
    assert [r["model"] for r in subject.requests] == ["gguf-alias-sha"] * 3, "the upstream name, set on the host"
    assert [r["max_tokens"] for r in subject.requests] == [1, 64, 3], "5000 was clamped to the proxy's cap"
    assert subject.requests[0]["logprobs"] is True
    assert subject.requests[0]["top_logprobs"] == 20
    assert {h["authorization"] for h in subject.headers} == {f"Bearer {UPSTREAM_KEY}"}
    assert [(c.route, c.status, c.refused) for c in meter.calls] == [
        ("chat", 200, None),
        ("chat", 200, None),
        ("completions", 200, None),
    ]
    assert meter.calls[2].prompt_tokens == 7
    assert meter.calls[2].completion_tokens == 3
    assert not proxy.socket_path.exists(), "the socket is removed when the proxy stops"


def test_a_model_off_the_allow_list_and_bad_requests_are_refused_before_the_upstream(tmp_path: Path) -> None:
    subject, meter = ScriptedSubject(), CountingMeter()
    with _proxy(tmp_path, subject, meter, max_body_bytes=2048) as proxy:
        client = ChatClient(Endpoint(base_url="http://ara-model/v1", model="gpt-4o", socket=str(proxy.socket_path)))
        with pytest.raises(EndpointError) as caught:
            client.complete([{"role": "user", "content": "hi"}], max_tokens=4)
        client.close()
        with _raw(proxy) as raw:
            big = raw.post(
                "chat/completions", json={"model": "embedded", "messages": [{"role": "user", "content": "x" * 5000}]}
            )
            streamed = raw.post(
                "chat/completions",
                json={"model": "embedded", "stream": True, "messages": [{"role": "user", "content": "x"}]},
            )
            garbage = raw.post("chat/completions", content=b"{not json")
            no_messages = raw.post("chat/completions", json={"model": "embedded", "messages": []})
            negative = raw.post(
                "chat/completions",
                json={"model": "embedded", "max_tokens": -1, "messages": [{"role": "user", "content": "x"}]},
            )
    assert "answered HTTP 403" in str(caught.value)
    assert "model 'gpt-4o' is not on this run's allow-list (allowed: embedded)" in str(caught.value)
    assert big.status_code == 413
    assert "the limit is 2048" in big.json()["error"]["message"]
    assert streamed.status_code == 400
    assert "stream=true is not supported" in streamed.json()["error"]["message"]
    assert garbage.status_code == 400
    assert "not JSON" in garbage.json()["error"]["message"]
    assert no_messages.status_code == 400
    assert "messages must be a non-empty list" in no_messages.text
    assert negative.status_code == 400
    assert "max_tokens must be a positive integer" in negative.text
    assert subject.requests == [], "nothing refused reached the upstream"
    assert [c.status for c in meter.calls] == [403, 413, 400, 400, 400, 400]


def test_the_budget_refuses_calls_once_spent(tmp_path: Path) -> None:
    subject, meter = ScriptedSubject(), CountingMeter(limit=30)
    with _proxy(tmp_path, subject, meter) as proxy:
        client = ChatClient(Endpoint(base_url="http://ara-model/v1", model="embedded", socket=str(proxy.socket_path)))
        answered, refusal = 0, None
        for _ in range(1000):  # a runaway loop
            try:
                client.complete([{"role": "user", "content": "Say A. " * 10}], max_tokens=4)
            except EndpointBudgetError as err:
                refusal = err
                break
            answered += 1
        client.close()
    assert 1 <= answered <= 3, answered
    assert len(subject.requests) == answered, "the refused call never reached the upstream"
    assert "budget_exhausted" in str(refusal)
    assert "token budget is spent" in str(refusal)
    assert meter.used >= 30


def test_calls_are_paced_and_a_caller_past_the_wait_gets_429(tmp_path: Path) -> None:
    subject, meter = ScriptedSubject(), CountingMeter()
    with _proxy(tmp_path, subject, meter, calls_per_s=2.0, burst=1, max_wait_s=0.0) as proxy, _raw(proxy) as raw:
        body = {"model": "embedded", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1}
        first, second = raw.post("chat/completions", json=body), raw.post("chat/completions", json=body)
    assert first.status_code == 200
    assert second.status_code == 429
    assert second.headers["retry-after"] == "1"
    assert "more than 2 calls/s" in second.json()["error"]["message"]
    assert len(subject.requests) == 1


def test_a_stopped_proxy_is_a_clear_error_and_ensure_restarts_it_on_the_same_socket(tmp_path: Path) -> None:
    subject, meter = ScriptedSubject(), CountingMeter()
    proxy = _proxy(tmp_path, subject, meter).start()
    endpoint = Endpoint(base_url="http://ara-model/v1", model="embedded", socket=str(proxy.socket_path))
    proxy.stop()
    client = ChatClient(endpoint)
    with pytest.raises(EndpointError) as caught:
        client.complete([{"role": "user", "content": "hi"}], max_tokens=2)
    assert f"cannot reach the model proxy at {proxy.socket_path}" in str(caught.value)
    assert "the host's model proxy is not running" in str(caught.value)
    proxy.ensure()
    try:
        assert client.complete([{"role": "user", "content": "hi"}], max_tokens=2) == "A"
    finally:
        client.close()
        proxy.stop()


def test_an_upstream_that_dies_answers_502_with_the_reason(tmp_path: Path) -> None:
    def dead(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    meter = CountingMeter()
    proxy = ModelProxy(
        tmp_path / "s" / "model.sock", {"embedded": UPSTREAM}, ProxyLimits(), meter, httpx.MockTransport(dead)
    )
    with proxy, _raw(proxy) as raw:
        reply = raw.post("chat/completions", json={"model": "embedded", "messages": [{"role": "user", "content": "x"}]})
    assert reply.status_code == 502
    assert reply.json()["error"] == {
        "message": "ara model proxy: cannot reach the model server: connection refused",
        "type": "upstream_unreachable",
    }


def test_the_socket_path_must_not_be_something_else(tmp_path: Path) -> None:
    path = tmp_path / "d" / "model.sock"
    path.parent.mkdir()
    path.write_text("not a socket")
    proxy = ModelProxy(path, {"embedded": UPSTREAM}, ProxyLimits(), CountingMeter())
    with pytest.raises(ModelProxyError, match="exists and is not a socket"):
        proxy.start()
    assert path.read_text() == "not a socket", "nothing stored is lost"


def test_concurrent_callers_are_all_answered_and_counted(tmp_path: Path) -> None:
    """Callers released together all connect: a Unix socket with a full backlog refuses at once (EAGAIN), so a
    backlog of socketserver's default 5 fails this with 32 callers."""
    callers = 32
    subject, meter = ScriptedSubject(), CountingMeter()
    statuses: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(callers)
    with _proxy(tmp_path, subject, meter, calls_per_s=1000.0, burst=callers) as proxy:

        def call() -> None:
            with _raw(proxy) as raw:
                body = {"model": "embedded", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1}
                start.wait()
                try:
                    statuses.append(raw.post("chat/completions", json=body).status_code)
                except httpx.HTTPError as err:
                    errors.append(err)

        threads = [threading.Thread(target=call) for _ in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert statuses == [200] * callers
    assert len(meter.calls) == callers
    assert proxy.forwarded == callers
    assert json.loads(json.dumps([c.model_dump() for c in meter.calls]))[0]["model"] == "embedded"


def test_a_caller_that_hung_up_is_one_log_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A kernel interrupted at its cell timeout closes its socket mid-answer: socketserver printed two BrokenPipe
    tracebacks on the researcher's terminal."""
    from tools.kernel.modelproxy import _Server

    server = _Server.__new__(_Server)
    with caplog.at_level("INFO", logger="tools.kernel.modelproxy"):
        try:
            raise BrokenPipeError(32, "Broken pipe")
        except BrokenPipeError:
            server.handle_error(None, None)
        try:
            raise ValueError("a real bug")
        except ValueError:
            server.handle_error(None, None)
    assert capsys.readouterr().err == ""
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "model proxy: the caller closed its connection before the answer was sent ([Errno 32] Broken pipe)"),
        ("ERROR", "model proxy: a request failed"),
    ]
    assert caplog.records[1].exc_info is not None, "a real failure keeps its traceback in the log"
