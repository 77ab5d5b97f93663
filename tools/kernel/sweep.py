"""Sweeping what killed kernel pools left behind: runtime directories, staging folders and cgroups of dead owners.

A pool whose process was killed (``kill -9``, an OOM kill of ara itself) never runs its cleanup: its kernels die
with it (``--die-with-parent``), but their runtime directories under the temp dir, the pool's staging folder and
the kernels' memory + pids cgroups stay. ``sweep_orphans`` (run by ``KernelPool.start``) removes those whose
owner, named in the entry itself (``tools.kernel.owners``), is gone. Entries of a live owner, and of an owner in
another pid namespace, are never touched. Entries from before owner tags existed are removed only when nothing
can still be using them: a directory no running process names on its command line and untouched for
``UNTAGGED_MIN_AGE_S``, a cgroup with no processes left and as old. Does not touch run directories.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tools.kernel import owners
from tools.kernel.sandbox import Cgroup, cgroup_parents

logger = logging.getLogger(__name__)

UNTAGGED_MIN_AGE_S = 600.0
"""How old an entry without an owner tag must be before it may be swept."""


@dataclass
class SweepReport:
    """What one sweep removed (and what it left, with why)."""

    removed: list[Path] = field(default_factory=list)
    kept: list[tuple[Path, str]] = field(default_factory=list)


def _command_lines() -> str:
    """Every readable ``/proc/*/cmdline`` that mentions ``ara-kernel-``, joined (to see what is still in use)."""
    found: list[str] = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                text = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if "ara-kernel-" in text:
            found.append(text)
    return "\n".join(found)


def _old_enough(path: Path, now: float) -> bool:
    try:
        return now - path.lstat().st_mtime >= UNTAGGED_MIN_AGE_S
    except OSError:
        return False


def _remove_dir(path: Path, report: SweepReport) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        report.kept.append((path, "could not be removed"))
    else:
        report.removed.append(path)


def _sweep_dirs(
    parent: Path, tagged: Iterable[re.Pattern[str]], untagged: re.Pattern[str], report: SweepReport
) -> None:
    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return
    commands: str | None = None
    now = time.time()
    for path in entries:
        if path.is_symlink() or not path.is_dir():
            continue
        match = next((m for m in (p.match(path.name) for p in tagged) if m), None)
        if match is not None:
            state = owners.owner_state(match)
            if state == "gone":
                _remove_dir(path, report)
            else:
                report.kept.append((path, f"owner {state}"))
        elif untagged.match(path.name):
            if commands is None:
                commands = _command_lines()
            if str(path) in commands:
                report.kept.append((path, "in use by a running process"))
            elif not _old_enough(path, now):
                report.kept.append((path, "too recent to be sure it is unused"))
            else:
                _remove_dir(path, report)


def _sweep_cgroups(report: SweepReport) -> None:
    parents = cgroup_parents()
    if not parents:
        return
    now = time.time()
    names: set[str] = set()
    for parent in parents.values():
        try:
            names.update(p.name for p in parent.iterdir() if p.name.startswith("ara-kernel-"))
        except OSError:
            continue
    version = 2 if "unified" in parents else 1
    for name in sorted(names):
        dirs = {c: parent / name for c, parent in parents.items() if (parent / name).is_dir()}
        if not dirs:
            continue
        group = Cgroup(version, dirs)
        first = next(iter(dirs.values()))
        match = owners.CGROUP.match(name)
        if match is not None:
            state = owners.owner_state(match)
            if state != "gone":
                report.kept.append((first, f"owner {state}"))
                continue
            group.destroy()  # the owner is dead: whatever still runs in it is a leftover kernel
        elif owners.UNTAGGED_CGROUP.match(name):
            if group.pids() or not _old_enough(first, now):
                report.kept.append((first, "has processes or is too recent"))
                continue
            group.destroy(wait_s=0.0)
        else:
            continue
        if any(d.exists() for d in dirs.values()):
            report.kept.append((first, "could not be removed"))
        else:
            report.removed.extend(dirs.values())


def sweep_orphans(staging_dir: Path | None = None) -> SweepReport:
    """Remove the leftovers of kernel pools whose process is gone (see the module docstring).

    Args:
        staging_dir: the pool's ``staging_dir`` setting, where its staging folders live besides the temp dir.
    """
    report = SweepReport()
    tmp = Path(tempfile.gettempdir())
    _sweep_dirs(tmp, [owners.RUNTIME_DIR, owners.STAGING_DIR], owners.UNTAGGED_RUNTIME_DIR, report)
    _sweep_dirs(tmp, [], owners.UNTAGGED_STAGING_DIR, report)
    if staging_dir is not None:
        _sweep_dirs(staging_dir, [owners.STAGING_DIR], owners.UNTAGGED_STAGING_DIR, report)
    _sweep_cgroups(report)
    if report.removed:
        logger.info("swept %d leftover(s) of killed kernels: %s", len(report.removed), report.removed)
    return report
