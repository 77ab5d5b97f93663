"""The subject model for remote kernels: requests over the kernel's own stdin channel instead of a Unix socket.

A kernel on a Jupyter gateway runs on another machine, so the host cannot bind its model proxy's socket into it,
and the kernel has no network. What it does have is its Jupyter connection to the host. Kernel code sends each
model request as an ``input_request`` on the stdin channel (``ipykernel``'s ``raw_input``, so it works while a cell
runs); the host, which reads every message of the cell anyway (``tools.kernel.gateway``), answers it with an
``input_reply`` from the run's ``ModelProxy`` (``ModelProxy.answer_channel``): the same allow-list, size and rate
limits, token metering and logging as requests over the socket, and no key in the kernel.

Covers the wire format (a prefixed JSON line each way) and the kernel-side ``httpx`` transports
(``KernelChannelTransport`` and its async twin) that ``tools.evals.endpoint`` uses when ``ARA_MODEL_CHANNEL`` is
``stdin``. Does not answer requests (``tools.kernel.modelproxy`` does) and trusts nothing the kernel sends: the host
parses it as hostile input, capped before parsing.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx

PREFIX = "ara-model-request:"
"""How an ``input_request`` prompt that is a model request starts (any other prompt gets an empty answer)."""
ENV = "ARA_MODEL_CHANNEL"
"""Set to ``stdin`` in kernels whose subject model is reached over this channel."""
MAX_FRAME_BYTES = 4 * 1024 * 1024 + 4096
"""Largest request the host reads from the channel (the proxy's body cap applies to the body inside it)."""


class ChannelError(ValueError):
    """A malformed request or answer on the channel (the message says what was wrong)."""


def encode_request(method: str, path: str, body: bytes) -> str:
    """The ``input_request`` prompt for one HTTP request."""
    return PREFIX + json.dumps({"method": method, "path": path, "body": body.decode("utf-8", "replace")})


def decode_request(prompt: str) -> tuple[str, str, bytes]:
    """(method, path, body) of a prompt made by ``encode_request``.

    Raises:
        ChannelError: the prompt is not a model request, or its JSON is not the expected object.
    """
    if not prompt.startswith(PREFIX):
        raise ChannelError("the prompt is not a model request")
    if len(prompt) > MAX_FRAME_BYTES:
        raise ChannelError(f"the request has {len(prompt)} characters; the limit is {MAX_FRAME_BYTES}")
    try:
        data = json.loads(prompt[len(PREFIX) :])
    except ValueError as err:
        raise ChannelError(f"the request is not JSON: {err}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("method", "path", "body")):
        raise ChannelError("the request must be a JSON object with string fields method, path and body")
    return data["method"], data["path"], data["body"].encode()


def encode_reply(status: int, body: dict[str, Any]) -> str:
    """The ``input_reply`` value for one answer."""
    return json.dumps({"status": status, "body": body})


def decode_reply(value: str) -> httpx.Response:
    """The answer as an ``httpx`` response (an empty value: the host gave no model answer)."""
    if not value:
        return httpx.Response(
            503, json={"error": {"message": "ara model channel: the host answered no model request", "type": "none"}}
        )
    data = json.loads(value)
    return httpx.Response(int(data["status"]), json=data["body"])


class KernelChannelTransport(httpx.BaseTransport):
    """Sends each request through the running kernel's stdin channel, one at a time (kernel side only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        prompt = encode_request(request.method, request.url.path, request.read())
        with self._lock:
            value = _raw_input(prompt)
        response = decode_reply(value)
        response.request = request
        return response


class AsyncKernelChannelTransport(httpx.AsyncBaseTransport):
    """The async twin (Inspect's model client): the blocking request runs in a thread, one at a time."""

    def __init__(self) -> None:
        self._sync = KernelChannelTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        copy = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        response = await asyncio.to_thread(self._sync.handle_request, copy)
        response.request = request
        return response


def _raw_input(prompt: str) -> str:
    """The kernel's ``raw_input`` (the frontend's answer to an ``input_request``), not the terminal's."""
    from IPython import get_ipython

    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        raise RuntimeError(f"{ENV}=stdin is set, but this code is not running in a Jupyter kernel")
    value: str = kernel.raw_input(prompt)
    return value
