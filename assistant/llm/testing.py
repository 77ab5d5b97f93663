"""Test doubles for the LLM layer: the real ``openai`` client over an ``httpx.MockTransport``.

Covers a scripted server (canned replies popped in order; every request recorded; an unexpected extra request
fails loudly and is reported at ``assert_done``), a function-driven server (each reply computed from the request),
and a recorded server that replays a JSON cassette and fails when it is not fully played. Nothing here skips
the code under test: requests go through ``OpenAIClient`` and the ``openai`` SDK exactly as in production.
Does not cover live recording from real endpoints (that is ``bench``/manual work).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from assistant.llm.client import LLMCall, OpenAIClient, UsageLedger
from assistant.llm.structured import StructuredMode

BASE_URL = "http://scripted.test/v1"


class ScriptExhaustedError(AssertionError):
    """The code under test sent more requests than the script holds."""


@dataclass(frozen=True)
class ToolCallReply:
    """A reply that is a function/tool call with JSON ``arguments``."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class HTTPErrorReply:
    """A reply that is an HTTP error (``status`` with a raw ``body``; ``content_type`` may be text/html)."""

    status: int
    body: str = '{"error": {"message": "scripted error", "type": "server_error"}}'
    content_type: str = "application/json"


@dataclass(frozen=True)
class RawReply:
    """A 200 reply with an arbitrary body (to test garbage from an endpoint)."""

    body: str
    content_type: str = "application/json"


@dataclass(frozen=True)
class TruncatedReply:
    """A 200 reply whose text stopped at the token cap (``finish_reason == "length"``), as a verbose model's does."""

    text: str


Reply = str | dict[str, Any] | ToolCallReply | HTTPErrorReply | RawReply | TruncatedReply
"""Text, a JSON object (sent as its text), a tool call, an HTTP error, a raw body or a truncated answer."""


