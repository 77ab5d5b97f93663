"""One tiny real SmolLM2 forward pass (shapes, layer semantics, last-token log-prob, cache reuse) and the
model-generic extractor's layouts and cache keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tools.errors import UserInputError
from tools.probes import SmolLM2Activations
from tools.research.activations import CausalLMActivations, layout


@pytest.mark.slow
def test_tiny_real_extraction_is_cached(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    acts = SmolLM2Activations(tmp_path / "cache", threads=1)
    texts = ["A warm, funny film.", "Dull and lifeless."]
    out = acts.extract(texts, [0, 2], pooling="last", last_token_logprob=True)
    # loading draws no progress bar over `ara run`'s lines or the TUI (host steps load in the app's process)
    assert "de-quantizing" not in capfd.readouterr().err
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
    with pytest.raises(UserInputError, match=r"SmolLM2-135M-Instruct \(Q4_1\) has layers 0..30"):
        acts.extract(["x"], [31])
    with pytest.raises(UserInputError, match="unknown pooling 'max'"):
        acts.extract(["x"], [1], pooling="max")  # type: ignore[arg-type]


def test_layouts_come_from_the_gguf_metadata() -> None:
    assert layout("smollm2-135m-instruct") == (30, 576)
    assert layout("qwen2.5-coder-1.5b-instruct") == (28, 1536)
    qwen = CausalLMActivations(None, model="qwen2.5-coder-1.5b-instruct")
    assert (qwen.n_layers, qwen.hidden) == (28, 1536)
    with pytest.raises(UserInputError, match=r"Qwen2.5-Coder-1.5B-Instruct \(Q4_K_M\) has layers 0..28"):
        qwen.extract(["x"], [29])


def test_cache_keys_are_per_model_and_smollm2_keys_are_unchanged(tmp_path: Path) -> None:
    smol = SmolLM2Activations(tmp_path)
    qwen = CausalLMActivations(tmp_path, model="qwen2.5-coder-1.5b-instruct")
    assert (
        smol.model_id == "smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf/64"
    )  # entries written before stay valid
    assert qwen.model_id == "qwen2.5-coder-1.5b-instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf/64"
    with pytest.raises(UserInputError, match="unknown model 'gpt2'"):
        CausalLMActivations(tmp_path, model="gpt2")
