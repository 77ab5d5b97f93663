"""``ara llm start|status|stop``: manage the embedded local model server."""

from __future__ import annotations

import click

from assistant.cli.common import echo_json, settings_from
from assistant.llm.local_server import LocalServer, describe


@click.group()
def llm() -> None:
    """The embedded local model server (SmolLM2-135M-Instruct on llama-cpp-python)."""


@llm.command("start")
@click.pass_context
def start(ctx: click.Context) -> None:
    """Start the server for this workspace (or report the one already running)."""
    settings = settings_from(ctx)
    echo_json(describe(LocalServer(settings.workspace, settings.local_llm).ensure()))


@llm.command("status")
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show the running server, or null."""
    settings = settings_from(ctx)
    info = LocalServer(settings.workspace, settings.local_llm).running()
    echo_json(describe(info) if info else None)


@llm.command("stop")
@click.pass_context
def stop(ctx: click.Context) -> None:
    """Stop the server for this workspace."""
    settings = settings_from(ctx)
    info = LocalServer(settings.workspace, settings.local_llm).stop()
    click.echo(f"stopped server pid {info.pid} on port {info.port}" if info else "no local model server was running")
