"""Heads on frozen features trained in torch with the three student losses, and sklearn weak supervisors.

Covers:
- ``train_head``: a linear or one-hidden-layer MLP head (2 logits) on standardised frozen features, trained with
  Adam on soft targets with one of the losses below; returns its weights as arrays (so they can be cached) and
  ``predict_head`` rebuilds the head from those arrays.
- Losses, following openai/weak-to-strong's ``loss.py``:
  ``xent``: cross-entropy against the soft weak labels.
  ``aux_conf`` (their ``logconf_loss_fn``): the target mixes the weak labels with the student's own *hardened*
  predictions, ``target = (1 - c) * weak + c * hard(student)``, where ``hard`` thresholds the student's class-0
  probability at the batch quantile equal to the weak labels' positive rate, and ``c = aux_coef * ramp`` with
  ``ramp = step_frac`` during the first ``warmup_frac`` of steps and 1 afterwards (their schedule, including the
  jump at the end of warm-up).
  ``bootstrap`` (hard bootstrapping, Reed et al. 2014): ``target = 0.8 * weak + 0.2 * onehot(argmax student)``
  with the same warm-up ramp.
- ``fit_weak``: logistic regression (sklearn, L2, C=1) or a small torch MLP trained with xent on ground truth.

Does not cover fine-tuning the strong model itself (features are frozen: on CPU that is what is affordable).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from tools.errors import UserInputError

Loss = Literal["xent", "aux_conf", "bootstrap"]
"""The student losses (see the module docstring)."""

Head = Literal["linear", "mlp"]
Arrays = dict[str, npt.NDArray[Any]]
BOOTSTRAP_BETA = 0.8


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one intra-op thread (tiny heads are ~10-40x slower with 2 threads on a loaded machine)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _module(in_dim: int, head: Head, hidden: int) -> Any:
    import torch

    if head == "linear":
        return torch.nn.Linear(in_dim, 2)
    return torch.nn.Sequential(torch.nn.Linear(in_dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))


def aux_conf_target(logits: Any, weak: Any, coef: float) -> Any:
    """The logconf target: weak soft labels mixed with the student's predictions hardened at the weak positive rate.

    Args:
        logits: ``(batch, 2)`` student logits.
        weak: ``(batch, 2)`` soft weak labels (rows sum to 1).
        coef: Weight on the hardened student predictions (``aux_coef`` times the warm-up ramp).
    """
    import torch

    preds = torch.softmax(logits.detach().float(), dim=-1)
    positive_rate = weak.float().mean(dim=0)[1]
    threshold = torch.quantile(preds[:, 0], positive_rate)
    hard = torch.stack([(preds[:, 0] >= threshold), (preds[:, 0] < threshold)], dim=1).float()
    return weak * (1.0 - coef) + hard * coef


def _target(loss: Loss, logits: Any, weak: Any, step_frac: float, aux_coef: float, warmup_frac: float) -> Any:
    import torch

    if loss == "xent":
        return weak
    ramp = step_frac if step_frac <= warmup_frac else 1.0
    if loss == "aux_conf":
        return aux_conf_target(logits, weak, aux_coef * ramp)
    onehot = torch.nn.functional.one_hot(logits.detach().argmax(dim=-1), 2).float()
    coef = (1.0 - BOOTSTRAP_BETA) * ramp
    return weak * (1.0 - coef) + onehot * coef


def train_head(
    x: npt.NDArray[np.float32],
    soft_labels: npt.NDArray[np.float32],
    *,
    head: Head,
    loss: Loss,
    seed: int,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 32,
    hidden: int = 128,
    aux_coef: float = 0.5,
    warmup_frac: float = 0.1,
) -> Arrays:
    """Train a head on ``x`` toward ``soft_labels`` (probability of class 1 per row); return its arrays.

    The returned dict holds the feature mean/std used for standardisation and the head's parameters
    (``param.<name>``) plus ``head`` (0 linear, 1 mlp), so ``predict_head`` can rebuild it.

    Example:
        >>> rng = np.random.default_rng(0); x = rng.normal(size=(64, 5)).astype(np.float32)
        >>> w = train_head(x, (x[:, 0] > 0).astype(np.float32), head="linear", loss="xent", seed=0, lr=1e-2)
        >>> float(((predict_head(w, x) > 0.5) == (x[:, 0] > 0)).mean()) > 0.8
        True
    """
    with single_thread():
        return _train_head(x, soft_labels, head, loss, seed, epochs, lr, batch_size, hidden, aux_coef, warmup_frac)


def _train_head(
    x: npt.NDArray[np.float32],
    soft_labels: npt.NDArray[np.float32],
    head: Head,
    loss: Loss,
    seed: int,
    epochs: int,
    lr: float,
    batch_size: int,
    hidden: int,
    aux_coef: float,
    warmup_frac: float,
) -> Arrays:
    import torch

    if x.shape[0] != soft_labels.shape[0]:
        raise UserInputError(f"features have {x.shape[0]} rows but labels have {soft_labels.shape[0]}")
    torch.manual_seed(seed)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    xt = torch.from_numpy(((x - mean) / std).astype(np.float32))
    p1 = torch.from_numpy(np.asarray(soft_labels, dtype=np.float32))
    targets = torch.stack([1.0 - p1, p1], dim=1)
    model = _module(x.shape[1], head, hidden)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    n = xt.shape[0]
    steps_per_epoch = max(1, (n + batch_size - 1) // batch_size)
    total = epochs * steps_per_epoch
    step = 0
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for begin in range(0, n, batch_size):
            idx = order[begin : begin + batch_size]
            if idx.numel() < 2:
                continue
            logits = model(xt[idx])
            target = _target(loss, logits, targets[idx], step / total, aux_coef, warmup_frac)
            batch_loss = torch.nn.functional.cross_entropy(logits, target)
            optimiser.zero_grad()
            batch_loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            step += 1
    arrays: Arrays = {"mean": mean, "std": std, "head": np.asarray(0 if head == "linear" else 1)}
    for name, tensor in model.state_dict().items():
        arrays[f"param.{name}"] = tensor.numpy().copy()
    return arrays


def predict_head(arrays: Arrays, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Probability of class 1 for each row of ``x`` under the head stored in ``arrays``."""
    import torch

    head: Head = "linear" if int(arrays["head"]) == 0 else "mlp"
    hidden = int(arrays["param.0.weight"].shape[0]) if head == "mlp" else 1
    model = _module(x.shape[1], head, hidden)
    state = {
        name.removeprefix("param."): torch.from_numpy(np.asarray(v))
        for name, v in arrays.items()
        if name.startswith("param.")
    }
    model.load_state_dict(state)
    with single_thread(), torch.inference_mode():
        z = torch.from_numpy(((x - arrays["mean"]) / arrays["std"]).astype(np.float32))
        return torch.softmax(model(z), dim=-1)[:, 1].numpy().astype(np.float32)


