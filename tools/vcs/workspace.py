"""The research workspace: a git repository of its own, run directories, and proposals on branches.

Covers opening or creating ``<workspace>`` (with ``.gitignore`` for caches and the ``.ara/`` state folder),
making run directories ``runs/<run_id>/`` with ULID run ids, and ``propose``: copying a run's files into a
separate git worktree, committing them with ``Ara-Run-Id:`` trailers under ara's own identity, and pointing a
branch ``ara/<run_id>/<slug>`` at that commit. The human's checkout (the workspace folder itself) is never
touched: no checkout, no index change, no file written outside ``runs/`` and ``.ara/``.

Deliberately does NOT cover approving, rejecting or merging: nothing here can change the main line. That lives
in ``assistant.review`` behind the human check, so code that holds a ``Workspace`` (the research loop) has no
path to the main line.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tools.vcs.errors import (
    MainLineError,
    NotAWorkspaceError,
    OutsideWorkspaceError,
    RunNotFoundError,
    VcsError,
)
from tools.vcs.gitcmd import REVIEW_DIFF_OPTIONS, git_bytes, identity_env, run_git, stream_git_detached, try_git
from tools.vcs.index import ProposalIndex, utcnow
from tools.vcs.records import AGENT_IDENTITY, Proposal, ProposalStatus, RunDir, key_numbers, slugify

if TYPE_CHECKING:
    from filelock import FileLock

logger = logging.getLogger(__name__)

STATE_DIRNAME = ".ara"
RUNS_DIRNAME = "runs"
GITIGNORE = """\
# ara: caches and ara's private state never enter the workspace's history
.ara/
__pycache__/
*.pyc
.ipynb_checkpoints/
.cache/
.mypy_cache/
.pytest_cache/
.ruff_cache/
"""
EXCLUDES = ("/.ara/", "/runs/")
"""Written to ``.git/info/exclude`` (never to a tracked file): run folders are the agent's scratch space until a
proposal carries them (``git add -f``) and a human merges it."""
SKIP_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints", ".cache", ".mypy_cache", ".pytest_cache"})
LOCK_TIMEOUT_S = 120.0


GIT_METADATA_FILES = frozenset({".gitattributes", ".gitmodules"})
"""File names that change git's own behaviour; proposals carrying them are refused at approval."""


class SpecialEntry(NamedTuple):
    """A changed path a reviewer must know about, and what it is."""

    path: str
    what: str


class Checkout(NamedTuple):
    """The human's checkout: the branch (None when HEAD is detached), its commit and tracked files changed."""

    branch: str | None
    head: str | None
    dirty_paths: tuple[str, ...]


