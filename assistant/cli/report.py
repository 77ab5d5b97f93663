"""``ara report RUN_ID [--md|--html|--open|--pdf]`` and ``ara report check RUN_ID`` (exit 2 on a failed check).

Covers finding the run (``<workspace>/runs/<run_id>/``), rebuilding its report from the stored draft (or a
results-only report when the loop wrote none), opening the paper library to resolve citations, writing the
files, and printing check results. Does not cover writing the draft (the research loop does).
"""

from __future__ import annotations

import logging
import re
import webbrowser
from pathlib import Path

import click

from assistant.cli.common import echo_json, settings_from
from assistant.report import (
    CitationResolver,
    ReportDraft,
    ReportError,
    build_report,
    check_report,
    load_report,
    load_results,
    write_report,
)
from assistant.report.browser import html_to_pdf
from assistant.report.results import load_config
from assistant.settings import Settings
from tools.errors import UserInputError
from tools.papers.ids import ArxivTitleIndex

logger = logging.getLogger(__name__)
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def run_dir_of(settings: Settings, run_id: str) -> Path:
    """``<workspace>/runs/<run_id>``; raises ``ReportError`` for a malformed or unknown id."""
    if not _RUN_ID_RE.match(run_id):
        raise ReportError(f"{run_id!r} is not a run id (letters, digits, '.', '_', '-').", title="Unknown run")
    runs = settings.workspace / "runs"
    path = runs / run_id
    if not path.is_dir():
        known = sorted(p.name for p in runs.iterdir() if p.is_dir())[-5:] if runs.is_dir() else []
        hint = f" Recent runs: {', '.join(known)}." if known else f" There are no runs in {runs}."
        raise ReportError(f"no run {run_id!r} in {runs}.{hint}", title="Unknown run")
    return path


def _resolver(settings: Settings) -> CitationResolver | None:
    """The workspace's paper library as a resolver, or None (with a warning) when there is none."""
    from assistant.library import library_path, open_library

    library = open_library(settings)
    if library is None:
        logger.warning("no paper library at %s; citations cannot be resolved", library_path(settings))
    return library


def _index(path: str | None) -> ArxivTitleIndex | None:
    if not path:
        return None
    try:
        return ArxivTitleIndex.load(Path(path))
    except UserInputError as err:
        raise ReportError(str(err)) from err


class _DefaultToRender(click.Group):
    """``ara report RUN_ID`` means ``ara report render RUN_ID``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["render", *args]
        return super().parse_args(ctx, args)


_index_option = click.option(
    "--arxiv-index",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="JSON index of arXiv id -> titles; cited ids must exist there under the cited title.",
)


@click.group(cls=_DefaultToRender)
def report() -> None:
    """Render a run's report (ara report RUN_ID) or check it (ara report check RUN_ID)."""


@report.command("render")
@click.argument("run_id")
@click.option("--md", "fmt", flag_value="md", help="Write report.md only.")
@click.option("--html", "fmt", flag_value="html", help="Write report.html only.")
@click.option("--open", "open_", is_flag=True, help="Open report.html in a browser afterwards.")
@click.option("--pdf", is_flag=True, help="Also print report.pdf with headless Chromium (where installed).")
@_index_option
@click.pass_context
def render(ctx: click.Context, run_id: str, fmt: str | None, open_: bool, pdf: bool, arxiv_index: str | None) -> None:
    """Rebuild RUN_ID's report from its stored draft and approved experiment (or from results alone)."""
    settings = settings_from(ctx)
    run_dir = run_dir_of(settings, run_id)
    experiment = None
    if (run_dir / "report.json").is_file():
        old = load_report(run_dir)
        draft, question, experiment = old.to_draft(), old.question, old.experiment
    else:
        draft, question = ReportDraft(), None
    built = build_report(
        run_dir, draft, _resolver(settings), question=question, experiment=experiment, arxiv_index=_index(arxiv_index)
    )
    formats = ("md", "html") if fmt is None or open_ or pdf else (fmt,)
    paths = write_report(run_dir, built, formats=formats)
    if "md" in formats:
        click.echo(str(paths.markdown))
    if "html" in formats:
        click.echo(str(paths.html))
    if pdf:
        click.echo(str(html_to_pdf(paths.html, run_dir / "report.pdf")))
    assert built.check is not None
    if not built.check.ok:
        click.secho(
            f"unverified: {len(built.check.offenders)} problem(s); see 'ara report check {run_id}'",
            fg="yellow",
            err=True,
        )
    if open_:
        webbrowser.open(paths.html.resolve().as_uri())


@report.command("check")
@click.argument("run_id")
@_index_option
@click.option("--json", "as_json", is_flag=True, help="Print the check result as JSON.")
@click.pass_context
def check(ctx: click.Context, run_id: str, arxiv_index: str | None, as_json: bool) -> None:
    """Check RUN_ID's written report against its results.json and the paper library; exit 2 on failure."""
    settings = settings_from(ctx)
    run_dir = run_dir_of(settings, run_id)
    written = load_report(run_dir)
    results = load_results(run_dir / "results.json")
    outcome = check_report(
        written,
        results,
        _resolver(settings),
        arxiv_index=_index(arxiv_index),
        run_dir=run_dir,
        config=load_config(run_dir / "config.json"),
        question=written.question,
    )
    if as_json:
        echo_json(outcome.model_dump(mode="json"))
    else:
        for off in outcome.offenders:
            click.echo(f"{off.location}: {off.kind}: {off.text!r}: {off.message}")
        for warning in outcome.warnings:
            click.echo(f"warning: {warning}")
        status = "ok" if outcome.ok else f"FAILED ({len(outcome.offenders)} problem(s))"
        click.echo(
            f"{status}: {outcome.placeholders_filled} values filled, {outcome.numerals_traced} typed numbers traced, "
            f"{outcome.citations_resolved} citations resolved"
        )
    if not outcome.ok:
        ctx.exit(2)
