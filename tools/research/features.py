"""Feature sets for weak supervisors and strong students, computed once per example pool and cached.

Covers: ``minilm`` (``tools.embeddings.MiniLMEmbedder``, 384-d), ``smollm2_l<k>`` (mean-pooled layer-k hidden
states of SmolLM2-135M-Instruct, 576-d) and ``qwen15_l<k>`` (Qwen2.5-Coder-1.5B-Instruct, 1536-d; about 20x slower
to extract on CPU, see docs/benchmarks.md) via ``tools.research.activations``, ``tab_raw`` (a tabular dataset's
columns) and ``tab_coarse`` (standardised columns averaged in groups of four: a deliberately lossy view for weak
supervisors), and the split-dependent ``bow`` (binary bag of words fitted on the training split only).
Frozen features are keyed by the pool's content hash, so every seed and loss of a sweep reuses them.
Does not cover standardisation for training (the heads do that on their training split).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tools.datasets import Dataset
from tools.errors import UserInputError
from tools.research.cache import ArrayCache, content_key, hash_texts

log = logging.getLogger(__name__)

W2S_SMOLLM2_LAYERS = (4, 8, 12)
"""Layers extracted together for w2s (one pass stops at the deepest); other layers are extracted alone."""
LM_FEATURES = {"smollm2": "smollm2-135m-instruct", "qwen15": "qwen2.5-coder-1.5b-instruct"}
"""Feature-name prefix (``<prefix>_l<k>``) -> model id in ``tools.research.modelfiles.MODELS``."""

Matrix = npt.NDArray[np.float32]


class FeatureStore:
    """Compute or load frozen features for a pool of examples.

    Args:
        cache_dir: Content-hash cache root (``None`` disables caching).
        threads: CPU threads for the embedding models.

    Example:
        >>> from tools.datasets import load_dataset
        >>> data = load_dataset("sk_digits_parity")
        >>> FeatureStore(None).features(data, "tab_coarse", np.arange(10)).shape
        (10, 16)
    """

    def __init__(self, cache_dir: Path | None, *, threads: int = 2) -> None:
        self.cache = ArrayCache(cache_dir)
        self.cache_dir = cache_dir
        self.threads = threads
        self._minilm: Any = None
        self._lms: dict[str, Any] = {}

    def features(self, data: Dataset, name: str, pool: npt.NDArray[np.int64]) -> Matrix:
        """Features ``name`` for ``data``'s examples at indices ``pool`` (rows in pool order), float32.

        Raises:
            UserInputError: The features are NaN/inf somewhere, or ``bow`` was asked for (it is fitted per split).
        """
        if name == "bow":
            raise UserInputError("'bow' features are fitted on a training split; use fit_bow(train, other)")
        if name in ("tab_raw", "tab_coarse"):
            if data.features is None:
                raise UserInputError(f"{name} needs a tabular dataset; {data.name} is {data.kind}")
            check_finite(data.features, f"features of dataset {data.name}")
            matrix = np.asarray(data.features[pool], dtype=np.float32)
            if name == "tab_coarse":
                matrix = _coarse(matrix, np.asarray(data.features, dtype=np.float32))
        else:
            texts = [data.texts[i] for i in pool]
            matrix = self._text_features(name, texts)
        check_finite(matrix, f"{name} features of {data.name}")
        return matrix

    def _text_features(self, name: str, texts: list[str]) -> Matrix:
        if name == "minilm":
            key = content_key("feat", model="minilm", texts=hash_texts(texts))
            return self.cache.get_or_compute(key, lambda: {"x": self._embedder().embed(texts)})["x"]
        prefix, _, layer_text = name.rpartition("_l")
        if prefix not in LM_FEATURES or not layer_text.isdigit():
            raise UserInputError(f"unknown feature set {name!r}; use minilm or <{'|'.join(LM_FEATURES)}>_l<k>")
        layer = int(layer_text)
        layers = W2S_SMOLLM2_LAYERS if layer in W2S_SMOLLM2_LAYERS else (layer,)
        matrix: Matrix = self._lm(LM_FEATURES[prefix]).extract(texts, layers, pooling="mean")[layer]
        return matrix

    def caches(self) -> list[ArrayCache]:
        """This store's cache and each loaded language model's activation cache (for hit/miss counts)."""
        return [self.cache, *(lm.cache for lm in self._lms.values())]

    def _embedder(self) -> Any:
        if self._minilm is None:
            from tools.embeddings import MiniLMEmbedder

            self._minilm = MiniLMEmbedder(threads=self.threads)
        return self._minilm

    def _lm(self, model: str) -> Any:
        if model not in self._lms:
            from tools.research.activations import CausalLMActivations

            self._lms[model] = CausalLMActivations(self.cache_dir, model=model, threads=self.threads)
        return self._lms[model]


def _coarse(rows: Matrix, reference: Matrix) -> Matrix:
    mean, std = reference.mean(axis=0), reference.std(axis=0) + 1e-6
    z = (rows - mean) / std
    groups = [z[:, i : i + 4].mean(axis=1) for i in range(0, z.shape[1], 4)]
    return np.stack(groups, axis=1).astype(np.float32)


def check_finite(matrix: npt.NDArray[Any], what: str) -> None:
    """Raise ``UserInputError`` naming ``what`` and the first bad row if ``matrix`` holds NaN or inf."""
    bad = ~np.isfinite(matrix)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise UserInputError(
            f"{what} contain {int(bad.sum())} NaN/inf values (first in row {row}); "
            "clean or impute the inputs before training"
        )


def fit_bow(train_texts: list[str], *others: list[str]) -> list[Any]:
    """Binary bag-of-words (unigrams+bigrams, min_df 2, at most 20,000 terms) fitted on ``train_texts`` only.

    Returns the sparse matrices for ``train_texts`` and each of ``others`` (same vocabulary).
    """
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(binary=True, min_df=2, max_features=20000, ngram_range=(1, 2))
    out = [vectorizer.fit_transform(train_texts)]
    out += [vectorizer.transform(texts) for texts in others]
    return out
