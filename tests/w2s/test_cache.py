"""ArrayCache: round trip, counters, and corrupt entries detected by hash, recomputed and logged."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from tools.research.cache import ArrayCache, content_key, hash_array, hash_texts


def test_round_trip_counts_hits_and_misses(tmp_path: Path) -> None:
    cache = ArrayCache(tmp_path)
    calls: list[int] = []

    def compute() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"x": np.arange(5, dtype=np.float32), "y": np.ones((2, 2))}

    key = content_key("feat", texts="abc", model="m")
    first = cache.get_or_compute(key, compute)
    second = cache.get_or_compute(key, compute)
    assert len(calls) == 1
    assert (cache.hits, cache.misses, cache.corrupt) == (1, 1, 0)
    np.testing.assert_array_equal(first["x"], second["x"])
    assert second["y"].shape == (2, 2)


def test_corrupt_entry_is_detected_recomputed_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = ArrayCache(tmp_path)
    key = content_key("head", seed=1)
    cache.save(key, {"w": np.arange(100, dtype=np.float64)})
    [entry] = list(tmp_path.rglob("*.npz"))
    raw = bytearray(entry.read_bytes())
    raw[-40] ^= 0xFF
    entry.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="tools.research.cache"):
        value = cache.get_or_compute(key, lambda: {"w": np.full(3, 7.0)})
    assert value["w"].tolist() == [7.0, 7.0, 7.0]
    assert cache.corrupt == 1
    assert cache.misses == 1
    assert any("is corrupt" in record.getMessage() and entry.name in record.getMessage() for record in caplog.records)
    fresh = ArrayCache(tmp_path)
    assert fresh.load(key) is not None
    assert fresh.load(key)["w"].tolist() == [7.0, 7.0, 7.0]  # type: ignore[index]


def test_missing_sidecar_or_truncated_file_is_a_miss(tmp_path: Path) -> None:
    cache = ArrayCache(tmp_path)
    key = content_key("weak", a=1)
    cache.save(key, {"b": np.zeros(4)})
    [entry] = list(tmp_path.rglob("*.npz"))
    entry.write_bytes(entry.read_bytes()[:10])
    assert cache.load(key) is None
    assert cache.corrupt == 1
    assert not entry.exists()


def test_disabled_cache_always_computes() -> None:
    cache = ArrayCache(None)
    calls: list[int] = []
    for _ in range(2):
        cache.get_or_compute("feat-x", lambda: calls.append(1) or {"x": np.zeros(1)})  # type: ignore[func-returns-value]
    assert len(calls) == 2


def test_keys_depend_on_content() -> None:
    assert hash_array(np.arange(3)) != hash_array(np.arange(3).astype(np.float32))
    assert hash_texts(["ab", "c"]) != hash_texts(["a", "bc"])
    assert content_key("k", a=1, b=2) == content_key("k", b=2, a=1)
    assert content_key("k", a=1) != content_key("k", a=2)


def test_read_only_cache_dir_warns_and_still_computes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = ArrayCache(blocker / "cache")  # a path under a regular file can never be created
    with caplog.at_level(logging.WARNING, logger="tools.research.cache"):
        value = cache.get_or_compute("feat-abc", lambda: {"x": np.arange(2)})
    assert value["x"].tolist() == [0, 1]
    assert any("continuing without caching" in r.getMessage() for r in caplog.records)
