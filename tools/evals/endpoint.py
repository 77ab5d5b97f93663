"""OpenAI-compatible endpoints for the evals: a typed config, an Inspect model for it, and a small chat client.

Covers ``Endpoint`` (base URL, model, key, timeout), turning it into an Inspect ``Model`` through Inspect's
``openai-api`` provider (so any OpenAI-compatible server works, the embedded llama.cpp server included), and
``ChatClient``: plain ``httpx`` POSTs to ``/chat/completions`` for the oversight and CoT protocols, with an
injectable transport so tests script the model with ``httpx.MockTransport``. Timeouts and HTTP failures raise
``EndpointError`` subclasses that the protocols record per item. Inside a sandboxed kernel the run's subject model
is reached through the host's model proxy on a Unix socket (``Endpoint.in_sandbox()``, from the ``ARA_MODEL_SOCKET``
and ``ARA_MODEL_NAME`` variables the sandbox sets; ``tools.kernel.modelproxy``): ``ChatClient`` and the Inspect
model then talk HTTP over that socket, with no key; a remote kernel (a gateway) sends the same requests over its
Jupyter stdin channel instead (``ARA_MODEL_CHANNEL=stdin``; ``tools.kernel.modelchannel``). Does not import
``openai`` (tools never do).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from tools.errors import ToolError
from tools.kernel.modelchannel import ENV as CHANNEL_ENV
from tools.kernel.modelchannel import AsyncKernelChannelTransport, KernelChannelTransport

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
    socket: str | None = Field(
        default=None, description="Unix socket to send requests through (the sandbox's model proxy); None = TCP"
    )
    channel: Literal["stdin"] | None = Field(
        default=None,
        description="'stdin': send requests over this kernel's Jupyter stdin channel (a remote kernel's model "
        "proxy, tools.kernel.modelchannel); None = HTTP",
    )

    @classmethod
    def in_sandbox(cls, timeout_s: float = 300.0) -> Endpoint:
        """The run's subject model as this kernel reaches it: the host's model proxy on a Unix socket.

        Raises:
            EndpointError: this kernel has no model endpoint (``ARA_MODEL_SOCKET`` is not set).

        Example:
            >>> from tools.evals.endpoint import ChatClient, Endpoint
            >>> client = ChatClient(Endpoint.in_sandbox())                        # doctest: +SKIP
            >>> client.complete([{"role": "user", "content": "Hi"}], max_tokens=8)  # doctest: +SKIP
        """
        path = os.environ.get("ARA_MODEL_SOCKET")
        if not path and os.environ.get(CHANNEL_ENV) == "stdin":
            return cls(
                base_url="http://ara-model/v1",
                model=os.environ.get("ARA_MODEL_NAME") or "subject",
                channel="stdin",
                timeout_s=timeout_s,
            )
        if not path:
            raise EndpointError(
                "this kernel has no model endpoint (ARA_MODEL_SOCKET is not set): the host binds the subject "
                "model's proxy into kernels of research runs; in other kernels pass an Endpoint with a base_url."
            )
        return cls(
            base_url="http://ara-model/v1",
            model=os.environ.get("ARA_MODEL_NAME") or "subject",
            socket=path,
            timeout_s=timeout_s,
        )

    @property
    def where(self) -> str:
        """The endpoint for messages: its URL, or the socket it goes through."""
        if self.channel == "stdin":
            return "the model proxy over this kernel's stdin channel"
        return f"the model proxy at {self.socket}" if self.socket else self.base_url

    @property
    def inspect_name(self) -> str:
        """The model name for Inspect's OpenAI-compatible provider."""
        return f"openai-api/ara/{self.model}"

    def inspect_model(self) -> Model:
        """An Inspect ``Model`` talking to this endpoint (no environment variables needed)."""
        from inspect_ai.model import GenerateConfig, get_model

        extra: dict[str, Any] = {}
        if self.socket is not None or self.channel == "stdin":
            transport: httpx.AsyncBaseTransport = (
                AsyncKernelChannelTransport() if self.channel == "stdin" else httpx.AsyncHTTPTransport(uds=self.socket)
            )
            extra["http_client"] = httpx.AsyncClient(transport=transport, timeout=self.timeout_s)
        return get_model(
            self.inspect_name,
            base_url=self.base_url,
            api_key=self.api_key,
            config=GenerateConfig(timeout=int(self.timeout_s), max_retries=self.max_retries),
            memoize=False,
            **extra,
        )


