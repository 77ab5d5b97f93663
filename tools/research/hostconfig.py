"""``host_config``: the host, never the model, chooses every path a research config reads or writes.

Covers replacing a config's ``cache_dir`` and ``data_root`` with host-chosen values before a host step runs it
(``tools.w2s`` and ``tools.probes`` configs share these fields). Does not cover the steps themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from tools.datasets import BIGBENCH
from tools.datasets.bigbench import default_source

C = TypeVar("C", bound=BaseModel)


def host_config(config: C, *, cache_dir: Path | None, data_root: Path | None = None) -> C:
    """``config`` with host-chosen paths: the model never picks a host path to read or write.

    Works for any config with ``dataset``, ``data_root`` and ``cache_dir`` fields (``tools.w2s.W2SConfig``,
    ``tools.probes.ProbeConfig``): ``cache_dir`` replaces the config's cache; BIG-bench datasets read
    ``data_root``, else the configured default source (``tools.datasets.bigbench.default_source``).
    """
    root = None
    if getattr(config, "dataset", None) in BIGBENCH:
        root = data_root if data_root is not None else default_source()
    return config.model_copy(update={"cache_dir": cache_dir, "data_root": root})
