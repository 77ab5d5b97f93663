"""``ara doctor``: a table of environment checks; exit 2 with what to do when something is missing."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from assistant.cli.common import echo_json, settings_from
from assistant.doctor import run_checks

_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--no-endpoint", is_flag=True, help="Skip the LLM round-trip.")
@click.option("--keep-server", is_flag=True, help="Leave running an embedded model server the round-trip had to start.")
@click.pass_context
def doctor(ctx: click.Context, as_json: bool, no_endpoint: bool, keep_server: bool) -> None:
    """Check Python, the sandbox, the local and embedding models, the LLM endpoint and disk space.

    A model server started for the round-trip is stopped again (unless --keep-server), and the check says so.
    """
    settings = settings_from(ctx)
    checks = run_checks(settings, endpoint=not no_endpoint, keep_server=keep_server)
    if as_json:
        echo_json([c.model_dump() for c in checks])
    else:
        table = Table(title=f"ara doctor (workspace {settings.workspace})")
        for column in ("check", "status", "detail", "what to do"):
            table.add_column(column, overflow="fold")
        for c in checks:
            table.add_row(c.name, f"[{_STYLE[c.status]}]{c.status}[/]", c.detail, c.fix)
        Console().print(table)
    if any(c.status == "fail" for c in checks):
        sys.exit(2)
