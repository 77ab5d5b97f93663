"""The LLM client over the real openai SDK and a scripted endpoint: chat, streaming, structured output,
error translation, retries, usage and budgets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, Field

from assistant.errors import (
    BudgetExceededError,
    EndpointResponseError,
    EndpointStatusError,
    StructuredOutputError,
)
from assistant.llm import LLMCall, UsageLedger
from assistant.llm.testing import (
    HTTPErrorReply,
    RawReply,
    RecordedLLM,
    ScriptedLLM,
    ToolCallReply,
    function_llm,
    record_cassette,
)


class Finding(BaseModel):
    """A four-field record, as in the acceptance test."""

    title: str = Field(description="short title")
    year: int = Field(description="publication year")
    confidence: float = Field(ge=0, le=1, description="0..1")
    tags: list[str] = Field(description="topic tags")


GOOD = {"title": "W2S", "year": 2023, "confidence": 0.8, "tags": ["w2s"]}
ASK = [{"role": "user", "content": "Summarise the paper as a Finding."}]


def test_chat_sends_model_messages_and_records_usage() -> None:
    script = ScriptedLLM(["Debate."])
    calls: list[LLMCall] = []
    client = script.client(on_call=calls.append)
    result = client.chat([{"role": "user", "content": "Name one oversight technique."}], max_tokens=12)
    assert result.text == "Debate."
    assert result.finish_reason == "stop"
    [request] = script.requests
    assert request["model"] == "scripted-model"
    assert request["messages"] == [{"role": "user", "content": "Name one oversight technique."}]
    assert request["max_tokens"] == 12
    [call] = calls
    assert call.kind == "chat"
    assert call.usage.estimated is False
    assert client.ledger.total_tokens == call.usage.total_tokens > 0
    script.assert_done()


def test_stream_yields_deltas_and_records_one_call() -> None:
    script = ScriptedLLM(["Iterated amplification."])
    client = script.client()
    pieces = list(client.stream_chat(ASK))
    assert len(pieces) > 1
    assert "".join(pieces) == "Iterated amplification."
    assert script.requests[0]["stream"] is True
    [call] = client.ledger.calls
    assert call.kind == "stream"
    assert call.response == "Iterated amplification."


def test_structured_json_object_sends_schema_and_validates() -> None:
    script = ScriptedLLM([GOOD])
    finding = script.client(structured_mode="json_object").complete_structured(ASK, Finding)
    assert finding == Finding(**GOOD)
    [request] = script.requests
    assert request["response_format"] == {"type": "json_object", "schema": Finding.model_json_schema()}
    assert request["messages"][0]["role"] == "system"
    assert json.dumps(Finding.model_json_schema(), separators=(",", ":")) in request["messages"][0]["content"]
    assert request["messages"][1:] == ASK


def test_structured_json_schema_mode_request_shape() -> None:
    script = ScriptedLLM([GOOD])
    script.client(structured_mode="json_schema").complete_structured(ASK, Finding)
    fmt = script.requests[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Finding"
    assert fmt["json_schema"]["schema"] == Finding.model_json_schema()


def test_structured_tool_mode_forces_the_call() -> None:
    script = ScriptedLLM([ToolCallReply("Finding", GOOD)])
    finding = script.client(structured_mode="tool").complete_structured(ASK, Finding)
    assert finding.year == 2023
    request = script.requests[0]
    assert request["tool_choice"] == {"type": "function", "function": {"name": "Finding"}}
    assert request["tools"][0]["function"]["parameters"] == Finding.model_json_schema()


def test_validation_error_is_fed_back_then_succeeds() -> None:
    script = ScriptedLLM([{"title": "W2S", "year": "last year", "confidence": 3, "tags": []}, GOOD])
    finding = script.client().complete_structured(ASK, Finding)
    assert finding.title == "W2S"
    retry = script.requests[1]["messages"]
    assert retry[-2] == {
        "role": "assistant",
        "content": json.dumps({"title": "W2S", "year": "last year", "confidence": 3, "tags": []}),
    }
    assert retry[-1]["role"] == "user"
    assert retry[-1]["content"].startswith("That answer was not a valid Finding: year:")
    assert "confidence: Input should be less than or equal to 1" in retry[-1]["content"]


def test_prose_where_schema_asked_fails_typed_after_bounded_retries() -> None:
    script = ScriptedLLM(["Sure! The paper is about debate."] * 3)
    with pytest.raises(StructuredOutputError) as err:
        script.client(structured_retries=2).complete_structured(ASK, Finding)
    assert len(script.requests) == 3
    assert err.value.last_output == "Sure! The paper is about debate."
    assert len(err.value.errors) == 3
    assert "gave no valid Finding after 3 attempts" in str(err.value)
    script.assert_done()


def test_fenced_json_is_accepted() -> None:
    script = ScriptedLLM(["Here you go:\n```json\n" + json.dumps(GOOD) + "\n```"])
    assert script.client().complete_structured(ASK, Finding).tags == ["w2s"]


def test_auto_mode_falls_back_when_json_schema_is_refused_and_remembers() -> None:
    script = ScriptedLLM([HTTPErrorReply(500, '{"error": {"message": "json_schema not supported"}}'), GOOD, GOOD])
    client = script.client(structured_mode="auto")
    client.complete_structured(ASK, Finding)
    assert [r["response_format"]["type"] for r in script.requests] == ["json_schema", "json_object"]
    assert client.structured_mode == "json_object"
    client.complete_structured(ASK, Finding)
    assert script.requests[2]["response_format"]["type"] == "json_object"


def test_html_from_endpoint_is_a_clear_error() -> None:
    script = ScriptedLLM([RawReply("<html><body>Welcome to nginx</body></html>", "text/html")])
    with pytest.raises(EndpointResponseError) as err:
        script.client().chat(ASK)
    assert "http://scripted.test/v1" in str(err.value)
    assert "ARA_LLM_BASE_URL" in str(err.value)


def test_truncated_json_from_endpoint_is_a_clear_error() -> None:
    script = ScriptedLLM([RawReply('{"choices": [')])
    with pytest.raises(EndpointResponseError, match="not an OpenAI-style JSON response"):
        script.client().chat(ASK)


def test_429_is_retried_with_backoff() -> None:
    script = ScriptedLLM([HTTPErrorReply(429, '{"error": {"message": "slow down"}}'), "ok"])
    assert script.client(max_retries=2).chat(ASK).text == "ok"
    assert len(script.requests) == 2


def test_persistent_5xx_is_a_typed_error_naming_status() -> None:
    script = ScriptedLLM([HTTPErrorReply(503)] * 2)
    with pytest.raises(EndpointStatusError) as err:
        script.client(max_retries=1).chat(ASK)
    assert err.value.status_code == 503
    assert "answered HTTP 503" in str(err.value)


def test_401_names_the_key_setting() -> None:
    script = ScriptedLLM([HTTPErrorReply(401, '{"error": {"message": "bad key"}}')])
    with pytest.raises(EndpointStatusError, match="ARA_LLM_API_KEY"):
        script.client().chat(ASK)


def test_token_budget_stops_the_next_call() -> None:
    ledger = UsageLedger(token_budget=5)
    script = ScriptedLLM(["a fairly long answer that uses more than five tokens in total"])
    client = script.client(ledger=ledger)
    client.chat(ASK)
    with pytest.raises(BudgetExceededError) as err:
        client.chat(ASK)
    assert err.value.budget == "tokens"
    assert "of 5 tokens used" in str(err.value)
    assert len(script.requests) == 1


def test_extra_request_fails_loudly() -> None:
    script = ScriptedLLM(["only one"])
    client = script.client()
    client.chat(ASK)
    with pytest.raises(EndpointStatusError, match="scripted LLM exhausted"):
        client.chat(ASK)
    with pytest.raises(AssertionError, match="after the script ran out"):
        script.assert_done()


def test_unused_replies_fail_assert_done() -> None:
    script = ScriptedLLM(["a", "b"])
    script.client().chat(ASK)
    with pytest.raises(AssertionError, match="1 scripted repl"):
        script.assert_done()


def test_function_llm_branches_on_request() -> None:
    def reply(body: dict[str, Any]) -> str:
        return "yes" if "debate" in body["messages"][-1]["content"] else "no"

    script = function_llm(reply, calls=2)
    client = script.client()
    assert client.chat([{"role": "user", "content": "is debate oversight?"}]).text == "yes"
    assert client.chat([{"role": "user", "content": "is soup oversight?"}]).text == "no"
    script.assert_done()


def test_recorded_cassette_replays_and_must_be_fully_played(tmp_path: Any) -> None:
    cassette = tmp_path / "c.json"
    request = {"messages": ASK}
    response = {"choices": [{"message": {"role": "assistant", "content": "recorded answer"}}]}
    record_cassette(cassette, [(request, response), (request, response)])
    recorded = RecordedLLM(cassette)
    assert recorded.client().chat(ASK).text == "recorded answer"
    with pytest.raises(AssertionError, match="never requested"):
        recorded.assert_done()


def test_recorded_cassette_rejects_different_messages(tmp_path: Any) -> None:
    cassette = tmp_path / "c.json"
    record_cassette(cassette, [({"messages": ASK}, {"choices": [{"message": {"content": "x"}}]})])
    with pytest.raises(AssertionError, match="request messages differ from the recording"):
        RecordedLLM(cassette).client().chat([{"role": "user", "content": "something else"}])


class Capped(BaseModel):
    """Length caps that llama.cpp cannot compile into a grammar."""

    text: str = Field(max_length=1500, min_length=2)
    items: list[str] = Field(max_length=3)


def test_json_object_schema_drops_length_bounds_but_validation_keeps_them() -> None:
    script = ScriptedLLM([{"text": "x" * 1600, "items": []}, {"text": "fine", "items": ["a"]}])
    result = script.client(structured_mode="json_object").complete_structured(ASK, Capped)
    assert result.text == "fine"
    sent = script.requests[0]["response_format"]["schema"]
    assert "maxLength" not in json.dumps(sent)
    assert "minLength" not in json.dumps(sent)
    assert sent["properties"]["items"]["maxItems"] == 3
    assert '"maxLength":1500' in script.requests[0]["messages"][0]["content"]
    assert "text: String should have at most 1500 characters" in script.requests[1]["messages"][-1]["content"]
