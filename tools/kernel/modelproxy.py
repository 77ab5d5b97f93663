"""A host-side model proxy on a Unix socket: how a sandboxed kernel (no network) reaches the subject model.

Covers ``ModelProxy``: a small threaded HTTP/1.1 server listening on a Unix socket that the sandbox binds read-only
at ``/ara/model`` (``KernelConfig.model_socket``), speaking the OpenAI-compatible subset ``POST
/v1/chat/completions``, ``POST /v1/completions`` and ``GET /v1/models``. Each request is checked before anything
goes upstream: the body is capped (``ProxyLimits.max_body_bytes``, ``Content-Length`` required), the model name
must be one of the proxy's models (the allow-list), ``stream`` and ``n > 1`` are refused, unknown fields are
dropped, ``max_tokens`` is clamped to ``ProxyLimits.max_tokens``, calls are paced to ``calls_per_s`` (a request
waits for its turn up to ``max_wait_s``, then gets 429) and at most ``max_concurrent`` run at once, and the
``Meter`` (the run's token budget, on the host) may refuse. Allowed requests are forwarded with the host-side API
key (the kernel never holds one); ``logprobs``/``top_logprobs`` pass through. After each request the meter gets a
``ProxyCall`` (tokens from the upstream's ``usage``, estimated from text length when it gives none), so every
token is counted and every call logged by the caller.

Remote kernels (a gateway) send the same requests over their stdin channel instead (``answer_channel``, see
``tools.kernel.modelchannel``). Does not read ara's settings or budgets (``assistant.subject`` builds the upstream, limits and meter) and does not
start model servers.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import stat
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tools.errors import ToolError, UserInputError
from tools.kernel.modelchannel import ChannelError, decode_request, encode_reply

log = logging.getLogger(__name__)

SOCKET_NAME = "model.sock"
"""The socket's file name inside its directory (the directory is what the sandbox binds)."""
MODEL_MOUNT = Path("/ara/model")
"""Where the socket's directory appears inside the sandbox."""
CHAT_FIELDS = frozenset(
    {"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed", "logprobs",
     "top_logprobs", "presence_penalty", "frequency_penalty", "n", "response_format", "stream"}
)  # fmt: skip
"""Request fields forwarded to ``/chat/completions`` (others are dropped and named in the call record)."""
COMPLETION_FIELDS = frozenset(
    {"model", "prompt", "max_tokens", "temperature", "top_p", "stop", "seed", "logprobs", "echo", "n", "stream",
     "presence_penalty", "frequency_penalty"}
)  # fmt: skip
"""Request fields forwarded to ``/completions``."""
MAX_DISCARD_BYTES = 64 * 1024 * 1024
"""Most of an oversized body read and thrown away before the 413 (more and the connection is just closed)."""
MAX_REPLY_BYTES = 4 * 1024 * 1024
"""Largest upstream answer relayed to the kernel."""

Route = Literal["chat", "completions"]
ROUTES: dict[str, Route] = {"/v1/chat/completions": "chat", "/v1/completions": "completions"}
"""``POST`` paths the proxy serves (``GET /v1/models`` lists the allowed models), over the socket or a channel."""


