"""``ara papers remove``, ``tag``, ``untag`` and ``export``: curating the library and taking references out.

Covers removing papers (every id checked first; nothing removed when one is unknown), adding and removing tags
(kept across re-imports), and exporting BibTeX or CSL-JSON for the whole library, a filter, given ids, or the
references of a run's report (read from the typed ``references`` of its ``report.json``; a paper the library
still holds is exported with the library's fuller record). Does not cover the stores (``tools.papers``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from assistant.cli.common import echo_json, settings_from
from assistant.cli.papers.common import JSON_OPTION, PapersError, filter_options, filters_of, open_library_for

if TYPE_CHECKING:
    from tools.papers import PaperLibrary
    from tools.papers.export import BibRecord

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@click.command("remove")
@click.argument("paper_ids", nargs=-1, required=True, metavar="PAPER_ID...")
@JSON_OPTION
@click.pass_context
def remove(ctx: click.Context, paper_ids: tuple[str, ...], as_json: bool) -> None:
    """Remove papers (with their passages, from the search index and Chroma); see ids with 'ara papers list'."""
    with open_library_for(ctx) as library:
        report = library.remove(list(paper_ids))
    if as_json:
        echo_json(report.model_dump(mode="json"))
        return
    for paper in report.removed:
        click.echo(f"removed {paper.paper_id}  {paper.title}")
    click.echo(f"{len(report.removed)} paper(s) and {report.chunks} passage(s) removed")


def _tag_command(name: str, adding: bool) -> click.Command:
    @click.command(name)
    @click.argument("paper_id")
    @click.argument("tags", nargs=-1, required=True)
    @JSON_OPTION
    @click.pass_context
    def command(ctx: click.Context, paper_id: str, tags: tuple[str, ...], as_json: bool) -> None:
        with open_library_for(ctx) as library:
            report = library.edit_tags(paper_id, add=tags if adding else (), remove=() if adding else tags)
        if as_json:
            echo_json(report.model_dump(mode="json"))
            return
        changed = report.added if adding else report.removed
        if not changed:
            held = ", ".join(report.paper.tags) or "none"
            if adding:
                click.echo(f"{paper_id} already has {', '.join(report.unchanged)}; tags: {held}")
                return
            raise PapersError(
                f"{paper_id} has no tag {', '.join(repr(t) for t in report.unchanged)}; its tags: {held}",
                title="Unknown tag",
            )
        verb, other = ("added", "already had") if adding else ("removed", "did not have")
        extra = f"; {other} {', '.join(report.unchanged)}" if report.unchanged else ""
        click.echo(f"{report.paper.paper_id}: {verb} {', '.join(changed)}{extra}")
        click.echo(f"tags: {', '.join(report.paper.tags) or 'none'}")

    command.help = (
        "Add TAGS to a paper (kept when its source is imported again)."
        if adding
        else "Remove TAGS from a paper (kept removed when its source is imported again)."
    )
    return command


tag = _tag_command("tag", adding=True)
untag = _tag_command("untag", adding=False)


def _report_records(ctx: click.Context, library: PaperLibrary, run_id: str) -> list[BibRecord]:
    """The references of a run's report, as records (the library's fuller record where it has the paper)."""
    from pydantic import BaseModel, ConfigDict, ValidationError

    from assistant.report.model import Reference
    from tools.papers.export import BibRecord

    class _References(BaseModel):
        model_config = ConfigDict(extra="ignore", frozen=True)
        references: list[Reference] = []

    if not _RUN_ID.match(run_id):
        raise PapersError(f"{run_id!r} is not a run id (letters, digits, '.', '_', '-')", title="Unknown run")
    runs = settings_from(ctx).workspace / "runs"
    path = runs / run_id / "report.json"
    if not (runs / run_id).is_dir():
        raise PapersError(f"no run {run_id!r} in {runs}; list runs with 'ara runs'", title="Unknown run")
    if not path.is_file():
        raise PapersError(f"{path} not found: run {run_id} has no report; write it with 'ara report {run_id}'")
    try:
        references = _References.model_validate_json(path.read_text(encoding="utf-8")).references
    except ValidationError as err:
        raise PapersError(
            f"{path} is not a valid report ({err.error_count()} problem(s), first: {err.errors()[0]['msg']}); "
            f"rebuild it with 'ara report {run_id}'",
            title="Unreadable report",
        ) from err
    if not references:
        raise PapersError(f"the report of run {run_id} cites no papers; nothing to export", title="No references")
    records: dict[str, BibRecord] = {}
    for ref in sorted(references, key=lambda r: r.number):
        paper_id = ref.key.split("#")[0]
        if paper_id in records:
            continue
        stored = library.catalog.get_paper(paper_id)
        records[paper_id] = (
            BibRecord.of_paper(stored)
            if stored is not None
            else BibRecord(
                paper_id=paper_id,
                title=ref.title,
                authors=tuple(ref.authors),
                year=ref.year,
                arxiv_id=ref.arxiv_id,
                url=ref.url,
            )
        )
    return list(records.values())


@click.command("export")
@click.option("--bibtex", "fmt", flag_value="bibtex", help="BibTeX (@misc entries, arXiv ids as eprint).")
@click.option("--csl-json", "fmt", flag_value="csl-json", help="CSL-JSON (Zotero, pandoc, citeproc).")
@click.argument("paper_ids", nargs=-1, metavar="[PAPER_ID...]")
@filter_options
@click.option("--report", "run_id", default=None, metavar="RUN_ID", help="The references of a run's report.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here.")
@click.pass_context
def export(
    ctx: click.Context,
    fmt: str | None,
    paper_ids: tuple[str, ...],
    year_min: int | None,
    year_max: int | None,
    author: str | None,
    tag: str | None,
    source_kind: str | None,
    run_id: str | None,
    output: Path | None,
) -> None:
    """Export references as BibTeX or CSL-JSON: the whole library, given PAPER_IDs, a filter, or --report RUN_ID."""
    from tools.papers import Filters
    from tools.papers.export import BibRecord, to_bibtex, to_csl_json
    from tools.papers.manage import UnknownPaperError

    if fmt is None:
        raise PapersError("choose a format: --bibtex or --csl-json", title="No format")
    filters = filters_of(year_min, year_max, author, tag, source_kind)
    if run_id is not None and (paper_ids or filters != Filters()):
        raise PapersError("--report exports a report's references; drop the paper ids and filters", title="Bad use")
    with open_library_for(ctx) as library:
        if run_id is not None:
            records = _report_records(ctx, library, run_id)
        else:
            papers = library.list_papers(filters)
            if paper_ids:
                wanted = {p.paper_id: p for p in papers}
                missing = [i for i in paper_ids if i not in wanted]
                if missing:
                    raise UnknownPaperError(
                        f"no paper {', '.join(repr(m) for m in missing)} in the library"
                        + (f" matching {filters.describe()}" if filters != Filters() else "")
                        + "; see ids with 'ara papers list'"
                    )
                papers = [wanted[i] for i in dict.fromkeys(paper_ids)]
            if not papers:
                raise PapersError("the paper library is empty; nothing to export", title="Empty library")
            records = [BibRecord.of_paper(p) for p in papers]
    text = to_bibtex(records) if fmt == "bibtex" else json.dumps(to_csl_json(records), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {len(records)} reference(s) to {output}", err=True)
