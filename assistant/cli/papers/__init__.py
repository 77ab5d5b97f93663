"""``ara papers``: the workspace's paper library from the command line.

Covers the command group and its subcommands: ``add``/``import`` (``ingest``), ``search``/``list``/``show``/
``stats``/``reindex`` (``find``), ``remove``/``tag``/``untag``/``export`` (``curate``). Does not cover ingest,
ranking or storage (``tools.papers``).
"""

from __future__ import annotations

import click

from assistant.cli.papers.curate import export, remove, tag, untag
from assistant.cli.papers.find import list_, reindex, search, show, stats
from assistant.cli.papers.ingest import add, import_


@click.group()
def papers() -> None:
    """The paper library under <workspace>/.ara/papers (local MiniLM embeddings, hybrid search)."""


for _command in (add, import_, search, list_, show, stats, reindex, remove, tag, untag, export):
    papers.add_command(_command)
