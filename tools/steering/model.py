"""Multiple-choice answers of a local causal LM by choice log-probability, optionally steered at one layer.

``steered(model, layer, vector)`` is a context manager that adds ``vector`` to the output of decoder block
``layer`` (1-based, as in ``tools.research.activations``) at every token position during the forward passes inside
it, and removes the hook on exit. ``ChoiceScorer`` scores ``MCItem``s: each choice's summed log-probability after
the item's prompt (one forward pass per item when every choice is a single token, else one per choice); the
answer is the highest-scoring choice. Prompts: misconceptions as "Statement: ...\\nIs this statement true or
false? Answer:" (the wording of ``tools.datasets`` and the probes), TruthfulQA as "Q: ...\\nA:". Does not build
directions (``tools.steering.direction``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tools.datasets.bigbench import MCItem


def prompt_of(item: MCItem) -> str:
    """The prompt an item is asked with (its choices follow after a space)."""
    if item.statement is not None:
        return f"Statement: {item.statement}\nIs this statement true or false? Answer:"
    return f"Q: {item.question}\nA:"


def completion(item: MCItem, choice: int) -> str:
    """The prompt followed by one choice (the text whose activations a contrast pair compares)."""
    return f"{prompt_of(item)} {item.choices[choice]}"


@contextlib.contextmanager
def steered(model: Any, layer: int, vector: npt.NDArray[np.float32] | None) -> Iterator[None]:
    """Add ``vector`` to decoder block ``layer``'s output inside the block (nothing when ``vector`` is None)."""
    if vector is None:
        yield
        return
    import torch

    blocks = model.model.layers
    if not 1 <= layer <= len(blocks):
        raise ValueError(f"layer {layer} is not a decoder block of this model (1..{len(blocks)})")
    added = torch.as_tensor(np.asarray(vector, dtype=np.float32))

    def hook(_module: Any, _inputs: Any, output: Any) -> Any:
        if isinstance(output, tuple):
            return (output[0] + added.to(output[0].dtype), *output[1:])
        return output + added.to(output.dtype)

    handle = blocks[layer - 1].register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


class ChoiceScorer:
    """Answers multiple-choice items by choice log-probability with a loaded model and tokenizer."""

    def __init__(self, model: Any, tokenizer: Any, *, max_tokens: int = 96, batch_size: int = 16) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.batch_size = batch_size

    def _ids(self, text: str, special: bool) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])

    def _logprobs(self, sequences: list[list[int]]) -> list[npt.NDArray[np.float32]]:
        """Per-position next-token log-probabilities of each sequence (row ``t`` predicts token ``t + 1``)."""
        import torch

        out: list[npt.NDArray[np.float32]] = []
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        for begin in range(0, len(sequences), self.batch_size):
            batch = sequences[begin : begin + self.batch_size]
            width = max(len(s) for s in batch)
            ids = torch.tensor([s + [pad] * (width - len(s)) for s in batch])
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in batch])
            with torch.inference_mode():
                logits = self.model(input_ids=ids, attention_mask=mask).logits.float().log_softmax(dim=-1)
            out += [logits[k, : len(s)].numpy() for k, s in enumerate(batch)]
        return out

    def choice_scores(self, items: Sequence[MCItem]) -> list[npt.NDArray[np.float64]]:
        """Each item's summed log-probability per choice."""
        prompts = [self._ids(prompt_of(item), True) for item in items]
        choices = [[self._ids(f" {c}", False) for c in item.choices] for item in items]
        single = [i for i, cs in enumerate(choices) if all(len(c) == 1 for c in cs)]
        multi = [i for i in range(len(items)) if i not in set(single)]
        scores: dict[int, npt.NDArray[np.float64]] = {}
        cut = [p[-(self.max_tokens - 1) :] for p in prompts]
        for i, rows in zip(single, self._logprobs([cut[i] for i in single]), strict=True):
            scores[i] = np.asarray([rows[-1][c[0]] for c in choices[i]], dtype=np.float64)
        sequences, owners = [], []
        for i in multi:
            for k, c in enumerate(choices[i]):
                sequences.append((prompts[i] + c)[-self.max_tokens :])
                owners.append((i, k, len(c)))
        per_item: dict[int, list[float]] = {i: [0.0] * len(items[i].choices) for i in multi}
        for seq, (i, k, n), rows in zip(sequences, owners, self._logprobs(sequences), strict=True):
            start = len(seq) - n - 1  # row ``start + t`` predicts the choice's token ``t``
            per_item[i][k] = float(sum(rows[start + t][tok] for t, tok in enumerate(seq[-n:])))
        for i, values in per_item.items():
            scores[i] = np.asarray(values, dtype=np.float64)
        return [scores[i] for i in range(len(items))]

    def correct(
        self, items: Sequence[MCItem], layer: int, vector: npt.NDArray[np.float32] | None
    ) -> npt.NDArray[np.float64]:
        """1.0 where the (steered) model's top choice is the item's answer, else 0.0."""
        with steered(self.model, layer, vector):
            scores = self.choice_scores(items)
        return np.asarray([float(int(np.argmax(s)) == item.answer) for s, item in zip(scores, items, strict=True)])
