"""The subject model of a run: which model kernel code may call (from settings), its proxy, and its accounting.

Covers ``subject_upstream`` (``[subject]`` settings -> the ``tools.kernel.modelproxy.Upstream`` the host forwards
to: the embedded llama.cpp server by default, started through ``assistant.llm.local_server``; the allow-list
checked; the key read on the host only), ``RunMeter`` (the run's token budget and log as the proxy's ``Meter``:
every answered call is added to the run's LLM ledger, so the node that ran the cell counts its tokens into the
run's usage, and is logged as ``SubjectModelCalled``) and ``SubjectProxies`` (one ``ModelProxy`` per run, on a
socket in a host-private directory that the run's local kernels bind read-only, and that remote kernels on a
gateway reach over their stdin channel; restarted if it stopped; all stopped when the session closes). Does not run cells (``assistant.graph.nodes.cells`` asks for a run's proxy before its
first cell) and does not decide what kernels may import.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from assistant.budget import Budget
from assistant.errors import AssistantError
from assistant.events import SubjectModelCalled
from assistant.llm.client import LLMCall, UsageLedger
from assistant.llm.client import Usage as LLMUsage
from assistant.runlog import RunLog
from assistant.settings import Settings, SubjectSettings

if TYPE_CHECKING:  # tools.kernel (jupyter-client, zmq) loads only when a run first needs a proxy
    from tools.kernel.modelproxy import ModelProxy, ProxyCall, ProxyLimits, Upstream

log = logging.getLogger(__name__)

PROXY_BASE_URL = "ara-model-proxy"
"""What the ledger records as the endpoint of subject-model calls."""


def check_allowed(subject: SubjectSettings) -> None:
    """Refuse a subject model that is not on the allow-list.

    Raises:
        AssistantError: ``subject.model`` is not in ``subject.allowed_models``.
    """
    if subject.model not in subject.allowed_models:
        allowed = ", ".join(subject.allowed_models) or "(none)"
        raise AssistantError(
            f"subject.model {subject.model!r} is not on subject.allowed_models ({allowed}); add it to "
            "[subject] allowed_models in <workspace>/ara.toml or choose one of the allowed models.",
            title="Subject model not allowed",
        )


def subject_limits(subject: SubjectSettings) -> ProxyLimits:
    """The proxy's size and rate limits from settings."""
    from tools.kernel.modelproxy import ProxyLimits

    return ProxyLimits(
        max_body_bytes=subject.max_body_kb * 1024,
        max_tokens=subject.max_tokens,
        calls_per_s=subject.calls_per_s,
    )


def subject_upstream(settings: Settings) -> Upstream:
    """Where the subject model is served: the embedded server (started if needed) or ``subject.base_url``.

    Raises:
        AssistantError: not on the allow-list, or a non-embedded model without ``subject.base_url``.
        LocalModelError: the embedded server cannot start.
    """
    from tools.kernel.modelproxy import Upstream

    subject = settings.subject
    check_allowed(subject)
    if subject.model == "embedded":
        from assistant.llm.local_server import LocalServer

        info = LocalServer(settings.workspace, settings.local_llm).ensure()
        return Upstream(base_url=info.base_url, model=info.alias, timeout_s=subject.timeout_s)
    if not subject.base_url:
        raise AssistantError(
            f"subject.model {subject.model!r} is not the embedded model, so [subject] base_url must name its "
            "OpenAI-compatible endpoint (and api_key, if it needs one).",
            title="Subject model endpoint missing",
        )
    return Upstream(
        base_url=subject.base_url, model=subject.model, api_key=subject.api_key, timeout_s=subject.timeout_s
    )


@dataclass
class RunMeter:
    """The proxy's ``Meter`` for one run: refuses past the run's token budget, counts and logs every call.

    ``base`` is set before each cell to the run's tokens used so far minus the ledger's total then, so
    ``used()`` is the run's usage including calls made during the cell.
    """

    run_id: str
    budget: Budget
    ledger: UsageLedger
    runlog: RunLog
    base: int = 0
    calls: int = 0

    def used(self) -> int:
        """The run's tokens used, the subject model's calls of the current cell included."""
        return self.base + self.ledger.total_tokens

    def admit(self, model: str, max_tokens: int) -> str | None:
        """Refuse once the run's token budget is spent."""
        limit = self.budget.tokens
        if limit is not None and self.used() >= limit:
            return (
                f"the run's token budget is spent ({self.used()} of {limit} tokens used); no more model calls in "
                "this run. Resume it with a larger one: ara resume RUN_ID --budget tokens=N"
            )
        return None

    def record(self, call: ProxyCall) -> None:
        """Add the call's tokens to the run's ledger and log it."""
        self.calls += 1
        if call.total_tokens:
            self.ledger.record(
                LLMCall(
                    kind="chat",
                    model=f"subject:{call.model}",
                    base_url=PROXY_BASE_URL,
                    messages=[],
                    response="",
                    usage=LLMUsage(
                        prompt_tokens=call.prompt_tokens,
                        completion_tokens=call.completion_tokens,
                        estimated=call.estimated,
                    ),
                    duration_s=call.duration_s,
                )
            )
        self.runlog.append(
            SubjectModelCalled(
                run_id=self.run_id,
                route=call.route,
                model=call.model,
                status=call.status,
                prompt_tokens=call.prompt_tokens,
                completion_tokens=call.completion_tokens,
                estimated=call.estimated,
                duration_s=round(call.duration_s, 4),
                refused=call.refused,
            )
        )


