"""``ara logs``: read the chat log (``<workspace>/.ara/logs.sqlite``), like ``llm logs``.

Covers listing the most recent exchanges (``-n``; 0 = all), one conversation (``-c`` the latest, ``--cid`` a given
one), and plain or JSON output (each exchange with its prompt, system prompt, answer, model, endpoint, tokens,
duration, the library passages given and the citations with whether each was one of them). Does not cover
writing the log (``ara chat``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from assistant.cli.common import echo_json, settings_from
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.chat import Exchange


def _print(exchange: Exchange) -> None:
    click.secho(f"## {exchange.created}  conversation {exchange.conversation_id}  model {exchange.model}", bold=True)
    for title, text in (("Prompt", exchange.prompt), ("System", exchange.system), ("Response", exchange.response)):
        click.echo(f"\n{title}:\n{text}")
    if exchange.citations:
        cited = ", ".join(c.key + ("" if c.known else " (UNKNOWN)") for c in exchange.citations)
        click.echo(f"\nCited: {cited}")
    if exchange.passages:
        click.echo(f"Passages given: {', '.join(exchange.passages)}")
    estimated = " (estimated)" if exchange.tokens_estimated else ""
    click.echo(
        f"Tokens: {exchange.prompt_tokens} prompt + {exchange.completion_tokens} completion{estimated}; "
        f"{exchange.duration_ms / 1000:.1f} s; {exchange.base_url}\n"
    )


@click.command()
@click.option("-n", "--count", type=click.IntRange(0), default=3, show_default=True, help="Exchanges (0 = all).")
@click.option("-c", "--conversation", "latest", is_flag=True, help="The latest conversation, whole.")
@click.option("--cid", default=None, help="The conversation with this id, whole.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def logs(ctx: click.Context, count: int, latest: bool, cid: str | None, as_json: bool) -> None:
    """Past 'ara chat' exchanges: recent ones, or one conversation."""
    from assistant.chat import ChatLog
    from assistant.chat.log import log_path

    settings = settings_from(ctx)
    if not log_path(settings.workspace).is_file():
        exchanges: list[Exchange] = []
    else:
        with ChatLog(settings.workspace) as log:
            if cid is not None:
                exchanges = log.conversation(cid)
                if not exchanges:
                    raise AssistantError(
                        f"no conversation {cid!r} in {log.path}; 'ara logs' lists recent ones with their ids",
                        title="Unknown conversation",
                    )
            elif latest:
                last = log.latest_conversation()
                exchanges = log.conversation(last) if last else []
            else:
                exchanges = log.recent(count or None)
    if as_json:
        echo_json([e.model_dump(mode="json") for e in exchanges])
        return
    if not exchanges:
        click.echo(f'no exchanges logged yet ({log_path(settings.workspace)}); ask with: ara chat "QUESTION"')
        return
    for exchange in exchanges:
        _print(exchange)
