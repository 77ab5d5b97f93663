"""Content hashes of arrays and text lists (shared by dataset provenance and the w2s caches)."""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt


def hash_array(array: npt.ArrayLike) -> str:
    """sha256 of an array's dtype, shape and bytes (C order)."""
    arr = np.ascontiguousarray(np.asarray(array))
    digest = hashlib.sha256(f"{arr.dtype.str}|{arr.shape}|".encode())
    digest.update(arr.tobytes())
    return digest.hexdigest()


def hash_texts(texts: tuple[str, ...] | list[str]) -> str:
    """sha256 of texts joined unambiguously (length-prefixed)."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()
