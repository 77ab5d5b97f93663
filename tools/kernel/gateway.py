"""Remote kernels through a Jupyter Kernel Gateway or Enterprise Gateway, with the same ``execute`` as ``Session``.

Covers ``GatewaySession``: ``POST /api/kernels`` with the token header, the websocket
``/api/kernels/{id}/channels`` (JSON messages tagged with their channel), ``POST .../interrupt`` on timeout,
``POST .../restart`` when the interrupt is ignored (then a fresh websocket), death detection from the
gateway's ``restarting``/``dead`` status messages or a closed socket, ``DELETE`` on close, and the kernel's
model requests over its stdin channel when ``model_channel`` is set (``tools.kernel.modelchannel``). Images are
written to a local run directory. Does not sandbox anything: isolation of remote kernels is the gateway's job
(Enterprise Gateway runs each kernel in its own Kubernetes pod; see docs/kernel.md).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tools.kernel.config import GatewayError, KernelConfig
from tools.kernel.modelchannel import PREFIX, encode_reply
from tools.kernel.results import CellResult, CellStatus, OutputCollector

logger = logging.getLogger(__name__)

_WS_MAX_MESSAGE = 256 * 2**20
"""Largest websocket message taken in when ``message_cap_bytes`` is None (unguarded)."""
_WS_QUEUE = 4
"""Messages the websocket reads ahead of the session: host memory stays within (this + 1) x the message cap."""
_TOO_BIG = 1009  # websocket close code: message too big
_DEATH_STATES = ("restarting", "autorestarting", "dead")


class _Died(Exception):
    pass


class _TooBig(Exception):
    pass


class GatewaySession:
    """One remote kernel on a gateway. Build with ``await GatewaySession.start(url, token, run_dir)``."""

    def __init__(self, url: str, token: str | None, run_dir: Path, config: KernelConfig, kernel_name: str) -> None:
        self.url = url.rstrip("/")
        self.run_dir = run_dir
        self.config = config
        self.kernel_name = kernel_name
        self.kernel_id: str | None = None
        self.restarts = 0
        self._headers = {"Authorization": f"token {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=self.url, headers=self._headers, timeout=30.0)
        self._ws: ClientConnection | None = None
        self._session_id = uuid.uuid4().hex
        self._cells = 0
        self._lock = asyncio.Lock()
        self.model_channel: Callable[[str], str] | None = None
        """Answers the kernel's model requests (``ModelProxy.answer_channel``); None = the kernel has no model and
        its cells get no stdin."""

    @classmethod
    async def start(
        cls,
        url: str,
        token: str | None,
        run_dir: Path,
        config: KernelConfig | None = None,
        kernel_name: str = "python3",
    ) -> GatewaySession:
        """Create a kernel on the gateway at ``url`` and connect to it.

        Raises:
            GatewayError: the gateway is unreachable, refused the token (401/403) or could not start a kernel.
        """
        session = cls(url, token, run_dir, config or KernelConfig(), kernel_name)
        try:
            reply = await session._request("POST", "/api/kernels", json={"name": kernel_name})
            session.kernel_id = str(reply["id"])
            await session._connect()
        except BaseException:
            await session.close()
            raise
        run_dir.mkdir(parents=True, exist_ok=True)
        return session

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise GatewayError(
                f"kernel gateway at {self.url} is unreachable ({type(err).__name__}: {err}); "
                "check that it runs and that kernel.gateway_url is right"
            ) from err
        if response.status_code in (401, 403):
            raise GatewayError(
                f"kernel gateway at {self.url} refused the token ({response.status_code} on {method} {path}); "
                "set kernel.gateway_token to the gateway's auth token"
            )
        if response.status_code >= 400:
            raise GatewayError(
                f"kernel gateway at {self.url} answered {response.status_code} to {method} {path}: "
                f"{response.text[:300]}"
            )
        return response.json() if response.content else None

    async def _connect(self, wait_ready: bool = True) -> None:
        if self._ws is not None:
            await self._ws.close()
        ws_url = self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        uri = f"{ws_url}/api/kernels/{self.kernel_id}/channels?session_id={self._session_id}"
        try:
            self._ws = await connect(
                uri,
                additional_headers=self._headers,
                proxy=None,
                max_size=self.config.message_cap_bytes or _WS_MAX_MESSAGE,
                max_queue=_WS_QUEUE,
                open_timeout=15,
            )
        except (OSError, InvalidStatus, TimeoutError) as err:
            raise GatewayError(f"could not open the kernel websocket {uri}: {err}") from err
        if wait_ready:
            await self._wait_ready()

    async def _wait_ready(self) -> None:
        """Re-send ``kernel_info`` until its shell reply AND an iopub message answering it arrive.

        Right after a start or restart the kernel's iopub may not reach this websocket yet; a cell sent then
        would lose its busy/idle messages and hang until its timeout.
        """
        assert self._ws is not None
        deadline = time.monotonic() + self.config.startup_timeout_s
        pending: set[str] = set()
        shell_ok = iopub_ok = False
        resend_at = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= resend_at:
                request = self._message("kernel_info_request", {}, "shell")
                pending.add(request["header"]["msg_id"])
                await self._ws.send(json.dumps(request))
                resend_at = time.monotonic() + 0.5
            try:
                raw = await asyncio.wait_for(self._ws.recv(), timeout=0.1)
            except TimeoutError:
                continue
            except ConnectionClosed as err:
                raise GatewayError(f"the kernel websocket closed while the kernel was starting: {err}") from err
            msg = json.loads(raw)
            if not isinstance(msg, dict) or (msg.get("parent_header") or {}).get("msg_id") not in pending:
                continue
            if msg.get("channel") == "shell":
                shell_ok = True
            elif msg.get("channel") == "iopub":
                iopub_ok = True
            if shell_ok and iopub_ok:
                return
        raise GatewayError(
            f"the remote kernel {self.kernel_id} did not answer kernel_info within {self.config.startup_timeout_s:.0f} s"
        )

    def _message(self, msg_type: str, content: dict[str, Any], channel: str) -> dict[str, Any]:
        return {
            "header": {
                "msg_id": uuid.uuid4().hex,
                "msg_type": msg_type,
                "username": "ara",
                "session": self._session_id,
                "date": datetime.datetime.now(datetime.UTC).isoformat(),
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": {},
            "content": content,
            "channel": channel,
            "buffers": [],
        }

    async def execute(self, code: str, timeout: float | None = None) -> CellResult:
        """Run one cell on the remote kernel; same contract as ``Session.execute``.

        Raises:
            GatewayError: the session is closed or the gateway failed (not for failing cells).
        """
        if self._ws is None or self.kernel_id is None:
            raise GatewayError("this gateway session is closed; start a new one")
        async with self._lock:
            return await self._execute(code, timeout or self.config.cell_timeout_s)

    async def _execute(self, code: str, timeout: float) -> CellResult:
        assert self._ws is not None
        self._cells += 1
        collector = OutputCollector(
            self.run_dir, self.config.output_cap_bytes, f"cell{self._cells:03d}-{uuid.uuid4().hex[:6]}"
        )
        msg = self._message(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": self.model_channel is not None,
                "stop_on_error": False,
            },
            "shell",
        )
        msg_id = msg["header"]["msg_id"]
        state: dict[str, Any] = {"reply": None}
        t0 = time.perf_counter()
        try:
            await self._ws.send(json.dumps(msg))
            if await self._collect(msg_id, collector, state, t0 + timeout):
                status_text = ((state["reply"] or {}).get("content") or {}).get("status")
                status: CellStatus = "ok" if status_text == "ok" else "aborted" if status_text == "aborted" else "error"
                return collector.result(status, wall_s=time.perf_counter() - t0)
            await self._request("POST", f"/api/kernels/{self.kernel_id}/interrupt")
            detail = f"the cell ran longer than {timeout:g} s and was interrupted"
            grace = time.perf_counter() + self.config.interrupt_grace_s
            if await self._collect(msg_id, collector, state, grace):
                return collector.result("timeout", wall_s=time.perf_counter() - t0, reason=("Timeout", detail))
        except _Died as died:
            await self._reconnect_after_death()
            return collector.result(
                "died",
                wall_s=time.perf_counter() - t0,
                reason=("KernelDied", f"the remote kernel {died}; the gateway restarted it (state lost)"),
                restarted=True,
            )
        logger.warning("remote kernel %s ignored the interrupt; restarting it", self.kernel_id)
        await self._request("POST", f"/api/kernels/{self.kernel_id}/restart")
        self.restarts += 1
        await self._connect()
        return collector.result(
            "timeout",
            wall_s=time.perf_counter() - t0,
            reason=("Timeout", detail + "; it ignored the interrupt, so the kernel was restarted (state lost)"),
            restarted=True,
        )

    async def _collect(self, msg_id: str, collector: OutputCollector, state: dict[str, Any], deadline: float) -> bool:
        """Like ``_read``; a message over the cap closes the websocket, so note it, reconnect and read on."""
        while True:
            try:
                return await self._read(msg_id, collector, state, deadline)
            except _TooBig:
                cap = self.config.message_cap_bytes
                collector.handle(
                    {
                        "msg_type": "ara_dropped",
                        "content": {
                            "text": f"the kernel sent a message over {cap} bytes; the websocket refused it and reconnected"
                        },
                    }
                )
                await self._connect(wait_ready=False)  # the cell may still run: its kernel_info would wait

    async def _read(self, msg_id: str, collector: OutputCollector, state: dict[str, Any], deadline: float) -> bool:
        assert self._ws is not None
        while not (collector.idle and state["reply"] is not None):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return False
            try:
                raw = await asyncio.wait_for(self._ws.recv(), timeout=min(0.25, remaining))
            except TimeoutError:
                continue
            except ConnectionClosed as err:
                if err.sent is not None and err.sent.code == _TOO_BIG:
                    raise _TooBig from err
                raise _Died(f"connection closed ({err})") from err
            msg = json.loads(raw)
            if not isinstance(msg, dict):
                continue
            msg_type = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
            content = msg.get("content") or {}
            parent = (msg.get("parent_header") or {}).get("msg_id")
            if msg_type == "status" and content.get("execution_state") in _DEATH_STATES and parent != msg_id:
                raise _Died(f"stopped (gateway status '{content.get('execution_state')}')")
            if parent != msg_id:
                continue
            if msg.get("channel") == "stdin" and msg_type == "input_request":
                await self._answer_input(msg, str(content.get("prompt", "")), deadline)
            elif msg.get("channel") == "iopub":
                collector.handle(msg)
            elif msg.get("channel") == "shell" and msg_type == "execute_reply":
                state["reply"] = msg
        return True

    async def _answer_input(self, request: dict[str, Any], prompt: str, deadline: float) -> None:
        """Answer the cell's ``input_request``: a model request from ``model_channel``, anything else with an
        empty value (the kernel is never waited on by a person)."""
        assert self._ws is not None
        value = ""
        if self.model_channel is not None and prompt.startswith(PREFIX):
            remaining = max(0.1, deadline - time.perf_counter())
            try:
                value = await asyncio.wait_for(asyncio.to_thread(self.model_channel, prompt), timeout=remaining)
            except TimeoutError:
                value = encode_reply(
                    504, {"error": {"message": "ara model channel: the cell's time ran out", "type": "timeout"}}
                )
        reply = self._message("input_reply", {"status": "ok", "value": value}, "stdin")
        reply["parent_header"] = request.get("header") or {}
        await self._ws.send(json.dumps(reply))

    async def _reconnect_after_death(self) -> None:
        self.restarts += 1
        deadline = time.monotonic() + self.config.startup_timeout_s
        while time.monotonic() < deadline:
            info = await self._request("GET", f"/api/kernels/{self.kernel_id}")
            if isinstance(info, dict) and info.get("execution_state") not in (*_DEATH_STATES, "starting"):
                break
            await asyncio.sleep(0.1)
        await self._connect()

    async def close(self) -> None:
        """Delete the remote kernel and close the connections (errors while closing are logged)."""
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        if self.kernel_id is not None:
            kernel_id, self.kernel_id = self.kernel_id, None
            try:
                await self._request("DELETE", f"/api/kernels/{kernel_id}")
            except GatewayError as err:
                logger.warning("could not delete remote kernel %s: %s", kernel_id, err)
        await self._http.aclose()

    async def __aenter__(self) -> GatewaySession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
