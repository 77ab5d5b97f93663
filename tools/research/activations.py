"""Per-layer hidden states of any local causal LM in ``tools.research.modelfiles.MODELS``, read from its GGUF.

Covers: the model's layout (decoder blocks and hidden width) read from the GGUF's metadata (``<arch>.block_count``,
``<arch>.embedding_length``) without loading it; building the model with transformers from the verified GGUF
(dequantised to float32; transformers' own ``from_pretrained(gguf_file=...)`` needs ``accelerate``, so the config
comes from ``AutoConfig`` and the weights from ``load_gguf_checkpoint``); pooling each requested layer's output (mean
over tokens or the last token); optionally the log-probability of each text's last token (for zero-shot scoring of
contrast pairs); and caching every result by content hash, keyed by model id, GGUF file and token limit (so one
model's entries are never read for another's, and SmolLM2 entries written before other models existed stay valid).
The forward pass stops after the deepest requested layer, so shallow layers cost less. Does not cover generation.

Layer ``k`` (1..n_layers) is the output of decoder block ``k`` (before the final norm); layer 0 is the token
embeddings. SmolLM2-135M (30 blocks, 576 wide) runs ~100-300 tokens/s on two cores; Qwen2.5-Coder-1.5B (28 blocks,
1536 wide) is about ten times slower and needs ~6.5 GB of memory (docs/benchmarks.md): extract once, then
everything reads the cache.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from tools.errors import MissingDependencyError, UserInputError
from tools.research.cache import ArrayCache, content_key, hash_texts
from tools.research.modelfiles import MODELS, SMOLLM2, ModelFileError, gguf_metadata, locate

log = logging.getLogger(__name__)

Pooling = Literal["mean", "last"]
DEFAULT_MODEL = SMOLLM2.model_id
GGUF_NAME = SMOLLM2.file_name


def gguf_path(model: str = DEFAULT_MODEL) -> Path:
    """The verified GGUF of ``model`` (an id in ``MODELS``), found in its package or the model folder.

    Raises:
        MissingDependencyError: unknown id, not installed or assembled, or it fails its check (what to run).
    """
    if model not in MODELS:
        raise UserInputError(f"unknown model {model!r} for activations; known: {', '.join(MODELS)}")
    try:
        return locate(MODELS[model])
    except ModelFileError as err:
        raise MissingDependencyError(str(err)) from err


@functools.cache
def layout(model: str = DEFAULT_MODEL) -> tuple[int, int]:
    """(decoder blocks, hidden width) of ``model``, from its GGUF's metadata (the weights are not read)."""
    path = gguf_path(model)
    arch = str(gguf_metadata(path, ["general.architecture"])["general.architecture"])
    meta = gguf_metadata(path, [f"{arch}.block_count", f"{arch}.embedding_length"])
    return int(str(meta[f"{arch}.block_count"])), int(str(meta[f"{arch}.embedding_length"]))


class _StopForwardError(Exception):
    """Raised from a hook once the deepest needed layer has run (skips the rest of the network)."""