class Upstream(BaseModel):
    """Where one allowed model is served, with the key the host adds (never sent into the sandbox)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    """OpenAI-compatible base URL ending in ``/v1``."""
    model: str
    """The model name sent upstream (e.g. the embedded server's alias)."""
    api_key: SecretStr | None = None
    """Added as ``Authorization: Bearer`` on the host side only."""
    timeout_s: float = Field(default=300.0, gt=0)
    """Per-request timeout upstream (a timeout answers 504)."""


class ProxyLimits(BaseModel):
    """Size and rate limits of one proxy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    """Largest request body accepted (413 past it)."""
    max_tokens: int = Field(default=512, ge=1)
    """Tokens one request may generate; a larger or missing ``max_tokens`` is clamped to this."""
    calls_per_s: float = Field(default=10.0, gt=0)
    """Sustained request rate; a burst of ``burst`` may go at once."""
    burst: int = Field(default=4, ge=1)
    """Requests that may start back to back before pacing applies."""
    max_wait_s: float = Field(default=5.0, ge=0)
    """How long a request waits for its turn before it is answered 429."""
    max_concurrent: int = Field(default=4, ge=1)
    """Requests forwarded at the same time."""


class ProxyCall(BaseModel):
    """One request the proxy answered: what the meter records and the run log shows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    route: Route
    model: str
    """The model name the kernel asked for."""
    status: int
    """HTTP status returned to the kernel."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    """True when the upstream gave no usage and tokens were estimated from text length."""
    max_tokens: int = 0
    """``max_tokens`` after clamping."""
    duration_s: float = 0.0
    refused: str | None = None
    """Why the proxy refused the request (None when it was forwarded)."""
    dropped_fields: tuple[str, ...] = ()
    """Request fields the proxy does not forward."""

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


class Meter(Protocol):
    """The run's accounting on the host: may refuse a request, and records every answered one."""

    def admit(self, model: str, max_tokens: int) -> str | None:
        """None to let the request go upstream, else the reason it is refused (e.g. the token budget is spent)."""
        ...

    def record(self, call: ProxyCall) -> None:
        """Count and log one answered request (refused ones included)."""
        ...


class ModelProxyError(ToolError):
    """The proxy could not start (socket path unusable) or was used after it stopped."""


class _Refusal(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


class _Pacer:
    """A token bucket: ``burst`` requests at once, then ``rate`` per second; ``wait`` blocks up to a limit."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def wait(self, limit_s: float) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            delay = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate
            if delay > limit_s:
                return False
            self.tokens -= 1  # reserve the slot now, so concurrent waiters queue behind it
        if delay > 0:
            time.sleep(delay)
        return True


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    # socketserver's default backlog is 5; on a Unix socket a full backlog refuses at once (EAGAIN) rather than
    # making the caller wait, so a kernel starting a handful of threads would see spurious connection errors.
    request_queue_size = socket.SOMAXCONN
    proxy: ModelProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller that hung up (the kernel interrupted at its cell timeout) is one log line, not a traceback on
        the researcher's terminal; anything else is logged with its traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, BrokenPipeError | ConnectionResetError):
            log.info("model proxy: the caller closed its connection before the answer was sent (%s)", error)
            return
        log.exception("model proxy: a request failed")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body leave in one write (flushed after each request)

    def address_string(self) -> str:  # a Unix socket peer has no address
        return "sandbox"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("model proxy: " + format, *args)

    def _stopped(self) -> bool:
        """True (and answered 503) when the proxy stopped while this kept-alive connection was open."""
        if self.server.proxy.serves(self.server):
            return False
        self._drain()
        self.close_connection = True
        self._send(503, _error("proxy_stopped", "the host stopped this model proxy; the run's next cell restarts it"))
        return True

    def do_GET(self) -> None:
        if self._stopped():
            return
        proxy = self.server.proxy
        if self.path.rstrip("/") != "/v1/models":
            self._send(404, _error("not_found", f"no route GET {self.path}; use /v1/models"))
            return
        self._send(200, proxy.model_list())

    def do_POST(self) -> None:
        if self._stopped():
            return
        route = ROUTES.get(self.path.rstrip("/"))
        if route is None:
            self._drain()
            self._send(404, _error("not_found", f"no route POST {self.path}; use /v1/chat/completions"))
            return
        status, body = self.server.proxy.handle(route, self._body())
        self._send(status, body)

    def _drain(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) <= self.server.proxy.limits.max_body_bytes:
            self.rfile.read(int(length))

    def _discard(self, length: int) -> None:
        left = min(length, MAX_DISCARD_BYTES)
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                return
            left -= len(chunk)

    def _body(self) -> bytes | _Refusal:
        limit = self.server.proxy.limits.max_body_bytes
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            return _Refusal(411, "length_required", "send a Content-Length header (chunked bodies are not accepted)")
        if int(length) > limit:
            self.close_connection = True
            self._discard(int(length))  # read (never kept) so the client sees the answer, not a reset
            return _Refusal(413, "body_too_large", f"the request body has {length} bytes; the limit is {limit}")
        return self.rfile.read(int(length))

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "1")
        if self.close_connection:  # the client must not reuse a connection this side is about to close
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"message": f"ara model proxy: {message}", "type": kind}}


def _estimate(text: str) -> int:
    return len(text) // 4 + 1


class ModelProxy:
    """The subject-model endpoint of one run, on a Unix socket.

    Args:
        socket_path: Where to listen (its directory is created 0711; the socket is 0666 so the sandbox uid can
            connect). A stale socket file left by a dead proxy is replaced; anything else there is refused.
        models: Allowed model names (what the kernel sends as ``model``) -> their upstream.
        limits: Size and rate limits.
        meter: The run's accounting (budget and log).
        transport: An ``httpx`` transport for upstream requests (tests script the model); None = network.

    Example:
        >>> proxy = ModelProxy(path, {"subject": Upstream(base_url="http://127.0.0.1:8080/v1", model="m")},
        ...                    ProxyLimits(), meter)                                           # doctest: +SKIP
        >>> with proxy: ...                                                                     # doctest: +SKIP
    """

    def __init__(
        self,
        socket_path: Path,
        models: Mapping[str, Upstream],
        limits: ProxyLimits,
        meter: Meter,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not models:
            raise UserInputError("the model proxy needs at least one allowed model; set the subject model in settings")
        self.socket_path = Path(socket_path)
        self.models = dict(models)
        self.limits = limits
        self.meter = meter
        self._transport = transport
        self._clients: dict[str, httpx.Client] = {}
        self._pacer = _Pacer(limits.calls_per_s, limits.burst)
        self._slots = threading.BoundedSemaphore(limits.max_concurrent)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._life = threading.RLock()  # start, stop and ensure never interleave
        self.calls = 0
        """Requests answered (refused ones included)."""
        self.forwarded = 0
        """Requests sent upstream."""

    # ------------------------------------------------------------------------------------------------ lifetime
    def start(self) -> ModelProxy:
        """Listen on ``socket_path`` and serve in a daemon thread.

        Raises:
            ModelProxyError: the path exists and is not a socket, or cannot be bound.
        """
        with self._life:
            return self._start()

    def _start(self) -> ModelProxy:
        if self.running:
            return self
        directory = self.socket_path.parent
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o711)
        try:
            mode = os.lstat(self.socket_path).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None:
            if not stat.S_ISSOCK(mode):
                raise ModelProxyError(
                    f"{self.socket_path} exists and is not a socket; remove it or choose another path"
                )
            self.socket_path.unlink()  # a socket a stopped proxy left behind
        try:
            server = _Server(str(self.socket_path), _Handler)
        except OSError as err:
            raise ModelProxyError(f"cannot listen on {self.socket_path}: {err}") from err
        os.chmod(self.socket_path, 0o666)
        server.proxy = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="ara-model-proxy", daemon=True)
        self._thread.start()
        return self

    def serves(self, server: object) -> bool:
        """True while ``server`` is this proxy's live server (a stopped one answers 503 on open connections)."""
        return self._server is server

    @property
    def running(self) -> bool:
        """True while the server thread serves."""
        return self._thread is not None and self._thread.is_alive()

    def ensure(self) -> None:
        """Start again if the proxy stopped (its socket path stays the same, so a kernel's binding still works)."""
        with self._life:
            if not self.running:
                self.stop()
                self.start()

    def stop(self) -> None:
        """Stop serving and remove the socket file."""
        with self._life:
            self._stop()

    def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        try:
            if stat.S_ISSOCK(os.lstat(self.socket_path).st_mode):
                self.socket_path.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> ModelProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------------ requests
    def handle(self, route: Route, raw: bytes | _Refusal) -> tuple[int, dict[str, Any]]:
        """Answer one request body on ``route``: (status, JSON body). Never raises for a bad request."""
        started = time.perf_counter()
        self.calls += 1
        fields: dict[str, Any] = {"route": route, "model": "?"}
        try:
            request = self._parse(raw)
            fields["model"] = str(request.get("model", "?"))[:200]
            upstream, body, dropped = self._check(route, request)
            fields.update(max_tokens=body["max_tokens"], dropped_fields=dropped)
            refused = self.meter.admit(fields["model"], body["max_tokens"])
            if refused is not None:
                raise _Refusal(429, "budget_exhausted", refused)
            if not self._pacer.wait(self.limits.max_wait_s):
                raise _Refusal(
                    429, "rate_limited", f"more than {self.limits.calls_per_s:g} calls/s; slow down and retry"
                )
            if not self._slots.acquire(timeout=self.limits.max_wait_s or None):
                raise _Refusal(429, "rate_limited", f"{self.limits.max_concurrent} requests already in flight")
            try:
                status, reply = self._forward(route, upstream, body)
            finally:
                self._slots.release()
        except _Refusal as refusal:
            self._record(fields, refusal.status, started, refused=refusal.message)
            return refusal.status, _error(refusal.kind, refusal.message)
        usage = reply.get("usage") if status == 200 else None
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            prompt, completion, estimated = int(usage["prompt_tokens"]), int(usage.get("completion_tokens") or 0), False
        else:
            prompt = _estimate(json.dumps(body.get("messages", body.get("prompt", ""))))
            completion = _estimate(json.dumps(reply.get("choices", ""))) if status == 200 else 0
            estimated = True
        if status == 200:
            reply["model"] = fields["model"]
        self._record(fields, status, started, prompt_tokens=prompt, completion_tokens=completion, estimated=estimated)
        return status, reply

    def model_list(self) -> dict[str, Any]:
        """The answer to ``GET /v1/models``: the allowed model names."""
        return {"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]}

    def answer_channel(self, prompt: str) -> str:
        """Answer one request a remote kernel sent over its stdin channel (``tools.kernel.modelchannel``): the
        ``input_reply`` value, with the same checks, limits and metering as a request over the socket."""
        try:
            method, path, body = decode_request(prompt)
        except ChannelError as err:
            return encode_reply(400, _error("invalid_request", str(err)))
        path = path.rstrip("/")
        if method == "GET" and path == "/v1/models":
            return encode_reply(200, self.model_list())
        route = ROUTES.get(path) if method == "POST" else None
        if route is None:
            return encode_reply(
                404, _error("not_found", f"no route {method[:10]} {path[:200]}; use /v1/chat/completions")
            )
        limit = self.limits.max_body_bytes
        raw: bytes | _Refusal = body
        if len(body) > limit:
            raw = _Refusal(413, "body_too_large", f"the request body has {len(body)} bytes; the limit is {limit}")
        status, reply = self.handle(route, raw)
        return encode_reply(status, reply)

    def _record(self, fields: dict[str, Any], status: int, started: float, **more: Any) -> None:
        call = ProxyCall(**fields, status=status, duration_s=time.perf_counter() - started, **more)
        try:
            self.meter.record(call)
        except Exception:  # a failing log must not take the kernel's answer with it
            log.exception("the model proxy's meter failed to record a call")

    def _parse(self, raw: bytes | _Refusal) -> dict[str, Any]:
        if isinstance(raw, _Refusal):
            raise raw
        try:
            request = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise _Refusal(400, "invalid_request", f"the body is not JSON: {err}") from None
        if not isinstance(request, dict):
            raise _Refusal(400, "invalid_request", "the body must be a JSON object")
        return request

    def _check(self, route: Route, request: dict[str, Any]) -> tuple[Upstream, dict[str, Any], tuple[str, ...]]:
        name = request.get("model")
        upstream = self.models.get(name) if isinstance(name, str) else None
        if upstream is None:
            allowed = ", ".join(sorted(self.models))
            raise _Refusal(
                403, "model_not_allowed", f"model {name!r} is not on this run's allow-list (allowed: {allowed})"
            )
        if request.get("stream"):
            raise _Refusal(400, "invalid_request", "stream=true is not supported; send stream=false")
        if int(request.get("n") or 1) != 1:
            raise _Refusal(400, "invalid_request", "n must be 1 (one choice per request)")
        allowed_fields = CHAT_FIELDS if route == "chat" else COMPLETION_FIELDS
        dropped = tuple(sorted(k for k in request if k not in allowed_fields))
        body = {k: v for k, v in request.items() if k in allowed_fields and k not in ("stream", "n")}
        if route == "chat":
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
                raise _Refusal(400, "invalid_request", "messages must be a non-empty list of message objects")
            asked = body.pop("max_completion_tokens", None) or body.get("max_tokens")
        else:
            if not isinstance(body.get("prompt"), str):
                raise _Refusal(400, "invalid_request", "prompt must be one string")
            asked = body.get("max_tokens")
        if asked is not None and (not isinstance(asked, int) or isinstance(asked, bool) or asked < 1):
            raise _Refusal(400, "invalid_request", f"max_tokens must be a positive integer, not {asked!r}")
        body["max_tokens"] = min(int(asked or self.limits.max_tokens), self.limits.max_tokens)
        body["model"] = upstream.model
        return upstream, body, dropped

    def _client(self, upstream: Upstream) -> httpx.Client:
        key = upstream.model_dump_json()
        client = self._clients.get(key)
        if client is None:
            headers = {"Authorization": f"Bearer {upstream.api_key.get_secret_value()}"} if upstream.api_key else {}
            client = httpx.Client(
                base_url=upstream.base_url.rstrip("/") + "/",
                timeout=upstream.timeout_s,
                transport=self._transport,
                headers=headers,
            )
            self._clients[key] = client
        return client

    def _forward(self, route: Route, upstream: Upstream, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.forwarded += 1
        path = "chat/completions" if route == "chat" else "completions"
        try:
            response = self._client(upstream).post(path, json=body)
        except httpx.TimeoutException:
            raise _Refusal(
                504, "upstream_timeout", f"the model server did not answer within {upstream.timeout_s:g} s"
            ) from None
        except httpx.TransportError as err:
            raise _Refusal(502, "upstream_unreachable", f"cannot reach the model server: {err}") from None
        if len(response.content) > MAX_REPLY_BYTES:
            raise _Refusal(502, "upstream_too_large", f"the model server's answer has {len(response.content)} bytes")
        try:
            reply = response.json()
        except ValueError:
            raise _Refusal(
                502, "upstream_invalid", f"the model server answered HTTP {response.status_code} without JSON"
            ) from None
        if not isinstance(reply, dict):
            raise _Refusal(502, "upstream_invalid", "the model server's answer is not a JSON object")
        return response.status_code, reply
