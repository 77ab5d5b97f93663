"""Where things live: the project checkout, the default workspace, and the workspace's private state folder.

Covers path resolution only (no git, no file creation beyond ``ensure_state_dir``). The workspace's own git
repository is opened by ``tools.vcs``.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout this package was imported from (editable installs) or the site-packages parent."""

STATE_DIRNAME = ".ara"


def default_workspace() -> Path:
    """The workspace used when neither ``--workspace`` nor ``ARA_WORKSPACE`` is given.

    ``workspace/`` inside the project checkout when the project is installed editable (the normal set-up),
    else ``./workspace`` under the current directory.
    """
    candidate = PROJECT_ROOT / "workspace"
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return candidate
    return Path.cwd() / "workspace"


def resolve_workspace(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the workspace: explicit argument > ``ARA_WORKSPACE`` > the default."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("ARA_WORKSPACE")
    if env:
        return Path(env).expanduser().resolve()
    return default_workspace().resolve()


def state_dir(workspace: Path) -> Path:
    """``<workspace>/.ara``: checkpoints, caches, the paper store, the local server's lock and pid files."""
    return workspace / STATE_DIRNAME


def ensure_state_dir(workspace: Path, *parts: str) -> Path:
    """Create and return ``<workspace>/.ara/<parts...>``."""
    path = state_dir(workspace).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
