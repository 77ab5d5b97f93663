"""The message relay: a small host process between one kernel's sockets and the host's client, with a memory cap.

Run as ``python -I relay.py CONNECTION_FILE RELAY_DIR MESSAGE_CAP OUTPUT_CAP BUDGET_MB PARENT_PID``. It connects to the
kernel's shell, control and iopub sockets and binds the same three in ``RELAY_DIR`` for the host client (iopub as
PUSH, so a slow host applies back-pressure instead of losing messages). Why a process: the kernel holds the
signing key and can write raw ZeroMQ, and libzmq buffers a whole multipart message before anyone can look at it,
so no setting on the host's own sockets bounds what a hostile kernel makes the host allocate. Here:

- every kernel-facing socket has ``ZMQ_MAXMSGSIZE`` = the cap per frame and a receive high-water mark of 4; a
  bigger frame makes libzmq drop the connection unread, the relay reconnects and, once the kernel answers again,
  sends the host an ``ara_dropped`` note (and, for a lost execute reply, an error reply; for lost iopub messages,
  an ``idle`` after the reply so the cell still ends);
- a message of many frames that adds up to more than the cap is dropped after it arrived, with the same note;
- output beyond what the host keeps of a cell (``OUTPUT_CAP`` bytes of stdout and of stderr, 20 x that of other
  outputs) is dropped here as it arrives, and one note before the cell's ``idle`` says how much: a kernel
  printing without end costs neither the host nor its own memory (its send queue keeps draining);
- the relay limits its own address space (RLIMIT_AS) to what it uses at start plus ``BUDGET_MB``; a kernel that
  still makes it allocate more kills the relay, not the host, and the host stops that kernel.

Does not parse or change the messages it forwards (except to learn the ids of the host's requests) and keeps
nothing: it exits when its parent does. Imports nothing but ``zmq`` and the standard library.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import json
import os
import resource
import sys
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import zmq

DELIM = b"<IDS|MSG>"
MAX_FRAMES = 1024
"""Frames one forwarded message may have (Jupyter messages have 6 plus a few widget buffers)."""
_PARSE_LIMIT = 65536
"""Header frames larger than this are not parsed (the host's own requests are far smaller)."""
_CLIENT_HWM = 4
_KERNEL_HWM = 4


class Relay:
    """The relay's sockets and loop; built from the kernel's connection file."""

    def __init__(self, connection: dict[str, Any], relay_dir: Path, cap: int, output_cap: int) -> None:
        self.cap = cap
        self.budgets = {"stdout": output_cap, "stderr": output_cap, "rich": 20 * output_cap}
        self.sent: dict[tuple[str, str], int] = {}
        """(parent msg_id, stdout/stderr/rich) -> bytes forwarded for that cell."""
        self.over: dict[str, list[int]] = {}
        """parent msg_id -> [messages, bytes] dropped over the budgets (reported before that cell's idle)."""
        self.kernel_ip = str(connection["ip"])
        self.relay_ip = str(relay_dir / "k")
        self.ports = {ch: int(connection[f"{ch}_port"]) for ch in ("shell", "control", "iopub")}
        key = str(connection.get("key", "")).encode()
        scheme = str(connection.get("signature_scheme", "hmac-sha256")).removeprefix("hmac-")
        self._auth = hmac.new(key, digestmod=getattr(hashlib, scheme)) if key else None
        self._session = uuid.uuid4().hex
        self.ctx = zmq.Context(io_threads=1)
        self.client: dict[str, zmq.Socket[bytes]] = {}
        for channel, kind in (("shell", zmq.DEALER), ("control", zmq.DEALER), ("iopub", zmq.PUSH)):
            sock = self.ctx.socket(kind)
            sock.linger = 0
            sock.sndhwm = _CLIENT_HWM
            sock.bind(f"ipc://{self.relay_ip}-{self.ports[channel]}")
            self.client[channel] = sock
        self.kernel: dict[str, zmq.Socket[bytes]] = {}
        self.monitors: dict[str, zmq.Socket[bytes]] = {}
        for channel in self.ports:
            self._connect(channel)
        self.gap: dict[str, bool] = {ch: False for ch in self.ports}
        self.outstanding: dict[str, dict[str, Any]] = {}
        self.last_execute: dict[str, Any] | None = None
        self.iopub_out: deque[list[bytes]] = deque()
        self.idle_after_reply = False
        self.dropped_iopub = 0
        self._poller_cache: zmq.Poller | None = None
        self._poller_key: tuple[Any, ...] = ()

    # --- sockets ---------------------------------------------------------------------------------------

    def _connect(self, channel: str) -> None:
        old = self.kernel.pop(channel, None)
        if old is not None:
            with contextlib.suppress(zmq.ZMQError):
                old.disable_monitor()
            self.monitors.pop(channel).close(0)
            old.close(0)
        kind = {"shell": zmq.DEALER, "control": zmq.DEALER, "iopub": zmq.SUB}[channel]
        sock = self.ctx.socket(kind)
        sock.linger = 0
        sock.setsockopt(zmq.MAXMSGSIZE, self.cap)
        sock.rcvhwm = _KERNEL_HWM
        if kind == zmq.SUB:
            sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.monitors[channel] = sock.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        sock.connect(f"ipc://{self.kernel_ip}-{self.ports[channel]}")
        self.kernel[channel] = sock

    def _on_event(self, channel: str) -> None:
        frames = self.monitors[channel].recv_multipart()
        event = int.from_bytes(frames[0][:2], "little")
        if event == zmq.EVENT_DISCONNECTED:
            self.gap[channel] = True
            self._connect(channel)  # libzmq does not reconnect after refusing an oversized frame
        elif event == zmq.EVENT_CONNECTED and self.gap[channel]:
            self.gap[channel] = False  # the kernel is there: the lost connection was a refused message
            self._lost(channel)

    def _lost(self, channel: str) -> None:
        what = f"the kernel sent a message over {self.cap} bytes on {channel}; it was refused unread and the connection reset"
        if channel == "iopub":
            self.dropped_iopub += 1
            self.idle_after_reply = True
            self._note(what + ", so output the kernel sent meanwhile is missing")
        elif channel == "shell":
            self._note(what)
            for header in list(self.outstanding.values()):
                self._reply_error(header, "MessageTooLarge", what)
            self.outstanding.clear()

    # --- messages --------------------------------------------------------------------------------------

    def _sign(self, parts: list[bytes]) -> bytes:
        if self._auth is None:
            return b""
        h = self._auth.copy()
        for p in parts:
            h.update(p)
        return h.hexdigest().encode()

    def _message(self, msg_type: str, parent: dict[str, Any] | None, content: dict[str, Any]) -> list[bytes]:
        header = {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "ara-relay",
            "session": self._session,
            "date": datetime.datetime.now(datetime.UTC).isoformat(),
            "version": "5.3",
        }
        parts = [json.dumps(x).encode() for x in (header, parent or {}, {}, content)]
        return [DELIM, self._sign(parts), *parts]

    def _note(self, text: str) -> None:
        if self.last_execute is not None and len(self.iopub_out) < _CLIENT_HWM * 4:
            self.iopub_out.append([b"ara", *self._message("ara_dropped", self.last_execute, {"text": text})])

    def _reply_error(self, request: dict[str, Any], ename: str, evalue: str) -> None:
        reply_type = str(request.get("msg_type", "execute_request")).replace("_request", "_reply")
        content = {"status": "error", "ename": ename, "evalue": evalue, "traceback": []}
        with contextlib.suppress(zmq.Again):
            self.client["shell"].send_multipart(self._message(reply_type, request, content), zmq.NOBLOCK)

    @staticmethod
    def _json_frame(frames: list[Any], offset: int) -> dict[str, Any] | None:
        """The JSON frame ``offset`` places after the delimiter (0 = header, 1 = parent header), if small."""
        try:
            i = next(i for i, f in enumerate(frames) if f.bytes == DELIM) + 2 + offset
            raw = frames[i].bytes
        except (StopIteration, IndexError):
            return None
        if len(raw) > _PARSE_LIMIT:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def _receive(self, channel: str) -> list[Any] | None:
        """One message from the kernel, or None when it was too big (then a note is queued)."""
        frames = self.kernel[channel].recv_multipart(copy=False)
        size = sum(len(f) for f in frames)
        if size <= self.cap and len(frames) <= MAX_FRAMES:
            return frames
        what = f"the kernel sent a {size}-byte message of {len(frames)} frames on {channel} (cap {self.cap} bytes); dropped"
        if channel == "iopub":
            self.dropped_iopub += 1
        self._note(what)
        return None

    def _iopub(self, frames: list[Any]) -> None:
        """Forward one iopub message unless its cell already sent what the host keeps (then count it)."""
        header, parent = self._json_frame(frames, 0), self._json_frame(frames, 1)
        kind = str(header.get("msg_type")) if header else ""
        pid = str(parent.get("msg_id")) if parent else ""
        size = sum(len(f) for f in frames)
        if kind == "status":
            content = self._json_frame(frames, 3) or {}
            over = self.over.pop(pid, None)
            if over is not None and content.get("execution_state") == "idle" and parent is not None:
                text = (
                    f"the kernel sent {over[1]} more bytes of output in {over[0]} messages after the cell reached the "
                    "host's output caps; they were dropped unread"
                )
                self.iopub_out.append([b"ara", *self._message("ara_dropped", parent, {"text": text})])
            self.iopub_out.append([f.bytes for f in frames])
            return
        category = "rich"
        if kind == "stream":
            category = "stderr" if b'"stderr"' in frames[-1].bytes[:64] else "stdout"
        key = (pid, category)
        used = self.sent.get(key, 0)
        if used >= self.budgets[category]:
            if len(self.over) > 64:
                self.over.clear()
            count = self.over.setdefault(pid, [0, 0])
            count[0] += 1
            count[1] += size
            return
        if len(self.sent) > 256:
            self.sent.clear()
        self.sent[key] = used + size
        self.iopub_out.append([f.bytes for f in frames])

    def from_client(self, channel: str) -> None:
        frames = self.client[channel].recv_multipart(copy=False)
        if channel == "shell":
            header = self._json_frame(frames, 0)
            if header is not None and isinstance(header.get("msg_id"), str):
                self.outstanding[header["msg_id"]] = header
                if header.get("msg_type") == "execute_request":
                    self.last_execute = header
                while len(self.outstanding) > 64:
                    self.outstanding.pop(next(iter(self.outstanding)))
        with contextlib.suppress(zmq.Again):
            self.kernel[channel].send_multipart(frames, zmq.NOBLOCK, copy=False)

    def from_kernel(self, channel: str) -> None:
        frames = self._receive(channel)
        if frames is None:
            return
        if channel == "iopub":
            self._iopub(frames)
            return
        if channel == "shell":
            parent = self._json_frame(frames, 1)
            answered = parent is not None and self.outstanding.pop(str(parent.get("msg_id")), None) is not None
            if (
                answered
                and parent is not None
                and self.idle_after_reply
                and parent.get("msg_type") == "execute_request"
            ):
                self.idle_after_reply = False  # iopub lost messages: the idle may be among them
                self.iopub_out.append([b"ara", *self._message("status", parent, {"execution_state": "idle"})])
        with contextlib.suppress(zmq.Again):
            self.client[channel].send_multipart(frames, zmq.NOBLOCK, copy=False)

    # --- loop ------------------------------------------------------------------------------------------

    def _flush_iopub(self) -> None:
        """Hand the host what is queued for it, as far as its queue takes it now."""
        while self.iopub_out:
            try:
                self.client["iopub"].send_multipart(self.iopub_out[0], zmq.NOBLOCK)
            except zmq.Again:
                return
            self.iopub_out.popleft()

    def _poller(self) -> zmq.Poller:
        """The sockets to wait on: kernel iopub only while the host keeps up, the host's iopub while it does not."""
        blocked = len(self.iopub_out) >= _CLIENT_HWM
        key = (tuple(id(s) for s in self.kernel.values()), blocked, bool(self.iopub_out))
        if key != self._poller_key:
            poller = zmq.Poller()
            for channel in self.ports:
                poller.register(self.monitors[channel], zmq.POLLIN)
                if channel != "iopub" or not blocked:
                    poller.register(self.kernel[channel], zmq.POLLIN)
            poller.register(self.client["shell"], zmq.POLLIN)
            poller.register(self.client["control"], zmq.POLLIN)
            if self.iopub_out:
                poller.register(self.client["iopub"], zmq.POLLOUT)
            self._poller_cache, self._poller_key = poller, key
        assert self._poller_cache is not None
        return self._poller_cache

    def run(self, parent_pid: int) -> None:
        """Forward until the parent process is gone (checked at least every 0.5 s)."""
        while os.getppid() == parent_pid:
            ready = dict(self._poller().poll(500))
            for channel in list(self.ports):
                if ready.get(self.monitors[channel]):
                    self._on_event(channel)  # may replace the channel's kernel socket
                    continue
                sock = self.kernel[channel]
                for _ in range(64):  # drain what is there, so one poll serves a burst
                    if not ready.get(sock) or (channel == "iopub" and len(self.iopub_out) >= _CLIENT_HWM):
                        break
                    self.from_kernel(channel)
                    if not sock.poll(0):
                        break
            for channel in ("shell", "control"):
                if ready.get(self.client[channel]):
                    self.from_client(channel)
            self._flush_iopub()


def _address_space() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str]) -> int:
    """Entry point: ``CONNECTION_FILE RELAY_DIR MESSAGE_CAP OUTPUT_CAP BUDGET_MB PARENT_PID``."""
    connection_file, relay_dir, cap, output_cap, budget_mb, parent_pid = argv
    parent = int(parent_pid)  # passed in: a parent killed before this line would otherwise go unnoticed
    if os.getppid() != parent:
        return 0
    connection = json.loads(Path(connection_file).read_text())
    relay = Relay(connection, Path(relay_dir), int(cap), int(output_cap))
    limit = _address_space() + int(budget_mb) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        relay.run(parent)
    except MemoryError:
        print("relay out of memory: a kernel message was too large", file=sys.stderr, flush=True)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
