"""``ara chat``: ask the configured model (the TUI is ``ara tui``), like ``llm`` on the command line.

Covers the prompt (an argument; ``-`` or piped stdin, which goes before an argument when both are given), the
model (``-m`` with aliases, ``--aliases`` lists them), ``--system``, continuing a conversation (``-c`` the last
one, ``--cid`` a given one: its earlier prompts and answers are sent as history), answers grounded in the paper
library (relevant passages quoted with their ``paper#chunk`` keys; the keys the answer cites listed after it with
their titles, unknown ones marked; ``--no-library`` turns it off), and logging every exchange to
``<workspace>/.ara/logs.sqlite`` (``--no-log`` skips it; ``ara logs`` reads it). Does not cover the client
(``assistant.llm``) or the pieces in ``assistant.chat``.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from assistant.cli.common import settings_from
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.chat import ChatLog, Citation, Exchange
    from assistant.settings import Settings
    from tools.papers import Hit

SYSTEM = "You are ara, a concise assistant for AI alignment research. Answer accurately and briefly."


class ChatError(AssistantError):
    """``ara chat`` cannot run on this input."""


def read_prompt(argument: str | None) -> str:
    """The prompt: ``-`` reads stdin; otherwise piped stdin (when stdin is not a terminal) goes before the argument."""
    if argument == "-":
        return sys.stdin.read().strip()
    piped = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    return "\n\n".join(part.strip() for part in (piped, argument or "") if part.strip())


def _history(log: ChatLog | None, continue_last: bool, cid: str | None) -> tuple[str | None, list[Exchange]]:
    """(conversation id, its exchanges) to continue, or (None, []) for a new conversation."""
    if not continue_last and cid is None:
        return None, []
    assert log is not None
    if cid is None:
        cid = log.latest_conversation()
        if cid is None:
            raise ChatError(
                "there is no conversation to continue yet; ask without -c first", title="Nothing to continue"
            )
    exchanges = log.conversation(cid)
    if not exchanges:
        raise ChatError(
            f"no conversation {cid!r} in {log.path}; list conversations with 'ara logs'", title="Unknown conversation"
        )
    return cid, exchanges


def _passages(settings: Settings, prompt: str) -> list[Hit]:
    from assistant.chat import find_passages
    from assistant.library import open_library

    library = open_library(settings)
    if library is None:
        return []
    with library:
        return find_passages(library, prompt)


def _print_sources(citations: list[Citation], hits: list[Hit]) -> None:
    by_key = {h.key: h for h in hits}
    if citations:
        click.echo("\nSources:")
    for citation in citations:
        hit = by_key.get(citation.key)
        if hit is None:
            click.secho(f"  [{citation.key}] UNKNOWN: not one of the passages given; do not rely on it", fg="red")
        else:
            where = f", {hit.anchor}" if hit.anchor else ""
            click.echo(f"  [{citation.key}] {hit.title} ({hit.year or 'n.d.'}){where}")
    cited = {c.key for c in citations}
    uncited = [h for h in hits if h.key not in cited]
    if uncited:
        click.echo("\nAlso retrieved from the library (not cited):" if citations else "\nRetrieved from the library:")
    for hit in uncited:
        click.echo(f"  [{hit.key}] {hit.title} ({hit.year or 'n.d.'})")


def _list_aliases(settings: Settings) -> None:
    from assistant.chat.models import aliases_path, has_profiles, load_aliases

    for name, target in sorted(load_aliases(settings.workspace).items()):
        click.echo(f"{name:<12} {target}")
    note = "" if has_profiles() else " (this build has one embedded model: every embedded alias serves it)"
    click.echo(f"user aliases: {aliases_path(settings.workspace)}{note}")


@click.command()
@click.argument("question", required=False)
@click.option("-m", "--model", "model_name", default=None, help="Model name or alias (see --aliases).")
@click.option("-s", "--system", default=None, help="System prompt (default: ara's; -c reuses the conversation's).")
@click.option("-c", "--continue", "continue_last", is_flag=True, help="Continue the last conversation.")
@click.option("--cid", default=None, help="Continue the conversation with this id (see 'ara logs').")
@click.option("--no-library", is_flag=True, help="Do not quote passages from the paper library.")
@click.option("--no-log", is_flag=True, help="Do not log this exchange.")
@click.option("--max-tokens", type=click.IntRange(1, 8192), default=None, help="Cap the answer length.")
@click.option("--aliases", "show_aliases", is_flag=True, help="List the model aliases and exit.")
@click.pass_context
def chat(
    ctx: click.Context,
    question: str | None,
    model_name: str | None,
    system: str | None,
    continue_last: bool,
    cid: str | None,
    no_library: bool,
    no_log: bool,
    max_tokens: int | None,
    show_aliases: bool,
) -> None:
    """Ask QUESTION and stream the answer, grounded in the paper library.

    QUESTION '-' reads it from stdin; text piped in goes before QUESTION. Each exchange is logged ('ara logs').
    """
    from assistant.chat import ChatLog, Exchange, check_citations, choose_model, grounded_prompt
    from assistant.chat.log import new_id, now
    from assistant.llm import connect_llm

    settings = settings_from(ctx)
    if show_aliases:
        _list_aliases(settings)
        return
    prompt = read_prompt(question)
    if not prompt:
        raise click.BadParameter(
            'the question is empty; pass some text, e.g. ara chat "What is CCS?", or pipe it: echo ... | ara chat -',
            param_hint="QUESTION",
        )
    choice = choose_model(settings, model_name)
    log = ChatLog(settings.workspace) if not no_log or continue_last or cid else None
    try:
        conversation_id, history = _history(log, continue_last, cid)
        system_prompt = system if system is not None else (history[-1].system if history else SYSTEM)
        hits = [] if no_library else _passages(settings, prompt)
        messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}]
        for past in history:
            messages += [{"role": "user", "content": past.prompt}, {"role": "assistant", "content": past.response}]
        messages.append({"role": "user", "content": grounded_prompt(prompt, hits)})
        client = connect_llm(choice.settings)
        started = time.perf_counter()
        parts = []
        for delta in client.stream_chat(messages, max_tokens=max_tokens):
            parts.append(delta)
            sys.stdout.write(delta)
            sys.stdout.flush()
        sys.stdout.write("\n")
        sys.stdout.flush()
        duration = time.perf_counter() - started
        answer = "".join(parts)
        citations = check_citations(answer, hits)
        _print_sources(citations, hits)
        usage = client.ledger.calls[-1].usage if client.ledger.calls else None
        exchange_id = new_id()
        exchange = Exchange(
            id=exchange_id,
            conversation_id=conversation_id or exchange_id,
            created=now(),
            model=client.model,
            base_url=client.base_url,
            prompt=prompt,
            system=system_prompt,
            response=answer,
            passages=[h.key for h in hits],
            citations=citations,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            tokens_estimated=usage.estimated if usage else True,
            duration_ms=round(duration * 1000),
        )
        if log is not None and not no_log:
            log.record(exchange)
    finally:
        if log is not None:
            log.close()
    tokens = (
        f"{exchange.prompt_tokens} prompt + {exchange.completion_tokens} completion tokens"
        f"{' (estimated)' if exchange.tokens_estimated else ''}"
    )
    logged = f"; conversation {exchange.conversation_id}" if not no_log else "; not logged"
    click.secho(f"[{client.model} @ {client.base_url}: {tokens}{logged}]", err=True, dim=True)
