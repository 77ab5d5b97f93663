"""Content-addressed on-disk cache for arrays (features, weak labels, trained heads) with an integrity check.

Covers: keys derived from the content that determines a value (``content_key``), ``.npz`` entries written
atomically beside a ``.json`` sidecar holding the entry's sha256, and verification on every read: an entry whose
bytes no longer match its recorded hash (truncated, edited, half-written) is logged, deleted and recomputed, never
used. Does not cover eviction or sharing between machines; delete the directory to clear it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tools.datasets._hash import hash_array, hash_texts

log = logging.getLogger(__name__)

Arrays = dict[str, npt.NDArray[Any]]
__all__ = ["ArrayCache", "content_key", "hash_array", "hash_texts"]


def content_key(kind: str, **parts: Any) -> str:
    """A stable key from a kind and JSON-able parts (arrays must be hashed first with ``hash_array``)."""
    payload = json.dumps({"kind": kind, **parts}, sort_keys=True, default=str)
    return f"{kind}-{hashlib.sha256(payload.encode()).hexdigest()[:40]}"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ArrayCache:
    """Arrays keyed by content hash under ``root``; every read is verified against the recorded sha256.

    Args:
        root: Cache directory (created on first write). ``None`` disables caching (every call computes).

    Attributes:
        hits, misses, corrupt: Counters since construction (a corrupt entry also counts as a miss).

    Example:
        >>> import tempfile, numpy as np
        >>> cache = ArrayCache(tempfile.mkdtemp())
        >>> key = content_key("demo", n=3)
        >>> cache.get_or_compute(key, lambda: {"x": np.arange(3)})["x"].tolist()
        [0, 1, 2]
    """

    def __init__(self, root: Path | str | None) -> None:
        self.root = Path(root) if root is not None else None
        self.hits = 0
        self.misses = 0
        self.corrupt = 0

    def _paths(self, key: str) -> tuple[Path, Path]:
        assert self.root is not None
        sub = self.root / key.split("-", 1)[0]
        return sub / f"{key}.npz", sub / f"{key}.json"

    def load(self, key: str) -> Arrays | None:
        """The arrays stored under ``key``, or ``None`` when absent or corrupt (corrupt entries are deleted)."""
        if self.root is None:
            return None
        data_path, meta_path = self._paths(key)
        if not data_path.exists() or not meta_path.exists():
            return None
        try:
            expected = json.loads(meta_path.read_text(encoding="utf-8"))["sha256"]
        except (json.JSONDecodeError, KeyError, TypeError):
            expected = None
        actual = _file_sha256(data_path)
        if expected != actual:
            self.corrupt += 1
            log.warning(
                "cache entry %s is corrupt (sha256 %s, recorded %s); deleting it and recomputing",
                data_path,
                actual[:12],
                str(expected)[:12],
            )
            data_path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            return None
        try:
            with np.load(data_path, allow_pickle=False) as npz:
                return {name: npz[name] for name in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile) as err:
            self.corrupt += 1
            log.warning("cache entry %s matches its hash but cannot be read (%s); recomputing", data_path, err)
            data_path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            return None

    def save(self, key: str, arrays: Mapping[str, npt.ArrayLike], meta: Mapping[str, Any] | None = None) -> None:
        """Store ``arrays`` under ``key`` atomically (temp file + rename), recording their sha256."""
        if self.root is None:
            return
        data_path, meta_path = self._paths(key)
        try:
            self._write(data_path, meta_path, key, arrays, meta)
        except OSError as err:
            log.warning(
                "cannot write cache entry %s (%s); continuing without caching it (pass a writable cache_dir)",
                data_path,
                err,
            )

    def _write(
        self,
        data_path: Path,
        meta_path: Path,
        key: str,
        arrays: Mapping[str, npt.ArrayLike],
        meta: Mapping[str, Any] | None,
    ) -> None:
        data_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=data_path.parent, suffix=".npz.tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        with tmp.open("wb") as handle:
            np.savez(handle, **{name: np.asarray(value) for name, value in arrays.items()})  # type: ignore[arg-type]
        sha = _file_sha256(tmp)
        os.replace(tmp, data_path)
        meta_path.write_text(json.dumps({"sha256": sha, "key": key, **(meta or {})}, default=str), encoding="utf-8")

    def get_or_compute(
        self,
        key: str,
        compute: Callable[[], Mapping[str, npt.ArrayLike]],
        meta: Mapping[str, Any] | None = None,
    ) -> Arrays:
        """Return the verified cached arrays for ``key``, computing and storing them on a miss."""
        cached = self.load(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        arrays = {name: np.asarray(value) for name, value in compute().items()}
        self.save(key, arrays, meta)
        return arrays
