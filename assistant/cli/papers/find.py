"""``ara papers search``, ``list``, ``show``, ``stats`` and ``reindex``: reading the library.

Covers the printed and JSON forms of hits (with the title-match mark and the passage's cosine similarity, which
means the same in every query and library, beside the fused score, which ranks within one query), the paper
list, one paper or passage, the counts, and the rebuild of the derived stores. A filter that selects no paper
stops with a message naming what the library has (exit 2). Keeps imports lazy so a cold ``ara papers search``
stays under 2 s (no chromadb, torch, transformers or langgraph on that path). Does not cover ranking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from assistant.cli.common import echo_json, settings_from
from assistant.cli.papers.common import JSON_OPTION, PapersError, filter_options, filters_of, open_library_for

if TYPE_CHECKING:
    from tools.papers import Hit, Paper

EMPTY = "the paper library is empty; add papers first with 'ara papers add PATH'"


def hit_json(hit: Hit) -> dict[str, object]:
    """The JSON form of one hit."""
    return {
        "rank": hit.rank,
        "key": hit.key,
        "paper_id": hit.paper_id,
        "chunk_id": hit.chunk_id,
        "title": hit.title,
        "year": hit.year,
        "arxiv_id": hit.arxiv_id,
        "anchor": hit.anchor,
        "score": round(hit.score, 4),
        "similarity": hit.similarity,
        "title_match": hit.title_match,
        "text": hit.text,
        "flags": list(hit.flags),
    }


def print_hit(hit: Hit) -> None:
    """A hit as three lines: rank and title; key, anchor and scores; a snippet."""
    click.secho(f"{hit.rank:>2}. {hit.title} ({hit.year or 'n.d.'})", bold=True)
    scores = f"score {hit.score:.3f}" + (f", cosine {hit.similarity:.2f}" if hit.similarity is not None else "")
    match = f"  {hit.title_match} title match" if hit.title_match else ""
    click.echo(f"    {hit.key}  [{hit.anchor or '-'}]  {scores}{match}")
    for flag in hit.flags:
        click.secho(f"    FLAGGED: {flag}", fg="red")
    snippet = hit.text[:240].replace("\n", " ")
    click.echo(f"    {snippet}{'...' if len(hit.text) > 240 else ''}")


@click.command("search")
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(1, 200), default=None, help="Number of hits (default: settings).")
@filter_options
@click.option("--per-paper", type=click.IntRange(1, 20), default=1, help="Passages per paper.")
@JSON_OPTION
@click.pass_context
def search(
    ctx: click.Context,
    query: str,
    k: int | None,
    year_min: int | None,
    year_max: int | None,
    author: str | None,
    tag: str | None,
    source_kind: str | None,
    per_paper: int,
    as_json: bool,
) -> None:
    """Hybrid (dense + BM25) search, papers whose title the query is first; hits carry a citation key
    paper_id#chunk_id."""
    if not query.strip():
        raise PapersError('the query is empty; pass some words, e.g. ara papers search "debate"', title="Empty query")
    filters = filters_of(year_min, year_max, author, tag, source_kind)
    top_k = k or settings_from(ctx).papers.top_k
    with open_library_for(ctx) as library:
        snapshot = library.snapshot
        if snapshot is None or snapshot.n_chunks == 0:
            raise PapersError(EMPTY, title="Empty library")
        hits = library.search(query, k=top_k, filters=filters, max_per_paper=per_paper)
    if as_json:
        echo_json([hit_json(h) for h in hits])
        return
    for hit in hits:
        print_hit(hit)


def paper_line(paper: Paper, id_width: int) -> str:
    """One paper as a line: id, year, title, tags."""
    tags = f"  [{', '.join(paper.tags)}]" if paper.tags else ""
    flag = "  FLAGGED" if paper.flags else ""
    return f"{paper.paper_id:<{id_width}}  {paper.year or 'n.d.':<4}  {paper.title}{tags}{flag}"


@click.command("list")
@filter_options
@JSON_OPTION
@click.pass_context
def list_(
    ctx: click.Context,
    year_min: int | None,
    year_max: int | None,
    author: str | None,
    tag: str | None,
    source_kind: str | None,
    as_json: bool,
) -> None:
    """List papers in the order they were added (id, year, title, tags), optionally filtered."""
    filters = filters_of(year_min, year_max, author, tag, source_kind)
    with open_library_for(ctx) as library:
        total = library.stats().papers
        papers = library.list_papers(filters)
    if as_json:
        echo_json([p.model_dump(mode="json") for p in papers])
        return
    if not papers:
        click.echo(EMPTY)
        return
    width = max(len(p.paper_id) for p in papers)
    for paper in papers:
        click.echo(paper_line(paper, width))
    shown = f"{len(papers)} of {total} papers ({filters.describe()})" if len(papers) < total else f"{total} papers"
    click.echo(shown)


@click.command("show")
@click.argument("key")
@JSON_OPTION
@click.pass_context
def show(ctx: click.Context, key: str, as_json: bool) -> None:
    """Show a paper (``paper_id``) or a passage (``paper_id#chunk_id``)."""
    from tools.papers import UnknownCitationError

    with open_library_for(ctx) as library:
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
    if paper.tags:
        click.echo("tags: " + ", ".join(paper.tags))
    click.echo(f"source: {paper.source}")
    for chunk in chunks:
        click.secho(f"\n[{chunk.key}] {chunk.anchor}", fg="cyan")
        click.echo(chunk.text)


@click.command("stats")
@JSON_OPTION
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Counts of papers, chunks and cached embeddings."""
    with open_library_for(ctx) as library:
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


@click.command("reindex")
@JSON_OPTION
@click.pass_context
def reindex(ctx: click.Context, as_json: bool) -> None:
    """Rebuild the search index and the Chroma store from the catalogue (the old folders are kept aside)."""
    with open_library_for(ctx) as library:
        result = library.reindex()
    if as_json:
        echo_json(result.model_dump())
        return
    chroma = f", {result.chroma_chunks} in Chroma" if result.chroma_chunks is not None else ""
    click.echo(f"rebuilt from the catalogue: {result.papers} papers, {result.indexed_chunks} chunks indexed{chroma}")
    for folder in result.moved_aside:
        click.echo(f"kept the old folder as {folder}")
