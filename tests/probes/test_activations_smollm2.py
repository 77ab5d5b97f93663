"""One tiny real SmolLM2 forward pass: shapes, layer semantics, last-token log-prob, and cache reuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tools.errors import UserInputError
from tools.probes import SmolLM2Activations


@pytest.mark.slow
def test_tiny_real_extraction_is_cached(tmp_path: Path) -> None:
    acts = SmolLM2Activations(tmp_path / "cache", threads=1)
    texts = ["A warm, funny film.", "Dull and lifeless."]
    out = acts.extract(texts, [0, 2], pooling="last", last_token_logprob=True)
    assert sorted(out) == [-1, 0, 2]
    assert out[2].shape == (2, 576)
    assert out[-1].shape == (2, 1)
    assert np.all(out[-1] < 0)
    assert not np.allclose(out[0], out[2])
    again = SmolLM2Activations(tmp_path / "cache", threads=1)
    cached = again.extract(texts, [0, 2], pooling="last", last_token_logprob=True)
    assert again._model is None  # served from the cache: the model was never loaded
    assert again.cache.hits == 1
    np.testing.assert_array_equal(cached[2], out[2])


def test_invalid_layers_and_pooling(tmp_path: Path) -> None:
    acts = SmolLM2Activations(tmp_path)
    with pytest.raises(UserInputError, match=r"SmolLM2-135M has layers 0..30"):
        acts.extract(["x"], [31])
    with pytest.raises(UserInputError, match="unknown pooling 'max'"):
        acts.extract(["x"], [1], pooling="max")  # type: ignore[arg-type]
