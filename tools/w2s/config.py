"""``W2SConfig``: the typed description of one weak-to-strong experiment (dataset, models, loss, seeds, sizes).

Covers validation with messages that list valid choices. Does not run anything (see ``tools.w2s.harness``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, field_validator, model_validator

from tools.datasets import DATASETS, TABULAR_DATASETS
from tools.research.heads import Loss

WeakHead = Literal["logreg", "mlp"]
StrongHead = Literal["linear", "mlp"]

TEXT_FEATURES = ("bow", "minilm", "smollm2_l<k> (k = 0..30, e.g. smollm2_l16)", "qwen15_l<k> (k = 0..28)")
TABULAR_FEATURES = ("tab_raw", "tab_coarse")
FEATURE_NAMES = ("bow", "minilm", *(f"smollm2_l{k}" for k in range(31)), *TABULAR_FEATURES)
"""Every feature-set name a model may choose, listed as an ``enum`` in the JSON schema so constrained decoding
cannot invent one. ``qwen15_l<k>`` (Qwen2.5-Coder-1.5B hidden states: the strong rung of a SmolLM2 -> Qwen ladder)
is valid in configs a person writes but left out of this list: extracting it on CPU runs ~1.5 texts/s with a 9 GB
peak (docs/benchmarks.md), so a 3,000-example run would hold the research loop for over half an hour."""
_LM_LAYERS = {"smollm2": 30, "qwen15": 28}
"""Feature prefix -> deepest layer (decoder blocks of SmolLM2-135M and Qwen2.5-Coder-1.5B)."""
_LM = re.compile(r"^(smollm2|qwen15)_l(\d+)$")


def feature_kind(name: str) -> Literal["text", "tabular"]:
    """Whether a feature set reads texts or a tabular matrix; raises ``ValueError`` listing valid names."""
    if name in ("bow", "minilm"):
        return "text"
    match = _LM.match(name)
    if match and 0 <= int(match.group(2)) <= _LM_LAYERS[match.group(1)]:
        return "text"
    if name in TABULAR_FEATURES:
        return "tabular"
    raise ValueError(
        f"unknown feature set {name!r}; text datasets take {', '.join(TEXT_FEATURES)}; "
        f"tabular datasets take {', '.join(TABULAR_FEATURES)}"
    )


class W2SConfig(BaseModel):
    """One weak-to-strong experiment: weak supervisor trained on ground truth, strong student on its labels.

    Example:
        >>> W2SConfig(dataset="sk_breast_cancer", weak_features="tab_coarse", strong_features="tab_raw",
        ...           strong_head="mlp", n_weak_train=150, n_strong_train=150, n_test=150, seeds=[0, 1]).loss
        'xent'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(
        description=f"Dataset name, one of: {', '.join(DATASETS)}.", json_schema_extra={"enum": list(DATASETS)}
    )
    data_root: Path | None = Field(
        default=None,
        description="Directory of BIG-bench task folders (strategyqa, misconceptions, truthful_qa).",
    )
    weak_features: str = Field(
        default="bow",
        description="Weak supervisor's input: bow | minilm | smollm2_l<k> | tab_raw | tab_coarse.",
        json_schema_extra={"enum": list(FEATURE_NAMES)},
    )
    weak_head: WeakHead = Field(default="logreg", description="Weak supervisor: logistic regression or small MLP.")
    strong_features: str = Field(
        default="smollm2_l16",
        description="Frozen strong features: minilm | smollm2_l<k> | tab_raw | tab_coarse.",
        json_schema_extra={"enum": [name for name in FEATURE_NAMES if name != "bow"]},
    )
    strong_head: StrongHead = Field(default="linear", description="Strong student head trained in torch.")
    loss: Loss = Field(
        default="xent",
        description="xent on soft weak labels | aux_conf (logconf, coefficient 0.5, warm-up) | bootstrap (Reed).",
    )
    aux_coef: float = Field(default=0.5, ge=0.0, le=1.0, description="Auxiliary confidence weight after warm-up.")
    warmup_frac: float = Field(default=0.1, ge=0.0, le=1.0, description="Fraction of steps over which aux ramps.")
    epochs: int = Field(default=10, ge=1, le=1000, description="Training epochs for the strong heads.")
    lr: float = Field(default=1e-3, gt=0.0, description="Adam learning rate for the strong heads.")
    batch_size: int = Field(default=32, ge=2, description="Minibatch size (aux_conf hardens per batch).")
    hidden: int = Field(default=128, ge=1, description="Hidden width of MLP heads.")
    n_weak_train: int = Field(default=1000, ge=10, description="Split A: ground truth for the weak supervisor.")
    n_strong_train: int = Field(default=1000, ge=10, description="Split B: weak-labelled student training set.")
    n_test: int = Field(default=1000, ge=10, description="Held-out test split, scored on the host.")
    seeds: list[NonNegativeInt] = Field(
        default_factory=lambda: list(range(10)), min_length=1, description="Seeds to run (0 or more)."
    )
    data_seed: NonNegativeInt = Field(default=0, description="Seed choosing the example pool shared by all seeds.")
    cache_dir: Path | None = Field(
        default=Path(".ara/cache"),
        description="Content-hash cache (features, weak labels, heads); None = off.",
    )

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        if value not in DATASETS:
            raise ValueError(f"unknown dataset {value!r}; valid datasets: {', '.join(DATASETS)}")
        return value

    @field_validator("weak_features", "strong_features")
    @classmethod
    def _known_features(cls, value: str) -> str:
        feature_kind(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> W2SConfig:
        kind = "tabular" if self.dataset in TABULAR_DATASETS else "text"
        for role, name in (("weak_features", self.weak_features), ("strong_features", self.strong_features)):
            if feature_kind(name) != kind:
                valid = TABULAR_FEATURES if kind == "tabular" else TEXT_FEATURES
                raise ValueError(
                    f"{role}={name!r} does not fit {kind} dataset {self.dataset!r}; use {', '.join(valid)}"
                )
        if self.strong_features == "bow":
            raise ValueError(
                "strong_features='bow' is not supported (bag-of-words is a weak feature set); "
                "use minilm or smollm2_l<k>"
            )
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds {self.seeds} contain duplicates")
        return self

    @property
    def n_total(self) -> int:
        """Examples drawn into the pool (A + B + test)."""
        return self.n_weak_train + self.n_strong_train + self.n_test

    def slug(self) -> str:
        """A short directory name from the config (dataset, pair, loss)."""
        weak = f"{self.weak_features}-{self.weak_head}"
        strong = f"{self.strong_features}-{self.strong_head}"
        return f"{self.dataset}__{weak}__{strong}__{self.loss}"
