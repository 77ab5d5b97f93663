"""Owner tags in the names of what a kernel pool leaves on the host, so a later pool can tell leftovers from live ones.

Covers ``owner_tag`` (``<pid namespace>.<pid>.<start time>`` of this process: the start time, in clock ticks from
``/proc/<pid>/stat``, keeps a reused pid from passing for a dead owner), ``owner_state`` (alive, gone, or unknown
for a tag from another pid namespace) and the name patterns of runtime directories, pool staging folders and
cgroups, tagged and from before tags existed. Does not remove anything (``tools.kernel.sweep`` does).
"""

from __future__ import annotations

import os
import re
from typing import Literal

OwnerState = Literal["alive", "gone", "unknown"]

_TAG = r"(?P<ns>\d+)\.(?P<pid>\d+)\.(?P<start>\d+)"
RUNTIME_DIR = re.compile(rf"^ara-kernel-[0-9a-f]{{12}}-{_TAG}-[A-Za-z0-9_]+$")
"""``tempfile.mkdtemp(prefix=f"ara-kernel-{kid}-{tag}-")``: one kernel's runtime directory."""
STAGING_DIR = re.compile(rf"^\.?ara-kernel-pool-(?:[0-9a-f]{{8}}-)?{_TAG}(?:-[A-Za-z0-9_]+)?$")
"""A pool's staging folder: ``ara-kernel-pool-{tag}-XXXX`` in the temp dir, ``.ara-kernel-pool-{hex}-{tag}`` beside runs."""
CGROUP = re.compile(rf"^ara-kernel-[0-9a-f]{{12}}-{_TAG}$")
"""One kernel's memory + pids cgroup."""
UNTAGGED_RUNTIME_DIR = re.compile(r"^ara-kernel-[0-9a-f]{12}-[A-Za-z0-9_]{8}$")
UNTAGGED_STAGING_DIR = re.compile(r"^(?:ara-kernel-pool-[A-Za-z0-9_]{8}|\.ara-kernel-pool-[0-9a-f]{8})$")
UNTAGGED_CGROUP = re.compile(r"^ara-kernel-[0-9a-f]{12}$")


def _pid_namespace() -> int:
    return os.stat("/proc/self/ns/pid").st_ino


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (field 22 of ``/proc/<pid>/stat``); None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[19])


def owner_tag() -> str:
    """This process's tag, for the names of the directories and cgroups it creates."""
    pid = os.getpid()
    return f"{_pid_namespace()}.{pid}.{start_ticks(pid)}"


def owner_state(match: re.Match[str]) -> OwnerState:
    """Whether the process named by a tagged name's match still runs."""
    if int(match["ns"]) != _pid_namespace():
        return "unknown"  # another pid namespace: its pids mean nothing here
    return "alive" if start_ticks(int(match["pid"])) == int(match["start"]) else "gone"