class Workspace:
    """The workspace repository. Build with ``open`` or ``open_or_create``; cheap to make per command."""

    def __init__(self, path: Path, mainline: str) -> None:
        self.path = path
        self.mainline = mainline
        """The main-line branch proposals are based on and (only by a human) merged into."""
        self.state_dir = path / STATE_DIRNAME
        self.index = ProposalIndex(self.state_dir / "proposals.sqlite")

    @cached_property
    def lock(self) -> FileLock:
        """Serialises proposals and review decisions across processes (re-entrant within one object).

        Made on first use: filelock (like python-ulid in ``new_run``) is imported only by commands that need it.
        """
        from filelock import FileLock

        return FileLock(str(self.state_dir / "vcs.lock"), timeout=LOCK_TIMEOUT_S)

    # ----------------------------------------------------------------------------------------------- opening
    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Workspace:
        """Open an existing workspace repository.

        Raises:
            NotAWorkspaceError: ``path`` does not exist or is not the top of a git repository.
            MainLineError: no main-line branch can be found (detached HEAD and no ``main``/``master``).
        """
        root = Path(path).expanduser().resolve()
        if not (root / ".git").exists():
            raise NotAWorkspaceError.at(root)
        if try_git(root, "rev-parse", "--is-inside-work-tree") is None:
            raise NotAWorkspaceError(f"{root} has a .git entry but git cannot use it as a working tree")
        ws = cls(root, _find_mainline(root))
        ws.state_dir.mkdir(exist_ok=True)
        _ensure_excludes(root)
        return ws

    @classmethod
    def open_or_create(cls, path: str | os.PathLike[str]) -> Workspace:
        """Open the workspace at ``path``, creating the folder and its repository (branch ``main``) if needed.

        A new repository gets a ``.gitignore`` for caches and ``.ara/`` and a first commit by
        ``ara-agent <ara-agent@localhost>``; files already in the folder are left untracked for the human.
        """
        root = Path(path).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        if not (root / ".git").exists():
            logger.info("creating workspace repository in %s", root)
            run_git(root, "init", "--quiet", "--initial-branch=main")
            run_git(root, "config", "ara.mainline", "main")
            gitignore = root / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text(GITIGNORE, encoding="utf-8")
            run_git(root, "add", "--", ".gitignore")
            run_git(
                root,
                "commit",
                "--quiet",
                "-m",
                "ara: create the research workspace\n\nAra-Run-Id: none",
                env=identity_env(AGENT_IDENTITY),
            )
        elif try_git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}") is None:
            _commit_root(root)
        return cls.open(root)

    # ------------------------------------------------------------------------------------------------ state
    def mainline_commit(self) -> str:
        """The main line's current commit."""
        sha = self.branch_head(self.mainline)
        if sha is None:
            raise MainLineError(f"branch {self.mainline!r} disappeared from {self.path}; recreate it with git")
        return sha

    def branch_head(self, branch: str) -> str | None:
        """The commit ``branch`` points at, or None when the branch does not exist."""
        out = try_git(self.path, "rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}")
        return out.strip() if out else None

    def commit_exists(self, sha: str) -> bool:
        """Whether ``sha`` names a commit in the repository (e.g. a deleted branch's head before gc)."""
        return try_git(self.path, "cat-file", "-e", f"{sha}^{{commit}}") is not None

    def checkout(self) -> Checkout:
        """The human's checkout: current branch (None if detached), HEAD commit and changed tracked files."""
        branch = try_git(self.path, "symbolic-ref", "-q", "--short", "HEAD")
        head = try_git(self.path, "rev-parse", "--verify", "-q", "HEAD^{commit}")
        status = run_git(self.path, "status", "--porcelain=v1", "-z", "--untracked-files=no", strip=False)
        dirty: list[str] = []
        entries = iter(status.split("\0"))
        for entry in entries:
            if len(entry) > 3:
                dirty.append(entry[3:])
                if entry[0] in "RC":
                    next(entries, None)  # -z puts a rename's source path in its own field

        return Checkout(branch.strip() if branch else None, head.strip() if head else None, tuple(dirty))

    def changed_paths(self, base: str, head: str) -> list[str]:
        """Workspace-relative paths that differ between ``base`` and ``head``."""
        out = run_git(self.path, "diff", "--name-only", "-z", "--no-renames", base, head, strip=False)
        return [p for p in out.split("\0") if p]

    def file_at(self, commit: str, relpath: str) -> bytes | None:
        """The content of ``relpath`` at ``commit``, or None when it is not there."""
        return git_bytes(self.path, "cat-file", "blob", f"{commit}:{relpath}")

    @cached_property
    def git_dir(self) -> Path:
        """The repository's git directory (``.git``, or where a ``.git`` file points)."""
        return Path(run_git(self.path, "rev-parse", "--absolute-git-dir"))

    def iter_diff(self, base: str, head: str, *args: str, paths: Sequence[str] = ()) -> Iterator[bytes]:
        """Stream ``git diff <args> base head [-- paths]`` in chunks (``--stat`` etc. go in ``args``).

        Always as text, without textconv or external diff drivers, and blind to ``.gitattributes`` files in the
        working tree or the proposal (``stream_git_detached``): what a reviewer reads is the bytes that merge.
        ``paths`` limits the diff to those files (literal paths, never patterns).
        """
        limit = ["--", *(f":(literal){p}" for p in paths)] if paths else []
        return stream_git_detached(self.git_dir, ["diff", *REVIEW_DIFF_OPTIONS, *args, base, head, *limit])

    def numstat(self, base: str, head: str) -> bytes:
        """``git diff --numstat -z --no-renames base head`` (added, deleted, path per file), read as a review reads."""
        return b"".join(self.iter_diff(base, head, "--numstat", "-z", "--no-renames"))

    def special_entries(self, base: str, head: str) -> list[SpecialEntry]:
        """Changes between ``base`` and ``head`` that a review must not wave through as ordinary files.

        ``.gitattributes`` and ``.gitmodules`` files anywhere (added, changed or deleted: they change how git
        shows, converts and merges files, or pull in other repositories), symbolic links and submodule entries.
        """
        out = run_git(self.path, "diff", "--raw", "-z", "--no-renames", "--no-abbrev", base, head, strip=False)
        fields = out.split("\0")
        found: list[SpecialEntry] = []
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            if not meta.startswith(":"):
                continue
            old_mode, new_mode = meta[1:].split(" ")[:2]
            name = path.rsplit("/", 1)[-1].rstrip(" .").casefold()
            if name in GIT_METADATA_FILES:
                found.append(SpecialEntry(path, f"{name} file (changes how git shows, converts or merges files)"))
            elif "120000" in (old_mode, new_mode):
                found.append(SpecialEntry(path, "symbolic link"))
            elif "160000" in (old_mode, new_mode):
                found.append(SpecialEntry(path, "submodule (gitlink) entry"))
        return found

    def trailers(self, commit: str) -> dict[str, list[str]]:
        """The ``Key: value`` trailers of ``commit``'s message."""
        out = run_git(self.path, "log", "-1", "--format=%(trailers:unfold,only)", commit)
        trailers: dict[str, list[str]] = {}
        for line in out.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                trailers.setdefault(key.strip(), []).append(value.strip())
        return trailers

    # ------------------------------------------------------------------------------------------------- runs
    def new_run(self, slug_hint: str, *, run_id: str | None = None) -> RunDir:
        """Make ``runs/<run_id>/`` for a new run and record its start in ``run.json``.

        Args:
            slug_hint: Text the branch slug is made from.
            run_id: A ULID assigned earlier (a campaign fixes each entry's run id when it is queued, so a
                resumed entry continues the same run); a new ULID when omitted.

        Raises:
            ValueError: ``run_id`` is not a ULID.
            FileExistsError: the run directory already exists.
        """
        from ulid import ULID

        run_id = str(ULID()) if run_id is None else str(ULID.from_str(run_id))
        path = self.path / RUNS_DIRNAME / run_id
        path.mkdir(parents=True, exist_ok=False)
        run = RunDir(
            run_id=run_id,
            slug=slugify(slug_hint),
            path=path,
            events_path=path / "events.jsonl",
            created_at=utcnow(),
            base_commit=self.mainline_commit(),
            workspace_dirty=bool(self.checkout().dirty_paths),
        )
        (path / "run.json").write_text(run.model_dump_json(indent=2) + "\n", encoding="utf-8")
        logger.info("new run %s in %s", run_id, path)
        return run

    def run(self, run_id: str) -> RunDir:
        """The run directory of ``run_id``.

        Raises:
            RunNotFoundError: no ``runs/<run_id>/run.json`` exists.
        """
        meta = self.path / RUNS_DIRNAME / run_id / "run.json"
        if not meta.is_file():
            raise RunNotFoundError(f"no run {run_id!r} in {self.path / RUNS_DIRNAME}; runs are made by new_run()")
        return RunDir.model_validate_json(meta.read_text(encoding="utf-8"))

    # -------------------------------------------------------------------------------------------- proposals
    def list_proposals(self, status: Iterable[ProposalStatus] | None = None) -> list[Proposal]:
        """Proposals, newest first (all statuses unless ``status`` filters)."""
        return self.index.select(status)

    def get_proposal(self, proposal_id: int) -> Proposal:
        """One proposal by id (raises ``ProposalNotFoundError``)."""
        return self.index.get(proposal_id)

    def propose(
        self,
        run_id: str,
        slug: str,
        summary: str,
        files_under_run_dir: Sequence[str | os.PathLike[str]],
        report_path: str | os.PathLike[str] | None,
        results: Mapping[str, Any],
        *,
        step: str = "propose",
        parent_id: int | None = None,
    ) -> Proposal:
        """Propose a run's files as a change: one commit on a new branch ``ara/<run_id>/<slug>``.

        Idempotent per ``(run_id, step)``: calling it again (e.g. a resumed run re-entering the node) returns
        the proposal already made and creates no commit. The commit is built in a separate worktree under
        ``.ara/worktrees`` from the main line's tip; the human's checkout is not touched.

        Args:
            run_id: the run whose files are proposed.
            slug: short name for the branch (made branch-safe).
            summary: what changed and why; the first line is the commit subject.
            files_under_run_dir: files or folders, relative to the run directory or absolute. Paths elsewhere in
                the workspace are allowed but are flagged in review and need ``--allow-outside`` to merge.
            report_path: the report (relative to the run directory or absolute); added to the files if missing.
            results: key numbers, or an ``ara.results/1`` document (metrics are extracted).
            step: the research-loop step, part of the idempotency key.
            parent_id: the proposal this revises; it becomes ``superseded`` if it was still open.

        Raises:
            RunNotFoundError: the run directory does not exist.
            OutsideWorkspaceError: a file is outside the workspace, a symlink, inside ``.git``/``.ara``, or missing.
            VcsError: the files are identical to the main line (nothing to propose).
        """
        run_path = self.path / RUNS_DIRNAME / run_id
        if not run_path.is_dir():
            raise RunNotFoundError(f"no run directory {run_path}; create runs with Workspace.new_run()")
        with self.locked():
            existing = self.index.find(run_id, step)
            if existing is not None:
                logger.info("run %s step %s was already proposed as %s; nothing new", run_id, step, existing.id)
                return existing
            rels = self._collect(run_path, files_under_run_dir)
            report_rel = None
            if report_path is not None:
                report_rel = self._collect(run_path, [report_path])[0]
                if report_rel not in rels:
                    rels.append(report_rel)
            if not rels:
                raise OutsideWorkspaceError(f"propose() for run {run_id} got no files; pass the run's outputs")
            base_slug = slugify(slug)
            if parent_id is not None:
                base_slug = f"{base_slug}-r{self._depth(parent_id) + 2}"
            branch = self._free_branch(f"ara/{run_id}/{base_slug}")
            reservation = self.index.reserve(run_id, step, branch, summary, parent_id)
            head = self.branch_head(reservation.branch)
            base = self.mainline_commit()
            if head is not None and self.trailers(head).get("Ara-Proposal-Id") == [str(reservation.id)]:
                base = run_git(self.path, "rev-parse", f"{head}^")
                logger.info("proposal %s: branch %s already built, recording it", reservation.id, branch)
            else:
                head = self._build(
                    reservation.id,
                    reservation.branch,
                    run_id,
                    step,
                    summary,
                    parent_id,
                    base,
                    rels,
                    key_numbers(results),
                )
            proposal = self.index.complete(
                reservation.id,
                base_commit=base,
                head_commit=head,
                summary=summary,
                parent_id=parent_id,
                report_path=report_rel,
                results=key_numbers(results),
            )
            if parent_id is not None:
                self.index.transition(parent_id, ["open"], "superseded")
            logger.info("proposal %s on %s (%s)", proposal.id, proposal.branch, head[:10])
            return proposal

    def run_files(self, run_id: str) -> list[str]:
        """Workspace-relative paths of the files ``propose`` takes from the whole run directory (caches skipped).

        Raises:
            RunNotFoundError: the run directory does not exist.
            OutsideWorkspaceError: a symlink in the run directory.
        """
        run_path = self.path / RUNS_DIRNAME / run_id
        if not run_path.is_dir():
            raise RunNotFoundError(f"no run directory {run_path}; create runs with Workspace.new_run()")
        return self._collect(run_path, [run_path])

    # ----------------------------------------------------------------------------------------------- helpers
    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the workspace lock (proposals and review decisions never interleave across processes).

        Raises:
            VcsError: another process held the lock for longer than ``LOCK_TIMEOUT_S``.
        """
        from filelock import Timeout

        try:
            self.lock.acquire()
        except Timeout as err:
            raise VcsError(
                f"another ara process has held {self.lock.lock_file} for {LOCK_TIMEOUT_S:.0f} s; wait for it "
                "to finish (the lock is released automatically when that process exits)"
            ) from err
        try:
            yield
        finally:
            self.lock.release()

    def _depth(self, proposal_id: int) -> int:
        depth, current = 0, self.index.get(proposal_id)
        while current.parent_id is not None:
            depth, current = depth + 1, self.index.get(current.parent_id)
        return depth

    def _free_branch(self, wanted: str) -> str:
        candidate, n = wanted, 1
        while self.branch_head(candidate) is not None or self.index.branch_taken(candidate):
            n += 1
            candidate = f"{wanted}-{n}"
        if try_git(self.path, "check-ref-format", "--branch", candidate) is None:
            raise VcsError(f"{candidate!r} is not a valid branch name; use a run id and slug of [a-z0-9-]")
        return candidate

    def _collect(self, run_path: Path, items: Iterable[str | os.PathLike[str]]) -> list[str]:
        root = self.path
        out: list[str] = []
        for item in items:
            given = Path(item)
            candidate = given if given.is_absolute() else run_path / given
            normal = Path(os.path.normpath(candidate))
            try:
                rel = normal.relative_to(root)
            except ValueError:
                raise OutsideWorkspaceError(
                    f"{item} resolves to {normal}, outside the workspace {root}; only workspace files can be proposed"
                ) from None
            if rel.parts and rel.parts[0] in (".git", STATE_DIRNAME):
                raise OutsideWorkspaceError(f"{item} is inside {rel.parts[0]}/, which is never proposed")
            for parent in (normal, *normal.parents):
                if parent == root:
                    break
                if parent.is_symlink():
                    raise OutsideWorkspaceError(
                        f"{item}: {parent} is a symlink; proposals carry regular files only (copy the target)"
                    )
            if normal.is_dir():
                out.extend(self._walk(normal))
            elif normal.is_file():
                out.append(rel.as_posix())
            else:
                raise OutsideWorkspaceError(f"{item} does not exist ({normal}); write it before proposing")
        return sorted(set(out), key=out.index)

    def _walk(self, folder: Path) -> list[str]:
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                full = Path(dirpath) / name
                if full.is_symlink():
                    raise OutsideWorkspaceError(f"{full} is a symlink; proposals carry regular files only")
                if not name.endswith(".pyc"):
                    found.append(full.relative_to(self.path).as_posix())
        return found

    def _build(
        self,
        proposal_id: int,
        branch: str,
        run_id: str,
        step: str,
        summary: str,
        parent_id: int | None,
        base: str,
        rels: list[str],
        numbers: Mapping[str, Any],
    ) -> str:
        worktree = self.state_dir / "worktrees" / f"p{proposal_id}"
        if worktree.exists():
            run_git(self.path, "worktree", "remove", "--force", str(worktree), check=False)
            shutil.rmtree(worktree, ignore_errors=True)
        run_git(self.path, "worktree", "prune")
        run_git(self.path, "worktree", "add", "--quiet", "--detach", str(worktree), base)
        try:
            for rel in rels:
                target = worktree / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.path / rel, target)
            for start in range(0, len(rels), 500):
                run_git(worktree, "add", "-f", "--", *rels[start : start + 500])
            if not run_git(worktree, "diff", "--cached", "--name-only", base):
                raise VcsError(
                    f"nothing to propose for run {run_id}: the {len(rels)} file(s) are identical to "
                    f"{self.mainline} at {base[:10]}"
                )
            message = _message(summary, run_id, proposal_id, step, parent_id, numbers)
            message_file = self.state_dir / "worktrees" / f"p{proposal_id}.msg"
            message_file.write_text(message, encoding="utf-8")
            run_git(worktree, "commit", "--quiet", "-F", str(message_file), env=identity_env(AGENT_IDENTITY))
            message_file.unlink()
            head = run_git(worktree, "rev-parse", "HEAD")
            run_git(self.path, "branch", branch, head)
        finally:
            run_git(self.path, "worktree", "remove", "--force", str(worktree), check=False)
        return head


def _message(
    summary: str, run_id: str, proposal_id: int, step: str, parent_id: int | None, numbers: Mapping[str, Any]
) -> str:
    lines = summary.strip().splitlines() or [f"ara: proposal from run {run_id}"]
    subject, body = lines[0].strip()[:100], "\n".join(lines[1:]).strip()
    trailers = [f"Ara-Run-Id: {run_id}", f"Ara-Proposal-Id: {proposal_id}", f"Ara-Step: {step}"]
    if parent_id is not None:
        trailers.append(f"Ara-Revises: {parent_id}")
    if numbers:
        trailers.append(f"Ara-Key-Numbers: {json.dumps(dict(numbers), sort_keys=True)}")
    parts = [subject, body, "\n".join(trailers)] if body else [subject, "\n".join(trailers)]
    return "\n\n".join(parts) + "\n"


def _find_mainline(root: Path) -> str:
    configured = try_git(root, "config", "--get", "ara.mainline")
    candidates = [configured.strip()] if configured else []
    candidates += ["main", "master"]
    for name in candidates:
        if try_git(root, "rev-parse", "--verify", "-q", f"refs/heads/{name}^{{commit}}") is not None:
            return name
    current = try_git(root, "symbolic-ref", "-q", "--short", "HEAD")
    if current and try_git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}") is not None:
        return current.strip()
    raise MainLineError(
        f"{root} has no main-line branch: HEAD is detached or unborn and neither 'main' nor 'master' exists. "
        f"Create one ('git -C {root} switch -c main') or name it with 'git -C {root} config ara.mainline <branch>'."
    )


def _ensure_excludes(root: Path) -> None:
    dotgit = root / ".git"
    common = dotgit if dotgit.is_dir() else root / run_git(root, "rev-parse", "--git-common-dir")
    exclude = (common / "info" / "exclude").resolve()
    text = exclude.read_text(encoding="utf-8") if exclude.is_file() else ""
    missing = [line for line in EXCLUDES if line not in text.splitlines()]
    if missing:
        exclude.parent.mkdir(parents=True, exist_ok=True)
        prefix = "" if not text or text.endswith("\n") else "\n"
        block = "# ara: agent run folders and ara state (proposals add run files with git add -f)\n"
        exclude.write_text(text + prefix + block + "\n".join(missing) + "\n", encoding="utf-8")


def _commit_root(root: Path) -> None:
    """Give an existing repository with no commits an empty first commit on its current branch."""
    empty_tree = run_git(root, "hash-object", "-t", "tree", "/dev/null")
    commit = run_git(
        root,
        "commit-tree",
        empty_tree,
        "-m",
        "ara: first commit of the research workspace\n\nAra-Run-Id: none",
        env=identity_env(AGENT_IDENTITY),
    )
    branch = try_git(root, "symbolic-ref", "-q", "HEAD")
    if branch is None:
        raise MainLineError(f"{root} has no commits and a detached HEAD; run 'git -C {root} switch -c main'")
    run_git(root, "update-ref", branch.strip(), commit, "")
