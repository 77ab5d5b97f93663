"""The ``ara`` command: a click group whose subcommands are imported only when used.

Covers the entry point, the lazy subcommand table, and turning ``AssistantError`` and ``UserInputError`` (bad
input, such as a corrupt database file) into exit code 2 with a plain message (no traceback). Each subcommand
lives in its own module under ``assistant.cli`` so a cold ``ara papers search`` does not import LangGraph,
Textual or torch.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Any

import click

from assistant.errors import AssistantError
from tools.errors import UserInputError

# name -> ("module:attribute" of a click.Command, its one-line help). Add a line here when adding a subcommand
# module; the help is repeated so ``ara --help`` lists commands without importing them (a test keeps it in step).
COMMANDS: dict[str, tuple[str, str]] = {
    "campaign": (
        "assistant.cli.campaign:campaign",
        "Overnight campaigns: queued research runs that survive crashes (see docs/campaigns.md).",
    ),
    "chat": ("assistant.cli.chat:chat", "Ask QUESTION and stream the answer, grounded in the paper library."),
    "config": (
        "assistant.cli.config:config",
        "Inspect settings (environment ARA_* > <workspace>/ara.toml > defaults).",
    ),
    "doctor": (
        "assistant.cli.doctor:doctor",
        "Check Python, the sandbox, the local and embedding models, the LLM endpoint and disk space.",
    ),
    "eval": (
        "assistant.cli.eval:eval_",
        "Run the shipped eval TASK (e.g. truthful_qa) on Inspect against the configured model.",
    ),
    "kernel": (
        "assistant.cli.kernel:kernel",
        "Sandboxed Python kernels (bubblewrap + seccomp + rlimits, or a remote gateway).",
    ),
    "logs": ("assistant.cli.logs:logs", "Past 'ara chat' exchanges: recent ones, or one conversation."),
    "llm": (
        "assistant.cli.llm:llm",
        "The embedded local model server (profile default: Qwen2.5-Coder-1.5B; tiny: SmolLM2-135M).",
    ),
    "schedule": (
        "assistant.cli.campaign:schedule",
        "Cron schedules for campaign files (fired by 'ara scheduler' or system cron).",
    ),
    "scheduler": (
        "assistant.cli.campaign:scheduler",
        "Long-running scheduler: launches due campaigns as detached 'ara campaign run' processes.",
    ),
    "papers": (
        "assistant.cli.papers:papers",
        "The paper library under <workspace>/.ara/papers (local MiniLM embeddings, hybrid search).",
    ),
    "report": (
        "assistant.cli.report:report",
        "Render a run's report (ara report RUN_ID) or check it (ara report check RUN_ID).",
    ),
    "review": ("assistant.cli.review:review", "Review the agent's proposals; only a person can approve (merge) one."),
    "run": (
        "assistant.cli.run:run",
        "Research QUESTION: plan, run sandboxed experiments, write a report and propose it for review.",
    ),
    "resume": (
        "assistant.cli.run:resume",
        "Continue RUN_ID from its last checkpoint (after a crash, Ctrl-C, a budget stop or an approval pause).",
    ),
    "runs": ("assistant.cli.run:runs", "Research runs in this workspace."),
    "tui": ("assistant.cli.tui:tui", "Open the terminal UI: chat, live runs, papers and review (F1 lists the keys)."),
}


def _late_workspace(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--workspace`` given after a subcommand: the same as before it; two different ones are refused."""
    if value is None:
        return
    root = ctx.find_root()
    root.ensure_object(dict)
    given = root.obj.get("workspace_given")
    if given is not None and Path(given).expanduser().resolve() != Path(value).expanduser().resolve():
        raise click.UsageError(
            f"--workspace was given twice with different values ({given} and {value}); give it once",
            ctx=ctx,
        )
    root.obj["workspace"] = root.obj["workspace_given"] = value


def accept_workspace_option(command: click.Command) -> None:
    """Let ``command`` (and, for a group, every subcommand) take ``--workspace`` too, e.g. ``ara runs list
    --workspace X``; it sets the same workspace as ``ara --workspace X runs list``."""
    if getattr(command, "_ara_workspace_option", False):
        return
    command._ara_workspace_option = True  # type: ignore[attr-defined]
    if not any(isinstance(p, click.Option) and "--workspace" in p.opts for p in command.params):
        command.params.append(
            click.Option(
                ["--workspace"],
                type=click.Path(file_okay=False, path_type=str),
                default=None,
                expose_value=False,
                is_eager=True,
                allow_from_autoenv=False,
                callback=_late_workspace,
                help="Research workspace (the same as 'ara --workspace DIR ...').",
            )
        )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_workspace_option(sub)


class LazyGroup(click.Group):
    """A group that imports a subcommand's module on first use (listing them in ``--help`` imports nothing)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = entry[0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        accept_workspace_option(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows = []
        for name in self.list_commands(ctx):
            if name in COMMANDS:
                rows.append((name, click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit)))
            else:
                command = super().get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


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
    if workspace is not None and ctx.get_parameter_source("workspace") == click.core.ParameterSource.COMMANDLINE:
        ctx.obj["workspace_given"] = workspace
    if ctx.invoked_subcommand is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            click.echo(ctx.get_help())
            return
        command = cli.get_command(ctx, "tui")
        assert command is not None
        ctx.invoke(command)


def _report(title: str, message: str) -> None:
    """Print a user error (control characters from file names or model text made visible) and exit 2."""
    from assistant.review.printable import printable

    click.secho(f"error: {printable(title)}", fg="red", err=True, bold=True)
    click.echo(printable(message), err=True)
    sys.exit(2)


def main(argv: list[str] | None = None, *, deps: Any = None) -> Any:
    """Console-script entry point: exit 0 ok, 1 bug, 2 user error.

    ``deps`` (an ``assistant.graph.session.SessionDeps``) replaces the research loop's dependencies built from
    settings: the seam tests use instead of patching module globals.
    """
    try:
        return cli.main(args=argv, standalone_mode=False, obj={"session_deps": deps} if deps is not None else None)
    except AssistantError as err:
        _report(err.title, str(err))
    except UserInputError as err:
        _report(getattr(err, "title", "Invalid input"), str(err))
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(2 if err.exit_code == 1 else err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
