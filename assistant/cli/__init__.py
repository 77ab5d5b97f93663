"""The ``ara`` command: a click group whose subcommands are imported only when used.

Covers the entry point, the lazy subcommand table, and turning ``AssistantError`` into exit code 2 with a
plain message (no traceback). Each subcommand lives in its own module under ``assistant.cli`` so a cold
``ara papers search`` does not import LangGraph, Textual or torch.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from assistant.errors import AssistantError

# name -> "module:attribute" (a click.Command). Add a line here when adding a subcommand module.
COMMANDS: dict[str, str] = {
    "campaign": "assistant.cli.campaign:campaign",
    "chat": "assistant.cli.chat:chat",
    "config": "assistant.cli.config:config",
    "doctor": "assistant.cli.doctor:doctor",
    "kernel": "assistant.cli.kernel:kernel",
    "llm": "assistant.cli.llm:llm",
    "schedule": "assistant.cli.campaign:schedule",
    "scheduler": "assistant.cli.campaign:scheduler",
    "papers": "assistant.cli.papers:papers",
    "report": "assistant.cli.report:report",
    "review": "assistant.cli.review:review",
    "run": "assistant.cli.run:run",
    "resume": "assistant.cli.run:resume",
    "runs": "assistant.cli.run:runs",
    "tui": "assistant.cli.tui:tui",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"auto_envvar_prefix": "ARA", "help_option_names": ["-h", "--help"]},
)
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Research workspace (default: ARA_WORKSPACE or workspace/ in the project).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="ara", prog_name="ara")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None, verbose: int) -> None:
    """ara: an alignment-research assistant (papers, sandboxed experiments, reviewed proposals)."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.ensure_object(dict)
    ctx.obj["workspace"] = workspace
    if ctx.invoked_subcommand is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            click.echo(ctx.get_help())
            return
        command = cli.get_command(ctx, "tui")
        assert command is not None
        ctx.invoke(command)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: exit 0 ok, 1 bug, 2 user error."""
    try:
        return cli.main(args=argv, standalone_mode=False)
    except AssistantError as err:
        click.secho(f"error: {err.title}", fg="red", err=True, bold=True)
        click.echo(str(err), err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(2 if err.exit_code == 1 else err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
