"""What every ``ara papers`` subcommand shares: opening the library, the error type, the filter options.

Covers ``PapersError`` (exit 2), ``open_library_for`` (the workspace's library, created on first use), the
``--json`` option, the metadata filter options and ``Filters`` built from them, and telling an existing path from
an identifier (arXiv id, arXiv URL, DOI) among arguments where a path is expected. Does not cover any command.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from assistant.cli.common import settings_from
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from tools.papers import Filters, PaperLibrary

F = TypeVar("F", bound=Callable[..., Any])

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


class PapersError(AssistantError):
    """A paper-library command failed on the user's input."""


def open_library_for(ctx: click.Context) -> PaperLibrary:
    """The workspace's library (created if it does not exist yet)."""
    from assistant.library import open_library

    library = open_library(settings_from(ctx), create=True)
    assert library is not None  # create=True always opens one
    return library


def filter_options(command: F) -> F:
    """Add ``--year-min``, ``--year-max``, ``--author``, ``--tag`` and ``--kind`` to a command."""
    for option in reversed(
        [
            click.option("--year-min", type=int, default=None, help="Earliest year."),
            click.option("--year-max", type=int, default=None, help="Latest year."),
            click.option("--author", default=None, help="Author name substring (case-insensitive)."),
            click.option("--tag", default=None, help="Tag (case-insensitive)."),
            click.option("--kind", "source_kind", default=None, help="Source kind: pdf, html, bibtex, csv..."),
        ]
    ):
        command = option(command)
    return command


def filters_of(
    year_min: int | None, year_max: int | None, author: str | None, tag: str | None, source_kind: str | None
) -> Filters:
    """``Filters`` from the filter options."""
    from tools.papers import Filters

    if year_min is not None and year_max is not None and year_min > year_max:
        raise PapersError(f"--year-min {year_min} is after --year-max {year_max}; swap them", title="Bad filter")
    return Filters(year_min=year_min, year_max=year_max, author=author, tag=tag, source_kind=source_kind)


def check_sources(items: tuple[str, ...], *, suffixes: tuple[str, ...] = ()) -> list[Path | str]:
    """Each argument as an existing path, or as given when it is an arXiv id, arXiv URL or DOI.

    Raises:
        PapersError: an argument is neither (nothing has been read yet), or a file has a suffix not in ``suffixes``.
    """
    from tools.papers import parse_identifier

    sources: list[Path | str] = []
    for item in items:
        path = Path(item).expanduser()
        if path.exists():
            if suffixes and path.suffix.lower() not in suffixes:
                raise PapersError(
                    f"{item}: 'import' takes a .csv (Zotero export) or .bib file; use 'add' for others",
                    title="Not a reference export",
                )
            sources.append(path)
        elif parse_identifier(item) is not None:
            sources.append(item)
        else:
            raise PapersError(
                f"{item}: no such file or directory, and not an arXiv id (1805.00899), arXiv URL or DOI; "
                "check the path. Nothing was added.",
                title="Nothing to add",
            )
    return sources
