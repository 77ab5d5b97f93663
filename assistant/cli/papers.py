"""``ara papers``: add, import, search, show and count papers in the workspace's library.

Covers mapping ``Settings.papers`` onto ``tools.papers.LibraryConfig`` (with the arXiv id -> title index
imports are checked against), progress bars on ingest, the import report (every skipped entry with its line
and why, every flagged paper), and plain or JSON output. Keeps imports lazy so a cold ``ara papers search`` stays under 2 s (no chromadb, torch,
transformers or langgraph on that path). Does not cover ingest or ranking (``tools.papers``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistant.cli.common import echo_json, settings_from
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from tools.papers import IngestReport, PaperLibrary


class PapersError(AssistantError):
    """A paper-library command failed on the user's input."""


def _open(ctx: click.Context) -> PaperLibrary:
    from assistant.library import open_library

    library = open_library(settings_from(ctx), create=True)
    assert library is not None  # create=True always opens one
    return library


def _ingest(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    from tqdm import tqdm

    library = _open(ctx)
    bars: dict[str, Any] = {}

    def progress(done: int, total: int, what: str) -> None:
        if as_json or total < 2:
            return
        bar = bars.get(what)
        if bar is None:
            bar = bars[what] = tqdm(total=total, desc=what, unit="", leave=False)
        bar.update(done - bar.n)

    with library:
        report = library.add_paths(list(paths), progress=progress)
    for bar in bars.values():
        bar.close()
    _print_report(report, as_json)
    if report.errors and not (report.added or report.updated or report.unchanged or report.duplicates):
        raise PapersError(f"nothing was ingested: {len(report.errors)} file(s) failed", title="Ingest failed")


def _print_report(report: IngestReport, as_json: bool) -> None:
    if as_json:
        echo_json(report.model_dump(mode="json"))
        return
    click.echo(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {report.unchanged}, "
        f"duplicates {report.duplicates}; {report.chunks_added} chunks ({report.embedded_texts} embedded) "
        f"in {report.seconds:.1f} s"
    )
    for error in report.errors:
        click.secho(f"  skipped {error.path}: {error.error}", fg="yellow", err=True)
    for entry in report.skipped:
        click.secho(f"  skipped {entry.path}:{entry.line} ({entry.entry}): {entry.reason}", fg="yellow", err=True)
    for flagged in report.flagged:
        click.secho(f"  FLAGGED {flagged.paper_id}: {flagged.flag}", fg="red", err=True)


@click.group()
def papers() -> None:
    """The paper library under <workspace>/.ara/papers (local MiniLM embeddings, hybrid search)."""


_PATHS = click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@papers.command("add")
@_PATHS
@_JSON
@click.pass_context
def add(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Add PDF, HTML, Markdown, LaTeX, BibTeX, CSV or arXiv-list files (directories are walked)."""
    _ingest(ctx, paths, as_json)


@papers.command("import")
@_PATHS
@_JSON
@click.pass_context
def import_(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Import a reference export: a Zotero CSV or a BibTeX file (one paper per row or entry)."""
    for path in paths:
        if path.suffix.lower() not in (".csv", ".bib"):
            raise PapersError(f"{path}: 'import' takes a .csv (Zotero export) or .bib file; use 'add' for others")
    _ingest(ctx, paths, as_json)


@papers.command("search")
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(1, 200), default=None, help="Number of hits (default: settings).")
@click.option("--year-min", type=int, default=None, help="Earliest year.")
@click.option("--year-max", type=int, default=None, help="Latest year.")
@click.option("--author", default=None, help="Author name substring.")
@click.option("--tag", default=None, help="Tag.")
@click.option("--per-paper", type=click.IntRange(1, 20), default=1, help="Passages per paper.")
@_JSON
@click.pass_context
def search(
    ctx: click.Context,
    query: str,
    k: int | None,
    year_min: int | None,
    year_max: int | None,
    author: str | None,
    tag: str | None,
    per_paper: int,
    as_json: bool,
) -> None:
    """Hybrid (dense + BM25) search; hits carry a citation key paper_id#chunk_id."""
    from tools.papers import Filters

    library = _open(ctx)
    filters = Filters(year_min=year_min, year_max=year_max, author=author, tag=tag)
    top_k = k or settings_from(ctx).papers.top_k
    with library:
        if library.snapshot is None:
            raise PapersError("the paper library is empty; add papers first with 'ara papers add PATH'")
        hits = library.search(query, k=top_k, filters=filters, max_per_paper=per_paper)
    if as_json:
        echo_json(
            [
                {
                    "rank": h.rank,
                    "key": h.key,
                    "paper_id": h.paper_id,
                    "chunk_id": h.chunk_id,
                    "title": h.title,
                    "year": h.year,
                    "arxiv_id": h.arxiv_id,
                    "anchor": h.anchor,
                    "score": round(h.score, 4),
                    "text": h.text,
                    "flags": list(h.flags),
                }
                for h in hits
            ]
        )
        return
    for hit in hits:
        click.secho(f"{hit.rank:>2}. {hit.title} ({hit.year or 'n.d.'})", bold=True)
        click.echo(f"    {hit.key}  [{hit.anchor or '-'}]  score {hit.score:.3f}")
        for flag in hit.flags:
            click.secho(f"    FLAGGED: {flag}", fg="red")
        snippet = hit.text[:240].replace("\n", " ")
        click.echo(f"    {snippet}{'...' if len(hit.text) > 240 else ''}")


@papers.command("show")
@click.argument("key")
@_JSON
@click.pass_context
def show(ctx: click.Context, key: str, as_json: bool) -> None:
    """Show a paper (``paper_id``) or a passage (``paper_id#chunk_id``)."""
    from tools.papers import UnknownCitationError

    with _open(ctx) as library:
        try:
            resolved = library.resolve(key)
        except UnknownCitationError as err:
            raise PapersError(str(err), title="Unknown paper") from err
        chunks = [resolved.chunk] if resolved.chunk else library.chunks(resolved.paper.paper_id)
    if as_json:
        echo_json({"paper": resolved.paper.model_dump(mode="json"), "chunks": [c.model_dump() for c in chunks]})
        return
    paper = resolved.paper
    click.secho(paper.title, bold=True)
    click.echo(
        f"id {paper.paper_id}  year {paper.year or 'n.d.'}  arXiv {paper.arxiv_id or '-'}  doi {paper.doi or '-'}"
    )
    for flag in paper.flags:
        click.secho(f"FLAGGED: {flag}", fg="red")
    if paper.authors:
        click.echo("authors: " + "; ".join(paper.authors))
    click.echo(f"source: {paper.source}")
    for chunk in chunks:
        click.secho(f"\n[{chunk.key}] {chunk.anchor}", fg="cyan")
        click.echo(chunk.text)


@papers.command("stats")
@_JSON
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Counts of papers, chunks and cached embeddings."""
    with _open(ctx) as library:
        result = library.stats()
    if as_json:
        echo_json(result.model_dump())
        return
    click.echo(f"store: {result.store_dir}")
    click.echo(
        f"papers {result.papers}  chunks {result.chunks}  indexed {result.indexed_chunks}  "
        f"cached vectors {result.cached_vectors}  with arXiv id {result.with_arxiv_id}"
    )
    click.echo("by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(result.by_kind.items())))


@papers.command("reindex")
@_JSON
@click.pass_context
def reindex(ctx: click.Context, as_json: bool) -> None:
    """Rebuild the search index and the Chroma store from the catalogue (the old folders are kept aside)."""
    with _open(ctx) as library:
        result = library.reindex()
    if as_json:
        echo_json(result.model_dump())
        return
    chroma = f", {result.chroma_chunks} in Chroma" if result.chroma_chunks is not None else ""
    click.echo(f"rebuilt from the catalogue: {result.papers} papers, {result.indexed_chunks} chunks indexed{chroma}")
    for folder in result.moved_aside:
        click.echo(f"kept the old folder as {folder}")
