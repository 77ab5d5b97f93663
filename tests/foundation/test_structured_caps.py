"""Structured output that survives a verbose model: caps sized to the schema, truncation detected and retried.

Every reply goes through the real ``openai`` SDK and ``OpenAIClient`` (``ScriptedLLM``); ``TruncatedReply`` is an
answer that stopped at the token cap with ``finish_reason == "length"``, as the 1.5B model's plans did at 768.
"""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

from assistant.errors import StructuredOutputError
from assistant.llm.structured import token_cap
from assistant.llm.testing import ScriptedLLM, TruncatedReply
from assistant.report.model import ReportDraft
from assistant.schemas import FreeCell, ResearchBrief, plans_schema


class Finding(BaseModel):
    title: str = Field(description="short title")
    year: int = Field(description="publication year")
    tags: list[str] = Field(description="topic tags")


GOOD = {"title": "W2S", "year": 2023, "tags": ["w2s"]}
CUT = TruncatedReply('{"title": "Weak-to-strong generalization across many tasks and')
ASK = [{"role": "user", "content": "Summarise the paper as a Finding."}]


def _sent(script: ScriptedLLM) -> list[str]:
    return [json.dumps([r["messages"], r["max_tokens"]]) for r in script.requests]


def test_caps_are_sized_to_the_schema_within_floor_and_ceiling() -> None:
    caps = {
        m.__name__: token_cap(m, floor=768, ceiling=4096)
        for m in (Finding, ResearchBrief, FreeCell, ReportDraft, plans_schema(["w2s", "probes"]))
    }
    assert caps["Finding"] == 768  # a small record stays at the floor
    # three full plans with pre-registered hypotheses estimate past the ceiling (6,134), so they get all of it
    assert caps["ExperimentPlans"] == 4096
    assert caps["ResearchBrief"] < caps["ReportDraft"] < caps["ExperimentPlans"]
    assert caps["FreeCell"] > 768  # a code cell is budgeted as long text
    assert token_cap(plans_schema(["w2s"]), floor=768, ceiling=2000) == 2000


def test_the_first_request_carries_the_schema_sized_cap_or_the_callers() -> None:
    script = ScriptedLLM([GOOD, GOOD])
    client = script.client()
    client.complete_structured(ASK, Finding)
    client.complete_structured(ASK, Finding, max_tokens=333)
    assert [r["max_tokens"] for r in script.requests] == [768, 333]


def test_a_truncated_answer_is_retried_with_a_doubled_cap_and_a_request_to_be_shorter() -> None:
    script = ScriptedLLM([CUT, GOOD])
    calls = []
    client = script.client(on_call=calls.append)
    assert client.complete_structured(ASK, Finding, call="intake").title == "W2S"
    first, second = script.requests
    assert (first["max_tokens"], second["max_tokens"]) == (768, 1536)
    retry = second["messages"][-1]
    assert retry["role"] == "user"
    assert retry["content"].startswith("Your Finding was cut off at the limit of 768 tokens")
    assert "fewer and shorter items" in retry["content"]
    assert CUT.text not in json.dumps(second["messages"])  # the cut-off text is not fed back
    assert [c.attempt for c in calls] == [1, 2]
    script.assert_done()


def test_repeated_truncation_fails_naming_the_call_the_caps_and_the_setting() -> None:
    script = ScriptedLLM([CUT, CUT, CUT])
    with pytest.raises(StructuredOutputError) as err:
        script.client(structured_max_tokens=2000).complete_structured(ASK, Finding, call="propose_experiments")
    message = str(err.value)
    assert "the propose_experiments call" in message
    assert "gave no valid Finding after 3 attempts" in message
    assert "caps tried: 768, 1536, 2000 tokens" in message
    assert "ARA_LLM_STRUCTURED_MAX_TOKENS" in message
    assert "now 2000" in message
    assert len(set(_sent(script))) == 3  # never three identical attempts
    assert len(err.value.errors) == 3
    assert all("finish_reason=length" in e for e in err.value.errors)
    script.assert_done()


def test_at_the_ceiling_each_retry_still_differs() -> None:
    script = ScriptedLLM([CUT] * 5)
    client = script.client(max_tokens=512, structured_max_tokens=512)
    client.structured_retries = 4
    with pytest.raises(StructuredOutputError):
        client.complete_structured(ASK, Finding)
    assert [r["max_tokens"] for r in script.requests] == [512] * 5
    assert len(set(_sent(script))) == 5
    last = script.requests[2]["messages"][-1]["content"]
    assert "one item per list" in last


def test_truncation_then_invalid_answers_report_the_last_validation_error() -> None:
    script = ScriptedLLM([CUT, {"title": "x", "year": "soon", "tags": []}, {"title": "x", "year": "later", "tags": []}])
    with pytest.raises(StructuredOutputError) as err:
        script.client().complete_structured(ASK, Finding, call="analyze")
    message = str(err.value)
    assert "the analyze call" in message
    assert "1 answer(s) cut off" in message
    assert "year" in message
    assert len(set(_sent(script))) == 3
