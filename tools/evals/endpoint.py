"""OpenAI-compatible endpoints for the evals: a typed config, an Inspect model for it, and a small chat client.

Covers ``Endpoint`` (base URL, model, key, timeout), turning it into an Inspect ``Model`` through Inspect's
``openai-api`` provider (so any OpenAI-compatible server works, the embedded llama.cpp server included), and
``ChatClient``: plain ``httpx`` POSTs to ``/chat/completions`` for the oversight and CoT protocols, with an
injectable transport so tests script the model with ``httpx.MockTransport``. Timeouts and HTTP failures raise
``EndpointError`` subclasses that the protocols record per item. Does not import ``openai`` (tools never do).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from tools.errors import ToolError

if TYPE_CHECKING:
    from inspect_ai.model import Model

log = logging.getLogger(__name__)

Message = dict[str, str]
"""One chat message: ``{"role": "system"|"user"|"assistant", "content": ...}``."""


class Endpoint(BaseModel):
    """An OpenAI-compatible chat endpoint.

    Example:
        >>> from tools.evals.endpoint import Endpoint
        >>> Endpoint(base_url="http://127.0.0.1:8080/v1", model="smollm2-135m-instruct").inspect_name
        'openai-api/ara/smollm2-135m-instruct'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(description="OpenAI-compatible base URL ending in /v1, e.g. http://127.0.0.1:8080/v1")
    model: str = Field(description="Model name sent with every request")
    api_key: str = Field(default="none", description="API key; local servers accept any value", repr=False)
    timeout_s: float = Field(default=120.0, gt=0, description="Per-request timeout; a timeout is a failed item")
    max_retries: int = Field(default=0, ge=0, le=10, description="Retries on timeouts and 5xx before failing")

    @property
    def inspect_name(self) -> str:
        """The model name for Inspect's OpenAI-compatible provider."""
        return f"openai-api/ara/{self.model}"

    def inspect_model(self) -> Model:
        """An Inspect ``Model`` talking to this endpoint (no environment variables needed)."""
        from inspect_ai.model import GenerateConfig, get_model

        return get_model(
            self.inspect_name,
            base_url=self.base_url,
            api_key=self.api_key,
            config=GenerateConfig(timeout=int(self.timeout_s), max_retries=self.max_retries),
            memoize=False,
        )


class EndpointError(ToolError):
    """A request to an endpoint failed (HTTP error, bad body); the message names the endpoint and what to do."""


class EndpointTimeoutError(EndpointError):
    """A request ran past ``Endpoint.timeout_s``."""


class ChatClient:
    """Blocking chat completions over ``httpx`` against one ``Endpoint``.

    Args:
        endpoint: Where to send requests.
        transport: An ``httpx`` transport (tests pass ``httpx.MockTransport``); None = real network.

    Example:
        >>> import httpx
        >>> from tools.evals.endpoint import ChatClient, Endpoint
        >>> reply = {"choices": [{"message": {"role": "assistant", "content": "B"}}]}
        >>> transport = httpx.MockTransport(lambda request: httpx.Response(200, json=reply))
        >>> client = ChatClient(Endpoint(base_url="http://x/v1", model="m"), transport=transport)
        >>> client.complete([{"role": "user", "content": "A or B?"}], max_tokens=1)
        'B'
    """

    def __init__(self, endpoint: Endpoint, transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = endpoint
        self._http = httpx.Client(
            base_url=endpoint.base_url.rstrip("/") + "/",
            timeout=endpoint.timeout_s,
            transport=transport,
            headers={"Authorization": f"Bearer {endpoint.api_key}"},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def complete(self, messages: list[Message], max_tokens: int, temperature: float = 0.0) -> str:
        """The assistant's reply text to ``messages``.

        Raises:
            EndpointTimeoutError: no answer within the endpoint's timeout (after retries).
            EndpointError: HTTP error status or a body without ``choices[0].message.content``.
        """
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        attempts = self.endpoint.max_retries + 1
        for attempt in range(attempts):
            try:
                response = self._http.post("chat/completions", json=body)
            except httpx.TimeoutException as err:
                if attempt + 1 < attempts:
                    continue
                raise EndpointTimeoutError(
                    f"{self.endpoint.base_url} ({self.endpoint.model}) did not answer within "
                    f"{self.endpoint.timeout_s:g} s; raise timeout_s or use a faster endpoint."
                ) from err
            except httpx.TransportError as err:
                raise EndpointError(f"cannot reach {self.endpoint.base_url}: {err}; is the server running?") from err
            if response.status_code >= 500 and attempt + 1 < attempts:
                continue
            return self._content(response)
        raise AssertionError("unreachable: the retry loop always returns or raises")

    def _content(self, response: httpx.Response) -> str:
        if response.status_code != 200:
            raise EndpointError(f"{self.endpoint.base_url} answered HTTP {response.status_code}: {response.text[:300]}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise EndpointError(
                f"{self.endpoint.base_url} returned no choices[0].message.content: {response.text[:300]}"
            ) from err
        return str(content or "")
