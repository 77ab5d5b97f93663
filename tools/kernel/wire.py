"""The host's ends of a kernel's message channels: capped sockets, and the relay process in front of the kernel.

Covers ``start_relay`` (launch ``tools/kernel/relay.py`` for one kernel, isolated from the project's imports),
``capped_socket`` (a host socket connected to the relay instead of the kernel, with ``ZMQ_MAXMSGSIZE`` and a small
receive high-water mark, iopub as PULL) and ``RelayedKernelClient`` (the jupyter-client client whose channels use
it). With the relay, the host holds at most a few capped messages per channel whatever the kernel sends; see
``tools.kernel.relay`` for why that needs a process of its own. Does not decide whether a relay is used
(``KernelConfig.message_cap_bytes``; ``tools.kernel.local`` wires it in).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.connect import channel_socket_types
from traitlets import Integer, Unicode

RELAY_SCRIPT = Path(__file__).with_name("relay.py")
HOST_HWM = 4
"""Complete messages each host socket queues before the relay has to wait (iopub) or drop (shell, control)."""


def relay_budget_mb(cap: int) -> int:
    """Address space the relay may add to what it uses at start: a few messages in flight, with room."""
    return 12 * cap // 2**20 + 64


def start_relay(
    connection_file: Path, relay_dir: Path, cap: int, output_cap: int, log: IO[bytes]
) -> subprocess.Popen[bytes]:
    """Start the relay for the kernel described by ``connection_file``; its sockets appear in ``relay_dir``.

    ``python -I`` runs the script without the project on ``sys.path`` (it needs only ``zmq``), so it starts in
    well under 100 ms and uses a few tens of MB.
    """
    relay_dir.mkdir(mode=0o700)
    argv = [sys.executable, "-I", str(RELAY_SCRIPT), str(connection_file), str(relay_dir), str(cap)]
    argv += [str(output_cap), str(relay_budget_mb(cap)), str(os.getpid())]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "MALLOC_ARENA_MAX": "2"}
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=env)


def capped_socket(owner: Any, channel: str, identity: bytes | None, relay_ip: str, cap: int) -> zmq.Socket[Any]:
    """A socket of ``owner`` (a jupyter-client manager or client) connected to the relay's ``channel``."""
    kind = zmq.PULL if channel == "iopub" else channel_socket_types[channel]
    sock: zmq.Socket[Any] = owner.context.socket(kind)
    sock.linger = 1000
    if identity:
        sock.identity = identity
    sock.setsockopt(zmq.MAXMSGSIZE, cap + 65536)  # the relay forwards nothing bigger; this is a second fence
    sock.rcvhwm = HOST_HWM
    sock.connect(f"ipc://{relay_ip}-{getattr(owner, f'{channel}_port')}")
    return sock


class RelayedKernelClient(AsyncKernelClient):
    """An ``AsyncKernelClient`` whose shell and iopub sockets talk to the relay (iopub as PULL: no subscription)."""

    relay_ip = Unicode("")
    message_cap = Integer(0)

    def _create_connected_socket(self, channel: str, identity: bytes | None = None) -> zmq.Socket[Any]:
        return capped_socket(self, channel, identity, self.relay_ip, self.message_cap)

    def connect_iopub(self, identity: bytes | None = None) -> zmq.Socket[Any]:
        """The iopub socket: a PULL from the relay's PUSH (the relay already subscribed to everything)."""
        return self._create_connected_socket("iopub", identity=identity)