def fit_weak(
    x_train: Any,
    y_train: npt.NDArray[np.int64],
    x_eval: list[Any],
    *,
    head: Literal["logreg", "mlp"],
    seed: int,
    hidden: int = 32,
) -> list[npt.NDArray[np.float32]]:
    """Train a weak supervisor on ground truth; return P(class 1) for each matrix in ``x_eval``.

    ``logreg`` accepts dense or sparse matrices (sklearn ``LogisticRegression``, C=1, standardised when dense);
    ``mlp`` trains a one-hidden-layer torch MLP (``hidden`` units, 20 epochs, xent) on dense features.
    """
    classes = np.unique(y_train)
    if classes.size < 2:
        raise UserInputError(
            f"the weak training split has labels of one class only ({classes.tolist()}); "
            "use a larger n_weak_train or a dataset with both classes"
        )
    if head == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        dense = isinstance(x_train, np.ndarray)
        model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
        pipe = make_pipeline(StandardScaler(), model) if dense else model
        pipe.fit(x_train, y_train)
        return [np.asarray(pipe.predict_proba(x)[:, 1], dtype=np.float32) for x in x_eval]
    dense_train = np.asarray(x_train.toarray() if hasattr(x_train, "toarray") else x_train, dtype=np.float32)
    arrays = train_head(
        dense_train, y_train.astype(np.float32), head="mlp", loss="xent", seed=seed, epochs=20, hidden=hidden
    )
    return [
        predict_head(arrays, np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float32)) for x in x_eval
    ]
