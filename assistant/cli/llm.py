"""``ara llm start|status|stop|assemble``: the embedded local model server and its model files."""

from __future__ import annotations

import click

from assistant.cli.common import echo_json, settings_from
from assistant.llm.local_server import LocalServer, describe
from assistant.llm.profiles import assemble_models, resolve_profile


@click.group()
def llm() -> None:
    """The embedded local model server (profile default: Qwen2.5-Coder-1.5B; tiny: SmolLM2-135M)."""


@llm.command("start")
@click.pass_context
def start(ctx: click.Context) -> None:
    """Start the server for this workspace (or report the one already running)."""
    settings = settings_from(ctx)
    echo_json(describe(LocalServer(settings.workspace, settings.local_llm).ensure()))


@llm.command("status")
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show the configured profile (model, file, sha256) and the running server (or null)."""
    settings = settings_from(ctx)
    model = resolve_profile(settings.local_llm)
    info = LocalServer(settings.workspace, settings.local_llm).running()
    echo_json({"configured": model.describe(), "server": describe(info) if info else None})


@llm.command("stop")
@click.pass_context
def stop(ctx: click.Context) -> None:
    """Stop the server for this workspace."""
    settings = settings_from(ctx)
    info = LocalServer(settings.workspace, settings.local_llm).stop()
    click.echo(f"stopped server pid {info.pid} on port {info.port}" if info else "no local model server was running")


@llm.command("assemble")
@click.option("--force", is_flag=True, help="Rebuild even when the assembled file verifies.")
def assemble(force: bool) -> None:
    """Assemble and verify every split model from its installed parts (make setup runs this)."""
    assemble_models(force=force, echo=click.echo)
