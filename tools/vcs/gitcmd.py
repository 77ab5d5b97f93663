"""Running git for ara: GitPython's command wrapper with ara's identity and settings that hold on any machine.

Covers the one place git commands are executed by ``tools.vcs`` (identity through the environment so the
workspace's config is never rewritten, commit signing and hooks switched off for ara's own commits, errors
turned into ``GitCommandFailedError`` with git's words) and streaming a command's output. Does not decide what
to run (``tools.vcs.workspace``).
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import git

from tools.vcs.errors import GitCommandFailedError
from tools.vcs.records import GitIdentity

logger = logging.getLogger(__name__)

SAFE_OPTIONS: tuple[str, ...] = ("-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null")
"""Options for ara's own commits: no signing prompt, no human hooks run on agent commits."""


def identity_env(identity: GitIdentity) -> dict[str, str]:
    """Environment that makes ``identity`` the author and committer of the next commit."""
    return {
        "GIT_AUTHOR_NAME": identity.name,
        "GIT_AUTHOR_EMAIL": identity.email,
        "GIT_COMMITTER_NAME": identity.name,
        "GIT_COMMITTER_EMAIL": identity.email,
    }


def run_git(
    cwd: Path,
    *args: str,
    env: dict[str, str] | None = None,
    check: bool = True,
    strip: bool = True,
) -> str:
    """Run ``git <args>`` in ``cwd`` and return stdout.

    Raises:
        GitCommandFailedError: git exited non-zero and ``check`` is true (the message quotes git's stderr).
    """
    command = ["git", *SAFE_OPTIONS, *args]
    status, out, err = git.Git(str(cwd)).execute(
        command, with_extended_output=True, with_exceptions=False, env=env, strip_newline_in_stdout=strip
    )
    if status != 0 and check:
        raise GitCommandFailedError(f"git {' '.join(args)} failed in {cwd} (exit {status}): {(err or out).strip()}")
    return str(out)


def git_result(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``git <args>`` (with ``SAFE_OPTIONS``) and return ``(exit status, stdout, stderr)`` without raising."""
    status, out, err = git.Git(str(cwd)).execute(
        ["git", *SAFE_OPTIONS, *args], with_extended_output=True, with_exceptions=False, env=env
    )
    return int(status), str(out), str(err)


def try_git(cwd: Path, *args: str) -> str | None:
    """``run_git`` that returns None instead of raising when git exits non-zero (for queries like rev-parse)."""
    status, out, _ = git.Git(str(cwd)).execute(["git", *args], with_extended_output=True, with_exceptions=False)
    return str(out) if status == 0 else None


def git_bytes(cwd: Path, *args: str) -> bytes | None:
    """Raw stdout of ``git <args>`` as bytes, or None when git exits non-zero."""
    status, out, _ = git.Git(str(cwd)).execute(
        ["git", *args],
        with_extended_output=True,
        with_exceptions=False,
        stdout_as_string=False,
        strip_newline_in_stdout=False,
    )
    return bytes(out) if status == 0 and isinstance(out, bytes) else None


EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
"""git's well-known empty tree (every git knows it without it being stored)."""

REVIEW_DIFF_OPTIONS: tuple[str, ...] = ("--text", "--no-textconv", "--no-ext-diff", "--no-color")
"""Every diff a reviewer sees: text whatever the attributes say, no textconv or external drivers, no colour."""


def stream_git(cwd: Path, args: Sequence[str], chunk_size: int = 1 << 16) -> Iterator[bytes]:
    """Yield ``git <args>``'s stdout in chunks as it is produced (a 5 MB diff never sits in memory whole).

    Raises:
        GitCommandFailedError: git exited non-zero (raised after the last chunk).
    """
    yield from _stream([str(cwd)], args, chunk_size, _plain_env(), str(cwd))


def stream_git_detached(git_dir: Path, args: Sequence[str], chunk_size: int = 1 << 16) -> Iterator[bytes]:
    """``stream_git`` for commands on commits only (``diff base head``), blind to every in-tree attribute.

    git reads ``.gitattributes`` from the working tree (and the index) whatever commits it compares, so a
    run directory holding ``* -diff`` would turn the review diff into "Binary files differ". Here git runs
    in an empty private directory given as the work tree, with an index file that does not exist, no system
    or user attributes file, and ``attr.tree`` set to the empty tree (honoured by git >= 2.42). Only the
    repository's own ``info/attributes`` (the human's) still applies.
    """
    with tempfile.TemporaryDirectory(prefix="ara-review-") as empty:
        env = _plain_env()
        env.update({"GIT_INDEX_FILE": os.path.join(empty, "no-index"), "GIT_ATTR_NOSYSTEM": "1"})
        for name in ("GIT_EXTERNAL_DIFF", "GIT_DIFF_OPTS", "GIT_WORK_TREE", "GIT_DIR"):
            env.pop(name, None)
        prefix = [
            empty,
            f"--git-dir={git_dir}",
            f"--work-tree={empty}",
            "-c",
            "core.attributesFile=/dev/null",
            "-c",
            f"attr.tree={EMPTY_TREE}",
        ]
        yield from _stream(prefix, args, chunk_size, env, str(git_dir))


def _stream(
    prefix: list[str], args: Sequence[str], chunk_size: int, env: dict[str, str], where: str
) -> Iterator[bytes]:
    git_exe = git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git"
    proc = subprocess.Popen([git_exe, "-C", *prefix, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        while chunk := os.read(proc.stdout.fileno(), chunk_size):
            yield chunk
        err = proc.stderr.read()
        if proc.wait() != 0:
            raise GitCommandFailedError(
                f"git {' '.join(args)} failed in {where}: {err.decode(errors='replace').strip()}"
            )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _plain_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"LC_ALL": "C", "LANGUAGE": "C", "GIT_PAGER": "cat", "PAGER": "cat"})
    return env