class EndpointError(ToolError):
    """A request to an endpoint failed (HTTP error, bad body); the message names the endpoint and what to do."""


class EndpointTimeoutError(EndpointError):
    """A request ran past ``Endpoint.timeout_s``."""


class EndpointBudgetError(EndpointError):
    """The host's model proxy refused a request because the run's token budget is spent (``budget_exhausted``)."""


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
        if transport is None and endpoint.channel == "stdin":
            transport = KernelChannelTransport()
        if transport is None and endpoint.socket is not None:
            transport = httpx.HTTPTransport(uds=endpoint.socket)
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
        reply = self.create(messages, max_tokens, temperature)
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as err:
            raise EndpointError(
                f"{self.endpoint.where} returned no choices[0].message.content: {str(reply)[:300]}"
            ) from err
        return str(content or "")

    def first_token_logprobs(self, messages: list[Message], top_logprobs: int = 20) -> list[tuple[str, float]] | None:
        """The first generated token's ``top_logprobs`` alternatives as (token, logprob), or None when the backend
        gives none (the caller then generates and parses instead).

        Raises:
            EndpointTimeoutError: no answer within the endpoint's timeout.
            EndpointError: HTTP error status or a body that is not a chat completion.
        """
        reply = self.create(messages, 1, 0.0, logprobs=True, top_logprobs=top_logprobs)
        try:
            content = reply["choices"][0].get("logprobs") or {}
            first = (content.get("content") or [None])[0] or {}
            top = first.get("top_logprobs") or []
            return [(str(t["token"]), float(t["logprob"])) for t in top] or None
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            return None

    def create(
        self, messages: list[Message], max_tokens: int, temperature: float = 0.0, **extra: Any
    ) -> dict[str, Any]:
        """The whole ``chat.completion`` body for ``messages`` (``extra`` fields such as ``logprobs`` are sent).

        Raises:
            EndpointTimeoutError: no answer within the endpoint's timeout (after retries).
            EndpointError: unreachable, an HTTP error status, or a body that is not a JSON object.
        """
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            **extra,
        }
        where = self.endpoint.where
        attempts = self.endpoint.max_retries + 1
        for attempt in range(attempts):
            try:
                response = self._http.post("chat/completions", json=body)
            except httpx.TimeoutException as err:
                if attempt + 1 < attempts:
                    continue
                raise EndpointTimeoutError(
                    f"{where} ({self.endpoint.model}) did not answer within "
                    f"{self.endpoint.timeout_s:g} s; raise timeout_s or use a faster endpoint."
                ) from err
            except httpx.TransportError as err:
                hint = (
                    "the host's model proxy is not running (it stops with the run; see the run log)"
                    if self.endpoint.socket
                    else "is the server running?"
                )
                raise EndpointError(f"cannot reach {where}: {err}; {hint}") from err
            if response.status_code >= 500 and attempt + 1 < attempts:
                continue
            return self._json(response)
        raise AssertionError("unreachable: the retry loop always returns or raises")

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        where = self.endpoint.where
        if response.status_code == 429 and "budget_exhausted" in response.text:
            raise EndpointBudgetError(
                f"{where} refused the request (budget_exhausted): {response.text[:300]}; the run's token budget "
                "is spent, so stop calling the model"
            )
        if response.status_code != 200:
            raise EndpointError(f"{where} answered HTTP {response.status_code}: {response.text[:300]}")
        try:
            reply = response.json()
        except ValueError as err:
            raise EndpointError(f"{where} returned a body that is not JSON: {response.text[:300]}") from err
        if not isinstance(reply, dict):
            raise EndpointError(f"{where} returned JSON that is not an object: {response.text[:300]}")
        return reply
