"""Overhead of the sandbox's model proxy per call, against calling the same endpoint directly.

Two upstreams, each measured in the same run with calls interleaved (direct, then through the proxy) so load drifts
hit both equally: the embedded SmolLM2-135M server (the default subject model's machinery, ``tiny`` profile) with
the eval tools' call shape (``max_tokens=1`` with ``top_logprobs=20``: one ``mc_eval`` item), and a minimal
fixed-reply HTTP server on loopback, which isolates the proxy's own cost in milliseconds. The proxy path is the
real one a kernel takes: ``ChatClient(Endpoint(socket=...))`` over the Unix socket, the proxy's checks, pacing
(set high enough not to wait), metering, and the forward over TCP. Run: ``.venv/bin/python -m bench.model_proxy``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from assistant.llm.local_server import LocalServer
from assistant.settings import load_settings
from bench._results import write_section
from tools.evals.endpoint import ChatClient, Endpoint
from tools.kernel.modelproxy import ModelProxy, ProxyCall, ProxyLimits, Upstream

MESSAGES = [{"role": "user", "content": "Is the sky blue?\n\nA) Yes\nB) No\n\nAnswer with the letter only."}]
REPLY = json.dumps(
    {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "A"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 1, "total_tokens": 21},
    }
).encode()


class _Meter:
    def __init__(self) -> None:
        self.tokens = 0

    def admit(self, model: str, max_tokens: int) -> str | None:
        return None

    def record(self, call: ProxyCall) -> None:
        self.tokens += call.total_tokens


class _Fixed(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # one write per response (two small writes meet Nagle + delayed ACK: +40 ms)
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(REPLY)))
        self.end_headers()
        self.wfile.write(REPLY)

    def log_message(self, format: str, *args: Any) -> None:
        return


def _measure(n: int, direct: Callable[[], object], proxied: Callable[[], object]) -> tuple[list[float], list[float]]:
    direct(), proxied()  # warm both paths (connections, first-request costs)
    t_direct: list[float] = []
    t_proxy: list[float] = []
    for _ in range(n):
        start = time.perf_counter()
        direct()
        t_direct.append(time.perf_counter() - start)
        start = time.perf_counter()
        proxied()
        t_proxy.append(time.perf_counter() - start)
    return t_direct, t_proxy


def _pair(base_url: str, model: str, root: Path, name: str) -> tuple[ChatClient, ChatClient, ModelProxy]:
    limits = ProxyLimits(calls_per_s=10_000.0, burst=100, max_tokens=4096)
    proxy = ModelProxy(
        root / name / "model.sock", {"subject": Upstream(base_url=base_url, model=model)}, limits, _Meter()
    )
    proxy.start()
    direct = ChatClient(Endpoint(base_url=base_url, model=model))
    proxied = ChatClient(Endpoint(base_url="http://ara-model/v1", model="subject", socket=str(proxy.socket_path)))
    return direct, proxied, proxy


def _row(label: str, t_direct: list[float], t_proxy: list[float]) -> tuple[str, float, float]:
    m_direct, m_proxy = statistics.median(t_direct), statistics.median(t_proxy)
    p90 = statistics.quantiles(t_proxy, n=10)[-1]
    row = (
        f"| {label} | {m_direct * 1000:.2f} | {m_proxy * 1000:.2f} | {p90 * 1000:.2f} | "
        f"{(m_proxy - m_direct) * 1000:+.2f} | **{m_proxy / m_direct:.3f}** |"
    )
    return row, m_proxy / m_direct, (m_proxy - m_direct) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=60, help="calls of each kind per upstream (>= 20)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ara-bench-proxy-"))
    rows: list[str] = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fixed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    direct, proxied, proxy = _pair(f"http://127.0.0.1:{server.server_address[1]}/v1", "fixed", root, "fixed")
    try:
        fixed = _measure(args.n, lambda: direct.complete(MESSAGES, 1), lambda: proxied.complete(MESSAGES, 1))
    finally:
        direct.close(), proxied.close(), proxy.stop(), server.shutdown()
    row, fixed_ratio, fixed_ms = _row("fixed-reply HTTP server (proxy cost alone)", *fixed)
    rows.append(row)

    workspace = root / "ws"
    settings = load_settings(workspace).with_overrides(**{"local_llm.profile": "tiny"})
    local = LocalServer(workspace, settings.local_llm)
    info = local.ensure()
    direct, proxied, proxy = _pair(info.base_url, info.alias, root, "local")
    try:
        model = _measure(
            args.n, lambda: direct.first_token_logprobs(MESSAGES), lambda: proxied.first_token_logprobs(MESSAGES)
        )
    finally:
        direct.close(), proxied.close(), proxy.stop(), local.stop()
    row, model_ratio, model_ms = _row("embedded SmolLM2-135M, 1 token + top_logprobs=20", *model)
    rows.append(row)

    table = (
        "| upstream | direct median (ms) | via proxy median (ms) | via proxy p90 (ms) | difference (ms) | ratio |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    text = (
        "## Model proxy overhead (`bench/model_proxy.py`)\n\n"
        f"Command: `.venv/bin/python -m bench.model_proxy -n {args.n}`. {args.n} interleaved calls per upstream, "
        "each first directly (`ChatClient` over TCP) and then as a kernel makes it (`ChatClient` over the proxy's "
        "Unix socket: body cap, allow-list, clamping, pacing, metering, forward over TCP), in the same run.\n\n"
        f"{table}\n"
        f"On a real model call the proxy adds {model_ms:+.2f} ms per call (ratio {model_ratio:.3f}); its own cost, "
        f"measured against an upstream that answers instantly, is {fixed_ms:+.2f} ms per call (ratio "
        f"{fixed_ratio:.2f}, which only says how cheap the upstream is). The proxy runs in the measuring process "
        "here; in a run it is a thread of the host process. Medians of interleaved calls damp the load of other "
        "processes on the machine, which was shared while this was measured.\n"
    )
    print(text)
    if not args.no_write:
        write_section("model_proxy", text)


if __name__ == "__main__":
    main()