def _usage(request: dict[str, Any], text: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", ""))) for m in request.get("messages", [])) // 4 + 1
    completion = len(text) // 4 + 1
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_json(
    request: dict[str, Any], reply: str | dict[str, Any] | ToolCallReply | TruncatedReply
) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` body for ``reply``."""
    model = request.get("model", "scripted")
    if isinstance(reply, TruncatedReply):
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        text, finish = reply.text, "length"
    elif isinstance(reply, ToolCallReply):
        arguments = json.dumps(reply.arguments)
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": reply.name, "arguments": arguments}}
            ],
        }
        text, finish = arguments, "tool_calls"
    else:
        text = reply if isinstance(reply, str) else json.dumps(reply)
        message, finish = {"role": "assistant", "content": text}, "stop"
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": _usage(request, text),
    }


def sse_body(request: dict[str, Any], text: str, pieces: int = 4) -> str:
    """A streamed ``chat.completion.chunk`` SSE body delivering ``text`` in ``pieces`` deltas, then usage."""
    model = request.get("model", "scripted")
    size = max(1, -(-len(text) // pieces))
    chunks = [text[i : i + size] for i in range(0, len(text), size)] or [""]
    events = []
    for piece in chunks:
        chunk = {
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
        }
        events.append(f"data: {json.dumps(chunk)}\n\n")
    final = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [],
        "usage": _usage(request, text),
    }
    events.append(f"data: {json.dumps(final)}\n\n")
    events.append("data: [DONE]\n\n")
    return "".join(events)


@dataclass
class ScriptedLLM:
    """A scripted OpenAI-compatible endpoint. Pops one reply per chat request and records each request body.

    Use ``client()`` for an ``OpenAIClient`` wired to it. An extra request beyond the script is answered with a
    500 and remembered; ``assert_done()`` then fails naming it (also when replies were left unused).
    """

    replies: list[Reply | Callable[[dict[str, Any]], Reply]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    cycle_forbidden: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._position = 0

    @property
    def remaining(self) -> int:
        """Replies not yet served."""
        return len(self.replies) - self._position

    def next_reply(self, body: dict[str, Any]) -> Reply:
        """The next scripted reply for ``body`` (raises ``ScriptExhaustedError`` when none is left)."""
        with self._lock:
            if self._position >= len(self.replies):
                self.unexpected.append(body)
                raise ScriptExhaustedError(
                    f"scripted LLM exhausted after {len(self.replies)} replies; unexpected request: "
                    f"{json.dumps(body.get('messages', []))[-500:]}"
                )
            reply = self.replies[self._position]
            self._position += 1
        return reply(body) if callable(reply) else reply

    def handle(self, request: httpx.Request) -> httpx.Response:
        """``httpx.MockTransport`` handler."""
        if not request.url.path.endswith("/chat/completions"):
            if request.url.path.endswith("/models"):
                return httpx.Response(200, json={"object": "list", "data": [{"id": "scripted", "object": "model"}]})
            return httpx.Response(404, json={"error": {"message": f"no route {request.url.path}"}})
        body = json.loads(request.content or b"{}")
        self.requests.append(body)
        try:
            reply = self.next_reply(body)
        except ScriptExhaustedError as err:
            return httpx.Response(500, json={"error": {"message": str(err), "type": "script_exhausted"}})
        if isinstance(reply, HTTPErrorReply):
            return httpx.Response(
                reply.status, content=reply.body.encode(), headers={"content-type": reply.content_type}
            )
        if isinstance(reply, RawReply):
            return httpx.Response(200, content=reply.body.encode(), headers={"content-type": reply.content_type})
        if body.get("stream"):
            text = (
                reply.text
                if isinstance(reply, TruncatedReply)
                else reply
                if isinstance(reply, str)
                else json.dumps(reply)
            )
            return httpx.Response(
                200, content=sse_body(body, text).encode(), headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(200, json=completion_json(body, reply))

    def http_client(self) -> httpx.Client:
        """An ``httpx.Client`` whose every request is answered by this script."""
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def client(
        self,
        *,
        model: str = "scripted-model",
        structured_mode: StructuredMode = "json_object",
        structured_retries: int = 2,
        ledger: UsageLedger | None = None,
        on_call: Callable[[LLMCall], None] | None = None,
        max_retries: int = 0,
        max_tokens: int = 768,
        structured_max_tokens: int = 4096,
    ) -> OpenAIClient:
        """An ``OpenAIClient`` (the real SDK) talking to this script."""
        return OpenAIClient(
            base_url=BASE_URL,
            model=model,
            api_key="test-key",
            max_retries=max_retries,
            structured_mode=structured_mode,
            structured_retries=structured_retries,
            max_tokens=max_tokens,
            structured_max_tokens=structured_max_tokens,
            http_client=self.http_client(),
            ledger=ledger,
            on_call=on_call,
        )

    def user_messages(self) -> list[str]:
        """The content of the last user message of each request, in order."""
        out = []
        for body in self.requests:
            users = [m for m in body.get("messages", []) if m.get("role") == "user"]
            out.append(str(users[-1]["content"]) if users else "")
        return out

    def assert_done(self) -> None:
        """Fail when replies were left unused or requests arrived after the script ran out."""
        if self.unexpected:
            raise ScriptExhaustedError(f"{len(self.unexpected)} request(s) arrived after the script ran out")
        if self.remaining:
            raise AssertionError(f"{self.remaining} scripted repl(ies) were never requested")


def function_llm(fn: Callable[[dict[str, Any]], Reply], calls: int) -> ScriptedLLM:
    """A script of exactly ``calls`` replies, each computed by ``fn(request_body)`` (for branches and retries)."""
    return ScriptedLLM(replies=[fn] * calls)


class RecordedLLM(ScriptedLLM):
    """Replays a cassette: a JSON list of ``{"request": {...}, "response": <chat.completion body>}``.

    When ``match_messages`` is true each request's messages must equal the recorded ones. ``assert_done`` fails
    when the cassette was not fully played.
    """

    def __init__(self, cassette: Path, *, match_messages: bool = True) -> None:
        entries = json.loads(cassette.read_text(encoding="utf-8"))
        if not isinstance(entries, list):
            raise ValueError(f"{cassette}: a cassette is a JSON list of request/response pairs")
        self.cassette = cassette
        self.match_messages = match_messages
        self.entries: list[dict[str, Any]] = entries
        super().__init__(replies=[self._replay(i) for i in range(len(entries))])

    def _replay(self, index: int) -> Callable[[dict[str, Any]], Reply]:
        def reply(body: dict[str, Any]) -> Reply:
            entry = self.entries[index]
            recorded = entry.get("request", {}).get("messages")
            if self.match_messages and recorded is not None and recorded != body.get("messages"):
                raise AssertionError(f"{self.cassette} entry {index}: request messages differ from the recording")
            message = entry["response"]["choices"][0]["message"]
            if message.get("tool_calls"):
                call = message["tool_calls"][0]["function"]
                return ToolCallReply(call["name"], json.loads(call["arguments"]))
            return str(message.get("content") or "")

        return reply


def record_cassette(path: Path, pairs: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Write request/response pairs (auth never included: only bodies are stored) as a cassette."""
    path.write_text(json.dumps([{"request": req, "response": resp} for req, resp in pairs], indent=1), encoding="utf-8")