@dataclass
class RunProxy:
    """A run's proxy and its meter."""

    proxy: ModelProxy
    meter: RunMeter

    @property
    def socket_path(self) -> Path:
        """The socket the run's kernels bind."""
        return self.proxy.socket_path


@dataclass
class SubjectProxies:
    """One model proxy per run, built from ``[subject]`` settings on first use.

    Args:
        subject: The ``[subject]`` settings (name, allow-list, limits).
        upstream: Returns the upstream (``subject_upstream`` for real runs; tests pass a fixed one).
        transport: An ``httpx`` transport for upstream requests (tests script the model); None = network.
    """

    subject: SubjectSettings
    upstream: Callable[[], Upstream]
    transport: httpx.BaseTransport | None = None
    runs: dict[str, RunProxy] = field(default_factory=dict)
    _root: Path | None = None
    _resolved: Upstream | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings) -> SubjectProxies | None:
        """The proxies for ``settings`` (None when ``subject.enabled`` is false).

        Raises:
            AssistantError: the subject model is not on the allow-list.
        """
        if not settings.subject.enabled:
            return None
        check_allowed(settings.subject)
        return cls(settings.subject, lambda: subject_upstream(settings))

    @property
    def name(self) -> str:
        """The model name kernel code sends."""
        return self.subject.model

    def for_run(self, run_id: str, budget: Budget, ledger: UsageLedger, runlog: RunLog) -> RunProxy:
        """The run's proxy, started (or restarted, when it had stopped) on the run's socket."""
        from tools.kernel.modelproxy import SOCKET_NAME, ModelProxy

        with self._lock:
            run = self.runs.get(run_id)
            if run is None:
                check_allowed(self.subject)
                if self._resolved is None:
                    self._resolved = self.upstream()
                if self._root is None:
                    self._root = Path(tempfile.mkdtemp(prefix="ara-model-"))
                directory = self._root / f"r{len(self.runs):03d}"
                meter = RunMeter(run_id=run_id, budget=budget, ledger=ledger, runlog=runlog)
                proxy = ModelProxy(
                    directory / SOCKET_NAME,
                    {self.name: self._resolved},
                    subject_limits(self.subject),
                    meter,
                    transport=self.transport,
                )
                run = RunProxy(proxy, meter)
                self.runs[run_id] = run
            run.proxy.ensure()
            return run

    @staticmethod
    def binds(kernels: object) -> bool:
        """True for kernels that can reach the run's proxy: local sandboxed ones (``tools.kernel.KernelPool``) bind
        its socket, remote ones (``assistant.kernels.GatewayPool``) send over their stdin channel; in-process test
        pools get no model endpoint."""
        from assistant.kernels import GatewayPool
        from tools.kernel import KernelPool

        return isinstance(kernels, KernelPool | GatewayPool)

    async def acquire(self, kernels: object, run_dir: Path, run: RunProxy) -> object | None:
        """A session on ``kernels`` that reaches ``run``'s proxy, or None when ``kernels`` cannot reach one.

        Raises:
            AssistantError: a remote kernel could not be told how to reach the model.
        """
        from assistant.kernels import GatewayPool
        from tools.kernel import KernelPool
        from tools.kernel.modelchannel import ENV

        if isinstance(kernels, GatewayPool):
            session = await kernels.acquire(run_dir)
            session.model_channel = run.proxy.answer_channel
            setup = f"import os\nos.environ[{ENV!r}] = 'stdin'\nos.environ['ARA_MODEL_NAME'] = {self.name!r}\n"
            done = await session.execute(setup, 60)
            if done.status != "ok":
                await session.close()
                raise AssistantError(
                    f"the remote kernel at {kernels.url} could not be set up for the subject model "
                    f"({done.error_name}: {done.error_value}); check the gateway's kernel, or disable [subject]"
                )
            return session
        if not isinstance(kernels, KernelPool):
            return None
        config = kernels.config.model_copy(update={"model_socket": run.socket_path, "model_name": self.name})
        return await kernels.acquire(run_dir, config)

    def close(self) -> None:
        """Stop every proxy and remove their sockets."""
        with self._lock:
            for run in self.runs.values():
                run.proxy.stop()
            self.runs.clear()
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None
