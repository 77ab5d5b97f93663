"""``ara papers add`` and ``ara papers import``: ingest files, directories and papers named by id, with progress
bars and a report that says what happened to each paper.

Covers the arguments (existing paths, or arXiv ids, arXiv URLs and DOIs filled from the local arXiv index), the
progress bars, and the import report: a summary line, then one line per paper added, updated or found to be a
duplicate (with the paper it matched and why), every skipped entry with its line and why, every flagged paper.
Does not cover ingest itself (``tools.papers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from assistant.cli.common import echo_json
from assistant.cli.papers.common import JSON_OPTION, PapersError, check_sources, open_library_for

if TYPE_CHECKING:
    from pathlib import Path

    from tools.papers import IngestItem, IngestReport

MAX_ITEM_LINES = 50
"""Per-paper lines printed before the rest is summarised (``--json`` lists every item)."""


def where(item: IngestItem) -> str:
    """Where an item came from: ``file:line`` for entries of a file, else its source."""
    if item.line is not None:
        return f"{item.source.split('#')[0]}:{item.line}"
    return item.source


def print_report(report: IngestReport, as_json: bool) -> None:
    """The import report, as JSON or as lines (summary, then per paper, then skips and flags on stderr)."""
    if as_json:
        echo_json(report.model_dump(mode="json"))
        return
    click.echo(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {report.unchanged}, "
        f"duplicates {report.duplicates}; {report.chunks_added} chunks ({report.embedded_texts} embedded) "
        f"in {report.seconds:.1f} s"
    )
    shown = [i for i in report.items if i.status != "unchanged"]
    for item in shown[:MAX_ITEM_LINES]:
        note = f": {item.note}" if item.note else ""
        click.echo(f"  {item.status:<9} {item.paper_id}  {item.title}  ({where(item)}){note}")
    if len(shown) > MAX_ITEM_LINES:
        click.echo(f"  ... and {len(shown) - MAX_ITEM_LINES} more (--json lists every paper)")
    for error in report.errors:
        click.secho(f"  skipped {error.path}: {error.error.removeprefix(f'{error.path}: ')}", fg="yellow", err=True)
    for entry in report.skipped:
        click.secho(f"  skipped {entry.path}:{entry.line} ({entry.entry}): {entry.reason}", fg="yellow", err=True)
    for flagged in report.flagged:
        click.secho(f"  FLAGGED {flagged.paper_id}: {flagged.flag}", fg="red", err=True)


def ingest(ctx: click.Context, sources: list[Path | str], as_json: bool) -> None:
    """Add ``sources`` to the workspace's library and print the report; exit 2 when nothing could be read."""
    from tqdm import tqdm

    library = open_library_for(ctx)
    bars: dict[str, Any] = {}

    def progress(done: int, total: int, what: str) -> None:
        if as_json or total < 2:
            return
        bar = bars.get(what)
        if bar is None:
            bar = bars[what] = tqdm(total=total, desc=what, unit="", leave=False)
        bar.update(done - bar.n)

    with library:
        report = library.add_paths(sources, progress=progress)
    for bar in bars.values():
        bar.close()
    print_report(report, as_json)
    if report.errors and not report.items:
        raise PapersError(f"nothing was ingested: {len(report.errors)} source(s) failed", title="Ingest failed")


_SOURCES = click.argument("sources", nargs=-1, required=True, metavar="PATH_OR_ID...")


@click.command("add")
@_SOURCES
@JSON_OPTION
@click.pass_context
def add(ctx: click.Context, sources: tuple[str, ...], as_json: bool) -> None:
    """Add PDF, HTML, Markdown, LaTeX, BibTeX, CSV or arXiv-list files (directories are walked), or papers by arXiv
    id, arXiv URL or DOI (title and year from the local arXiv index; no network)."""
    ingest(ctx, check_sources(sources), as_json)


@click.command("import")
@_SOURCES
@JSON_OPTION
@click.pass_context
def import_(ctx: click.Context, sources: tuple[str, ...], as_json: bool) -> None:
    """Import a reference export: a Zotero CSV or a BibTeX file (one paper per row or entry; a BibTeX ``file``
    attachment is read when it exists), or papers by arXiv id, arXiv URL or DOI."""
    ingest(ctx, check_sources(sources, suffixes=(".csv", ".bib")), as_json)
