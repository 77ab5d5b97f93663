"""The workspace's SQLite files, in one list: what each holds and how to get it back when it breaks.

Covers naming the four stores (the paper catalogue, the proposal index, the campaign queue and the run
checkpoints) with their recovery paths for ``tools.sqlitefile``, ``ara doctor``'s ``quick_check`` of each,
and the check-and-backup made before the checkpointer opens its file. Does not cover what the files hold.
"""

from __future__ import annotations

from pathlib import Path

from assistant.paths import state_dir
from tools.papers.catalog import catalogue_store
from tools.sqlitefile import Store, backup_if_due, check_store
from tools.vcs.index import ProposalIndex

CHECK_LIMIT_BYTES = 512 * 1024 * 1024
"""Checkpoint files up to this size get a full ``quick_check`` before a run opens them."""


def paper_catalogue(workspace: Path) -> Store:
    """``.ara/papers/library.sqlite``: the paper library's source of truth (Chroma and the index derive from it)."""
    return catalogue_store(state_dir(workspace) / "papers" / "library.sqlite")


def proposal_index(workspace: Path) -> Store:
    """``.ara/proposals.sqlite``: rebuilt from git and the audit log by ``ara review reindex``."""
    return ProposalIndex(state_dir(workspace) / "proposals.sqlite").store


def campaign_queue(workspace: Path) -> Store:
    """``.ara/campaigns.sqlite``: campaigns, entries, schedules."""
    path = state_dir(workspace) / "campaigns.sqlite"
    return Store(
        path,
        "campaign queue",
        otherwise=f"move it aside (mv {path} {path}.corrupt) and queue the campaigns again from their files "
        "(each run's files stay in runs/)",
    )


def checkpoints(workspace: Path) -> Store:
    """``.ara/checkpoints.sqlite``: where unfinished runs resume from."""
    path = state_dir(workspace) / "checkpoints.sqlite"
    return Store(
        path,
        "run checkpoints",
        otherwise=f"move it aside (mv {path} {path}.corrupt): finished runs keep their files, but unfinished runs "
        "cannot be resumed",
    )


def all_stores(workspace: Path) -> list[Store]:
    """Every SQLite store of ``workspace``, for ``ara doctor``."""
    return [paper_catalogue(workspace), proposal_index(workspace), campaign_queue(workspace), checkpoints(workspace)]


def prepare_checkpoints(path: Path) -> None:
    """Before the checkpointer opens ``path``: refuse a corrupt file (unchanged), else back it up if due.

    Raises:
        StoreCorruptError: the file fails ``quick_check``.
    """
    store = checkpoints(path.parent.parent)
    if path.is_file() and path.stat().st_size <= CHECK_LIMIT_BYTES:
        check_store(store._replace(path=path))
    if path.is_file():
        backup_if_due(path)
