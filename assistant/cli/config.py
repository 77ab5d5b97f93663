"""``ara config show``: the effective settings, where each came from, secrets masked.

The table prints values as text; ``--json`` prints them typed (numbers as numbers, booleans as booleans, unset
as null, paths as strings, lists as lists) so scripts read them without parsing, with secrets masked there too.
"""

from __future__ import annotations

from enum import Enum
from pathlib import PurePath
from typing import Any

import click
from pydantic import BaseModel, SecretStr
from rich.console import Console
from rich.table import Table

from assistant.cli.common import echo_json, settings_from
from assistant.settings import SECRET_MASK, Settings, explain_settings, settings_path


def json_value(value: Any) -> Any:
    """A setting's value as JSON: scalars kept, ``None`` as null, a set secret masked, an empty one null."""
    if isinstance(value, SecretStr):
        return SECRET_MASK if value.get_secret_value() else None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return json_value(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, BaseModel):
        return json_value(value.model_dump())
    return str(value)


def typed_value(settings: Settings, key: str) -> Any:
    """The value at dotted ``key`` of ``settings`` as JSON (see ``json_value``)."""
    node: Any = settings
    for part in key.split("."):
        node = getattr(node, part)
    return json_value(node)


@click.group()
def config() -> None:
    """Inspect settings (environment ARA_* > <workspace>/ara.toml > defaults)."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON with typed values (unset = null).")
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """Print every effective setting with its source (default, toml, env); secrets are masked."""
    settings = settings_from(ctx)
    rows = explain_settings(settings)
    if as_json:
        echo_json([{"key": k, "value": typed_value(settings, k), "source": s} for k, _, s in rows])
        return
    table = Table(title=f"ara settings (file: {settings_path(settings.workspace)})")
    for column in ("setting", "value", "source"):
        table.add_column(column)
    for key, value, source in rows:
        table.add_row(key, value, source)
    Console().print(table)
