"""What every node shares: tracing (events, tokens, wall time, budget checks) and structured LLM calls.

``traced`` wraps a node so it logs ``NodeStarted``/``NodeFinished``, refuses to start past a budget and adds the
tokens and seconds it spent to the state's usage counters. ``ask`` loads a prompt (logging its sha256 once),
sends it through the run's LLM client in a worker thread, logs each request/response as ``LLMCalled`` and each
key the model added outside the schema as ``InjectionBlocked``. Does not cover any node's logic.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from langgraph.runtime import Runtime
from pydantic import BaseModel

from assistant.budget import check_budget
from assistant.errors import BudgetExceededError
from assistant.events import InjectionBlocked, LLMCalled, NodeFinished, NodeStarted, PromptLoaded
from assistant.graph.context import RunContext
from assistant.graph.guard import unexpected_fields
from assistant.graph.prompts import load_prompt, render
from assistant.graph.state import GraphState
from tools.runfiles import RunFiles

T = TypeVar("T", bound=BaseModel)
Update = dict[str, Any]


class Node(Protocol):
    """A research-loop node: ``async def node(state, *, runtime) -> update``."""

    def __call__(self, state: GraphState, *, runtime: Runtime[RunContext]) -> Awaitable[Update]: ...


def traced(name: str, *, budgeted: bool = True) -> Callable[[Node], Node]:
    """Decorate a node: events, budget check before it starts (unless ``budgeted`` is False: the report of what ran
    is written on a spent budget, without a model draft, so a run whose last follow-up spent its wall time still
    gets one), usage counters after it returns."""

    def decorate(fn: Node) -> Node:
        @functools.wraps(fn)
        async def node(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
            ctx = runtime.context
            if budgeted:
                check_budget(ctx.budget, state)
            ctx.runlog.append(NodeStarted(run_id=state["run_id"], node=name))
            started = time.perf_counter()
            tokens_before = ctx.node_tokens_start = ctx.llm.ledger.total_tokens
            update = await fn(state, runtime=runtime)
            spent = ctx.llm.ledger.total_tokens - tokens_before
            elapsed = time.perf_counter() - started
            update["tokens_used"] = state.get("tokens_used", 0) + spent
            update["wall_used_s"] = state.get("wall_used_s", 0.0) + elapsed
            ctx.runlog.append(NodeFinished(run_id=state["run_id"], node=name, duration_s=elapsed, tokens=spent))
            return update

        return node

    return decorate


def log_blocked(ctx: RunContext, state: GraphState, node: str, rule: str, detail: str) -> None:
    """Record one structural refusal."""
    ctx.runlog.append(InjectionBlocked(run_id=state["run_id"], node=node, rule=rule, detail=detail[:500]))


async def ask(
    ctx: RunContext,
    state: GraphState,
    *,
    node: str,
    prompt: str,
    schema: type[T],
    **values: Any,
) -> T:
    """Ask the model for a ``schema`` object with ``prompts/<prompt>.md`` filled with ``values``.

    Raises:
        BudgetExceededError: the run's token budget is spent (checked before the call).
        StructuredOutputError: no valid object within the client's retries (checkpoint stays at the last node).
    """
    template = load_prompt(prompt)
    if ctx.prompt_hashes.get(template.name) != template.sha256:
        ctx.prompt_hashes[template.name] = template.sha256
        ctx.runlog.append(PromptLoaded(run_id=state["run_id"], name=template.name, sha256=template.sha256))
    budget = ctx.budget.tokens
    ledger = ctx.llm.ledger
    if budget is not None:
        used = state.get("tokens_used", 0) + ledger.total_tokens - ctx.node_tokens_start
        if used >= budget:
            raise BudgetExceededError(
                f"token budget exhausted before {node}: {used} of {budget} tokens used. Resume with "
                "ara resume RUN_ID --budget tokens=N.",
                budget="tokens",
            )
    messages = render(template, **values)
    first = len(ledger.calls)
    try:
        return await asyncio.to_thread(functools.partial(ctx.llm.complete_structured, messages, schema, call=node))
    finally:
        for call in ledger.calls[first:]:
            ctx.runlog.append(
                LLMCalled(
                    run_id=state["run_id"],
                    node=node,
                    kind=call.kind,
                    model=call.model,
                    messages=call.messages,
                    response=call.response,
                    prompt_tokens=call.usage.prompt_tokens,
                    completion_tokens=call.usage.completion_tokens,
                    duration_s=call.duration_s,
                    attempt=call.attempt,
                )
            )
            for path in unexpected_fields(call.response, schema):
                log_blocked(ctx, state, node, "field_not_in_schema", f"{schema.__name__}.{path}")


def run_dir(state: GraphState) -> Path:
    """The run directory."""
    return Path(state["run_dir"])


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file, fsync and rename (a crash leaves old or new, never half).

    Through ``tools.runfiles``: a link planted under the name is replaced, never written through.
    """
    with RunFiles(path.parent, create=True) as files:
        files.write_text(path.name, text)


def is_run_file(directory: Path, rel: str) -> bool:
    """True when ``directory/rel`` is a regular file reached without following any link."""
    if not directory.is_dir():
        return False
    with RunFiles(directory) as files:
        return files.is_file(rel)


def read_run_text(directory: Path, rel: str) -> str:
    """The text of ``directory/rel`` through ``tools.runfiles`` (no link followed, size capped).

    Raises:
        FileNotFoundError: missing.
        RunFileError: a link, FIFO or other non-regular file, or too large.
    """
    with RunFiles(directory) as files:
        return files.read_text(rel)


def read_run_json(directory: Path, rel: str) -> Any:
    """``directory/rel`` parsed as JSON through ``tools.runfiles`` (see ``read_run_text``)."""
    with RunFiles(directory) as files:
        return files.read_json(rel)


def remove_run_file(directory: Path, rel: str) -> None:
    """Remove the name ``directory/rel`` if present (a link is removed itself, its target untouched)."""
    if directory.is_dir():
        with RunFiles(directory) as files:
            files.unlink(rel)
