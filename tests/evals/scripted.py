"""A scripted OpenAI-compatible chat server over ``httpx.MockTransport`` that records every request."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

Reply = str | httpx.TimeoutException
"""Text to answer with, or a timeout to raise."""


class ScriptedChat:
    """Answers each ``/chat/completions`` request with ``reply(messages)``; records request bodies in order."""

    def __init__(self, reply: Callable[[list[dict[str, str]]], Reply]) -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []

    def _handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/chat/completions"), request.url
        body = json.loads(request.content)
        self.requests.append(body)
        answer = self.reply(body["messages"])
        if isinstance(answer, httpx.TimeoutException):
            raise answer
        return httpx.Response(
            200, json={"choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}]}
        )

    @property
    def transport(self) -> httpx.MockTransport:
        """The transport to hand to ``ChatClient``."""
        return httpx.MockTransport(self._handle)

    @property
    def prompts(self) -> list[str]:
        """The last user message of every request, in order."""
        return [body["messages"][-1]["content"] for body in self.requests]
