"""``ara chat "question"``: a plain streamed answer from the configured model (the TUI is ``ara tui``)."""

from __future__ import annotations

import sys

import click

from assistant.cli.common import settings_from
from assistant.llm import connect_llm

SYSTEM = "You are ara, a concise assistant for AI alignment research. Answer accurately and briefly."


@click.command()
@click.argument("question")
@click.option("--max-tokens", type=click.IntRange(1, 8192), default=None, help="Cap the answer length.")
@click.pass_context
def chat(ctx: click.Context, question: str, max_tokens: int | None) -> None:
    """Ask QUESTION and stream the answer."""
    if not question.strip():
        raise click.BadParameter('the question is empty; pass some text, e.g. ara chat "What is CCS?"')
    settings = settings_from(ctx)
    client = connect_llm(settings)
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    for delta in client.stream_chat(messages, max_tokens=max_tokens):
        sys.stdout.write(delta)
        sys.stdout.flush()
    sys.stdout.write("\n")
    usage = client.ledger.calls[-1].usage if client.ledger.calls else None
    if usage is not None:
        click.secho(
            f"[{client.model} @ {client.base_url}: {usage.prompt_tokens} prompt + {usage.completion_tokens} "
            f"completion tokens{' (estimated)' if usage.estimated else ''}]",
            err=True,
            dim=True,
        )
