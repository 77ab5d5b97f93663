"""Helpers shared by CLI subcommands: settings from the context, JSON output."""

from __future__ import annotations

import json
from typing import Any

import click

from assistant.settings import Settings, load_settings


def settings_from(ctx: click.Context) -> Settings:
    """Load settings for the workspace given to the ``ara`` group (or the default)."""
    root = ctx.find_root()
    workspace = (root.obj or {}).get("workspace")
    return load_settings(workspace)


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(json.dumps(value, indent=2, default=str))