class CausalLMActivations:
    """Extract pooled per-layer hidden states from a local causal LM, cached by content hash.

    The model loads lazily on the first cache miss (SmolLM2 ~20 s, Qwen-1.5B ~1-2 min), so a fully cached call never
    touches it.

    Args:
        cache_dir: Where activations are cached (default ``<cwd>/.ara/cache``); ``None`` disables the cache.
        model: An id in ``tools.research.modelfiles.MODELS`` (``smollm2-135m-instruct``,
            ``qwen2.5-coder-1.5b-instruct``).
        max_tokens: Tokens kept per text (longer texts are truncated from the right).
        batch_size: Texts per forward pass.
        threads: torch intra-op threads.
        chunk_size: Texts per cache entry (an interrupted extraction resumes from the last finished chunk).

    Example:
        >>> acts = CausalLMActivations(cache_dir="/tmp/ara-cache", model="qwen2.5-coder-1.5b-instruct")
        >>> out = acts.extract(["A warm, funny film."], layers=[4, 8])  # doctest: +SKIP
        >>> out[8].shape  # doctest: +SKIP
        (1, 1536)
    """

    def __init__(
        self,
        cache_dir: Path | str | None = Path(".ara/cache"),
        *,
        model: str = DEFAULT_MODEL,
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
        if model not in MODELS:
            raise UserInputError(f"unknown model {model!r} for activations; known: {', '.join(MODELS)}")
        self.model = model
        self._model: Any = None
        self._tokenizer: Any = None
        self.model_id = f"{model}/{MODELS[model].file_name}/{max_tokens}"
        """The cache key's model part (unchanged for SmolLM2 since before other models, so its entries stay valid)."""

    @property
    def n_layers(self) -> int:
        """Decoder blocks (valid layers are 0..n_layers)."""
        return layout(self.model)[0]

    @property
    def hidden(self) -> int:
        """Hidden width."""
        return layout(self.model)[1]

    def _load(self) -> None:
        if self._model is not None:
            return
        try:
            import torch
            from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
            from transformers import modeling_gguf_pytorch_utils as gguf_utils
        except ImportError as err:
            raise MissingDependencyError(
                f"{self.model} activations need torch, transformers and gguf; run 'make setup'."
            ) from err
        path = gguf_path(self.model)
        start = time.perf_counter()
        torch.set_num_threads(self.threads)
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        config = AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)
        with torch.device("meta"):  # no random init: the dequantised tensors become the parameters (one copy)
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()  # type: ignore[no-untyped-call]
        # its progress bar would be drawn over `ara run`'s lines and the TUI's screen (host steps share their process)
        names = vars(gguf_utils)
        bar = names["tqdm"]
        names["tqdm"] = functools.partial(bar, disable=True)
        try:
            checkpoint = gguf_utils.load_gguf_checkpoint(  # type: ignore[no-untyped-call]
                str(path), return_tensors=True, model_to_load=model
            )
        finally:
            names["tqdm"] = bar
        tensors = checkpoint["tensors"]
        missing, unexpected = model.load_state_dict(tensors, strict=False, assign=True)
        if unexpected or set(missing) - {"lm_head.weight"}:
            raise RuntimeError(f"GGUF {path} did not map onto the model: missing={missing} unexpected={unexpected}")
        model.tie_weights()
        rotary = model.model.rotary_emb  # its frequencies are computed at init, which ran on the meta device
        model.model.rotary_emb = type(rotary)(config=config)
        still_meta = [name for name, value in [*model.named_parameters(), *model.named_buffers()] if value.is_meta]
        if still_meta:
            raise RuntimeError(f"GGUF {path} left these tensors unloaded: {still_meta}")
        tokenizer.padding_side = "right"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._model, self._tokenizer = model, tokenizer
        log.info("loaded %s from %s in %.1f s", self.model, path, time.perf_counter() - start)

    def loaded(self) -> tuple[Any, Any]:
        """The transformers model and tokenizer (loaded on first use), for callers that run their own forward
        passes with hooks (``tools.steering``)."""
        self._load()
        return self._model, self._tokenizer

    def extract(
        self,
        texts: Sequence[str],
        layers: Sequence[int],
        *,
        pooling: Pooling = "mean",
        last_token_logprob: bool = False,
    ) -> dict[int, npt.NDArray[np.float32]]:
        """Pooled hidden states for ``texts`` at each of ``layers``, each ``(len(texts), hidden)`` float32.

        Args:
            texts: Inputs (any length; truncated to ``max_tokens``).
            layers: Layer indices, 0 (embeddings) to ``n_layers`` (last block).
            pooling: ``mean`` over the text's tokens, or the ``last`` token.
            last_token_logprob: Also return, under key ``-1``, each text's last-token log-probability given the
                tokens before it (shape ``(n, 1)``); used for zero-shot scoring of contrast pairs.
        """
        layer_list = sorted(set(int(layer) for layer in layers))
        if not layer_list or layer_list[0] < 0 or layer_list[-1] > self.n_layers:
            raise UserInputError(
                f"layers {list(layers)} are invalid; {MODELS[self.model].title} has layers 0..{self.n_layers}"
            )
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
                log.info("%s activations: %d/%d texts ready", self.model, begin + len(chunk), len(texts))
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
        deepest = self.n_layers if want_logprob else max(layers)
        out = {layer: np.zeros((len(texts), self.hidden), dtype=np.float32) for layer in layers}
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
                        final = model.model.norm(captured[self.n_layers][rows, (last - 1).clamp(min=0)])
                        logits = model.lm_head(final).log_softmax(dim=-1)
                        target = enc["input_ids"][rows, last]
                        logprobs[idx, 0] = logits[rows, target].numpy()
                if begin // self.batch_size % 10 == 0:
                    log.info(
                        "%s: %d/%d texts (%.0f s)",
                        self.model,
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


class SmolLM2Activations(CausalLMActivations):
    """``CausalLMActivations`` of SmolLM2-135M-Instruct (30 blocks, 576 wide): the default small model."""

    def __init__(
        self,
        cache_dir: Path | str | None = Path(".ara/cache"),
        *,
        max_tokens: int = 64,
        batch_size: int = 32,
        threads: int = 2,
        chunk_size: int = 256,
    ) -> None:
        super().__init__(
            cache_dir,
            model=SMOLLM2.model_id,
            max_tokens=max_tokens,
            batch_size=batch_size,
            threads=threads,
            chunk_size=chunk_size,
        )
