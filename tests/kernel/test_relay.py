"""The message relay process against a hostile "kernel" made of raw ZeroMQ sockets (what kernel code could do with
the signing key and its own sockets): oversized frames, oversized multipart messages, endless output.

Real relay process, real sockets, real signatures (checked by jupyter-client's ``Session``); only the kernel is a
script, so each attack is exact and the host side can be inspected message by message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zmq
from jupyter_client.session import Session

from tools.kernel.wire import relay_budget_mb, start_relay

CAP = 2**20
OUTPUT_CAP = 65536
KEY = b"relay-test-key"


@dataclass
class Wire:
    """A fake kernel's sockets, the relay, and the host's sockets to the relay."""

    k_shell: zmq.Socket[bytes]
    k_iopub: zmq.Socket[bytes]
    h_shell: zmq.Socket[bytes]
    h_iopub: zmq.Socket[bytes]
    relay: subprocess.Popen[bytes]
    session: Session

    def recv(self, sock: zmq.Socket[bytes], timeout_ms: int = 5000) -> dict[str, Any]:
        assert sock.poll(timeout_ms), "nothing arrived"
        _, frames = self.session.feed_identities(sock.recv_multipart())
        return self.session.deserialize(frames)

    def subscribed(self) -> None:
        """Wait until a (new) iopub subscription of the relay reached the fake kernel (XPUB sees b'\\x01')."""
        while True:
            assert self.k_iopub.poll(5000), "the relay did not subscribe"
            if self.k_iopub.recv()[:1] == b"\x01":
                return

    def request(self) -> tuple[bytes, dict[str, Any]]:
        """The host sends an execute_request; the fake kernel receives it. Returns (routing id, header)."""
        sent = self.session.send(self.h_shell, "execute_request", {"code": "1"})
        assert self.k_shell.poll(5000)
        ident, _ = self.session.feed_identities(self.k_shell.recv_multipart())
        return ident[0], sent["header"]

    def publish(self, msg_type: str, content: dict[str, Any], parent: dict[str, Any]) -> None:
        self.session.send(self.k_iopub, msg_type, content, parent=parent, ident=[b"kernel.x"])


@pytest.fixture
def wire(tmp_path: Path) -> Iterator[Wire]:
    ctx = zmq.Context()
    ports = {"shell_port": 1, "control_port": 2, "iopub_port": 3}
    ip = str(tmp_path / "k")
    k_shell = ctx.socket(zmq.ROUTER)
    k_shell.bind(f"ipc://{ip}-1")
    k_control = ctx.socket(zmq.ROUTER)
    k_control.bind(f"ipc://{ip}-2")
    k_iopub = ctx.socket(zmq.XPUB)
    k_iopub.setsockopt(zmq.XPUB_VERBOSE, 1)  # pass every subscription, also a repeated one after a reconnect
    k_iopub.bind(f"ipc://{ip}-3")
    conn = tmp_path / "kernel.json"
    conn.write_text(json.dumps({**ports, "ip": ip, "transport": "ipc", "key": KEY.decode()}))
    log = (tmp_path / "relay.log").open("wb")
    relay = start_relay(conn, tmp_path / "r", CAP, OUTPUT_CAP, log)
    h_shell = ctx.socket(zmq.DEALER)
    h_shell.connect(f"ipc://{tmp_path}/r/k-1")
    h_iopub = ctx.socket(zmq.PULL)
    h_iopub.connect(f"ipc://{tmp_path}/r/k-3")
    w = Wire(k_shell, k_iopub, h_shell, h_iopub, relay, Session(key=KEY))
    w.subscribed()
    yield w
    relay.kill()
    relay.wait()
    log.close()
    ctx.destroy(linger=0)


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_messages_pass_through_unchanged(wire: Wire) -> None:
    ident, header = wire.request()
    wire.publish("stream", {"name": "stdout", "text": "hello"}, header)
    wire.session.send(wire.k_shell, "execute_reply", {"status": "ok"}, parent=header, ident=[ident])
    out = wire.recv(wire.h_iopub)
    assert (out["msg_type"], out["content"]["text"], out["parent_header"]["msg_id"]) == (
        "stream",
        "hello",
        header["msg_id"],
    )
    reply = wire.recv(wire.h_shell)
    assert (reply["msg_type"], reply["content"]) == ("execute_reply", {"status": "ok"})


def test_oversized_reply_becomes_an_error_reply(wire: Wire) -> None:
    ident, header = wire.request()
    wire.session.send(
        wire.k_shell, "execute_reply", {"status": "ok", "junk": "x" * 2 * CAP}, parent=header, ident=[ident]
    )
    reply = wire.recv(wire.h_shell)
    assert reply["parent_header"]["msg_id"] == header["msg_id"]
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "MessageTooLarge"
    assert f"a message over {CAP} bytes on shell; it was refused unread" in reply["content"]["evalue"]
    note = wire.recv(wire.h_iopub)
    assert note["msg_type"] == "ara_dropped"
    # The relay reconnected: the next request still goes through.
    ident, header = wire.request()
    wire.session.send(wire.k_shell, "execute_reply", {"status": "ok"}, parent=header, ident=[ident])
    assert wire.recv(wire.h_shell)["content"] == {"status": "ok"}


def test_iopub_gap_gets_a_note_and_an_idle_after_the_reply(wire: Wire) -> None:
    ident, header = wire.request()
    wire.publish("stream", {"name": "stdout", "text": "x" * 2 * CAP}, header)  # refused: connection reset
    wire.subscribed()  # the relay re-subscribed; the idle the kernel sent meanwhile would be lost
    wire.session.send(wire.k_shell, "execute_reply", {"status": "ok"}, parent=header, ident=[ident])
    assert wire.recv(wire.h_shell)["content"] == {"status": "ok"}
    note, idle = wire.recv(wire.h_iopub), wire.recv(wire.h_iopub)
    assert note["msg_type"] == "ara_dropped"
    assert note["content"]["text"].startswith(f"the kernel sent a message over {CAP} bytes on iopub; it was refused")
    assert (idle["msg_type"], idle["content"], idle["parent_header"]["msg_id"]) == (
        "status",
        {"execution_state": "idle"},
        header["msg_id"],
    )


def test_output_past_the_cells_cap_is_dropped_and_counted(wire: Wire) -> None:
    _, header = wire.request()
    chunk = "y" * 10_000
    for _ in range(100):
        wire.publish("stream", {"name": "stdout", "text": chunk}, header)
    wire.publish("status", {"execution_state": "idle"}, header)
    got: list[dict[str, Any]] = []
    while not got or got[-1]["msg_type"] != "status":
        got.append(wire.recv(wire.h_iopub))
    streams = [m for m in got if m["msg_type"] == "stream"]
    assert len(streams) == 7  # forwarded until 65536 bytes had passed
    [note] = [m for m in got if m["msg_type"] == "ara_dropped"]
    assert (
        " more bytes of output in 93 messages after the cell reached the host's output caps" in note["content"]["text"]
    )


def test_multipart_message_over_the_relays_memory_is_refused_and_the_relay_lives(wire: Wire) -> None:
    _, header = wire.request()
    blob = b"z" * (CAP - 1024)
    frames = [b"kernel.x", b"<IDS|MSG>", b"sig", b"{}", b"{}", b"{}", b"{}"] + [blob] * 400  # 400 MB, frames < cap
    wire.k_iopub.send_multipart(frames)
    wire.subscribed()
    note = wire.recv(wire.h_iopub)
    assert note["msg_type"] == "ara_dropped"
    assert wire.relay.poll() is None
    assert _peak_mb(wire.relay.pid) < relay_budget_mb(CAP) + 128  # its limit plus what it had mapped at start
    wire.publish("stream", {"name": "stdout", "text": "after"}, header)
    assert wire.recv(wire.h_iopub)["content"]["text"] == "after"


def test_relay_exits_with_its_parent(tmp_path: Path) -> None:
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom tools.kernel.wire import start_relay\n"
        "p = Path(sys.argv[1])\n"
        '(p / \'kernel.json\').write_text(\'{"ip": "%s/k", "shell_port": 1, "control_port": 2, '
        '"iopub_port": 3, "key": ""}\' % p)\n'
        "r = start_relay(p / 'kernel.json', p / 'r', 2**20, 65536, sys.stderr.buffer)\n"
        "print(r.pid, flush=True)\ntime.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    assert parent.stdout is not None
    relay_pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(relay_pid, 0)
            status = Path(f"/proc/{relay_pid}/stat").read_text().split()[2]
        except (ProcessLookupError, FileNotFoundError):
            return
        if status == "Z":
            return  # exited; its reaper (init here) has not collected it yet
        time.sleep(0.05)
    pytest.fail("the relay outlived its parent by more than 5 s")
