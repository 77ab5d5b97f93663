"""A scripted subject model: an OpenAI-compatible upstream over ``httpx.MockTransport`` for the model proxy.

Answers ``/chat/completions`` with ``reply(messages)`` (and, when ``logprobs`` is asked, first-token
``top_logprobs`` favouring the letter the reply starts with) and ``/completions`` with the same text; every reply
carries ``usage``. Records each request's body and headers, so tests see what reached the upstream (the host-side
key, the upstream model name, the clamped ``max_tokens``). Only the model's answers are fake: the proxy, its
socket and the clients are real.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx

UPSTREAM_KEY = "sk-subject-host-only-4f1c9e"
"""The API key the host's proxy adds; it must never appear inside a sandbox."""


def first_letter(messages: list[dict[str, Any]]) -> str:
    """The default reply: option A, with a one-sentence chain of thought when reasoning is asked for."""
    text = str(messages[-1].get("content", ""))
    if "Think step by step" in text:
        return "The first option is right. It matches the facts.\nAnswer: A"
    if "Rewrite this step" in text:
        return "The second option is right."
    if "Continue the reasoning" in text:
        return "So the answer follows."
    return "A"


class ScriptedSubject:
    """Records requests; answers with ``reply(messages)``."""

    def __init__(self, reply: Callable[[list[dict[str, Any]]], str] = first_letter, *, logprobs: bool = True) -> None:
        self.reply = reply
        self.logprobs = logprobs
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def _handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(request.headers))
        if request.url.path.endswith("/completions") and not request.url.path.endswith("/chat/completions"):
            text = self.reply([{"role": "user", "content": body["prompt"]}])
            return httpx.Response(
                200,
                json={
                    "object": "text_completion",
                    "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
                },
            )
        text = self.reply(body["messages"])
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }
        if body.get("logprobs") and self.logprobs:
            first = text[:1] or "A"
            top = [{"token": first, "logprob": -0.1}] + [
                {"token": letter, "logprob": -3.0} for letter in "ABCDE" if letter != first
            ]
            choice["logprobs"] = {"content": [{"token": first, "logprob": -0.1, "top_logprobs": top}]}
        prompt = sum(len(str(m.get("content", ""))) for m in body["messages"]) // 4 + 1
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "?"),
                "choices": [choice],
                "usage": {"prompt_tokens": prompt, "completion_tokens": 5, "total_tokens": prompt + 5},
            },
        )

    @property
    def transport(self) -> httpx.MockTransport:
        """The upstream transport for ``ModelProxy``."""
        return httpx.MockTransport(self._handle)


class CountingMeter:
    """A ``Meter`` with a token limit: refuses past it, keeps every call."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.calls: list[Any] = []

    @property
    def used(self) -> int:
        return sum(c.total_tokens for c in self.calls)

    def admit(self, model: str, max_tokens: int) -> str | None:
        if self.limit is not None and self.used >= self.limit:
            return f"the run's token budget is spent ({self.used} of {self.limit} tokens used)"
        return None

    def record(self, call: Any) -> None:
        self.calls.append(call)
