"""``ara config show``: the effective settings, where each came from, secrets masked."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from assistant.cli.common import echo_json, settings_from
from assistant.settings import explain_settings, settings_path


@click.group()
def config() -> None:
    """Inspect settings (environment ARA_* > <workspace>/ara.toml > defaults)."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """Print every effective setting with its source (default, toml, env); secrets are masked."""
    settings = settings_from(ctx)
    rows = explain_settings(settings)
    if as_json:
        echo_json([{"key": k, "value": v, "source": s} for k, v, s in rows])
        return
    table = Table(title=f"ara settings (file: {settings_path(settings.workspace)})")
    for column in ("setting", "value", "source"):
        table.add_column(column)
    for key, value, source in rows:
        table.add_row(key, value, source)
    Console().print(table)
