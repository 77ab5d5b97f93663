"""Helpers shared by the workspace and review tests: a git environment with no global identity, runs with files,
and a snapshot of the human's working tree."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tools.vcs import RunDir, Workspace


def isolate_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No system or global git config (like the machines: no identity), no inherited author variables."""
    empty = tmp_path / "gitconfig-global"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in list(os.environ):
        if name.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_")) or name in ("EMAIL", "GIT_DIR", "GIT_WORK_TREE"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ARA_ROLE", raising=False)


def git(path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git in ``path`` and return stripped stdout (raises on failure)."""
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, env=full_env, check=False)
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


HUMAN = {
    "GIT_AUTHOR_NAME": "Hu Man",
    "GIT_AUTHOR_EMAIL": "hu@example.org",
    "GIT_COMMITTER_NAME": "Hu Man",
    "GIT_COMMITTER_EMAIL": "hu@example.org",
}


def human_commit(ws: Path, files: dict[str, str], message: str = "human work") -> str:
    """Commit ``files`` as a human on the current branch; return the commit."""
    for rel, text in files.items():
        target = ws / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        git(ws, "add", "-f", rel)
    git(ws, "commit", "-q", "-m", message, env=HUMAN)
    return git(ws, "rev-parse", "HEAD")


def make_run(ws: Workspace, files: dict[str, str], hint: str = "probe sweep") -> RunDir:
    """A new run with ``files`` (relative to the run directory) written into it."""
    run = ws.new_run(hint)
    for rel, text in files.items():
        target = run.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return run


def human_tree(ws: Path) -> dict[str, str]:
    """sha256 of every file in the human's checkout except .git/, .ara/ and the agent's runs/."""
    out: dict[str, str] = {}
    for path in sorted(ws.rglob("*")):
        rel = path.relative_to(ws)
        if rel.parts[0] in (".git", ".ara", "runs") or not path.is_file():
            continue
        out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def human_status(ws: Path) -> str:
    """``git status --porcelain`` of the human's checkout (tracked and untracked, not ignored)."""
    done = subprocess.run(
        ["git", "-C", str(ws), "status", "--porcelain=v1"], capture_output=True, text=True, check=True
    )
    return done.stdout.rstrip("\n")


def trailers(ws: Path, commit: str) -> dict[str, str]:
    """Trailers of ``commit`` as git itself parses them (``interpret-trailers --parse``)."""
    message = git(ws, "log", "-1", "--format=%B", commit)
    done = subprocess.run(
        ["git", "interpret-trailers", "--parse"], input=message, capture_output=True, text=True, check=True
    )
    return dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
