"""``SteeringConfig``: what a steering experiment runs (model, task, layer, direction method, coefficients, seeds).

Covers the validated config only (paths are the host's: ``tools.research.hostconfig`` replaces them before a host
step runs it). Does not run anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tools.research.modelfiles import MODELS

SteeringTask = Literal["misconceptions", "truthful_qa"]
DirectionMethod = Literal["mean_diff", "probe"]


class SteeringConfig(BaseModel):
    """A steering experiment on a local model: direction from contrast pairs, effect on held-out MC items."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(default="smollm2-135m-instruct", description="Local model id (tools.research.modelfiles).")
    task: SteeringTask = Field(
        default="misconceptions",
        description="BIG-bench task: its first items give the contrast pairs, the rest are the held-out eval.",
    )
    layer: int = Field(default=15, ge=1, description="Decoder block whose output is steered (1..n_layers).")
    method: DirectionMethod = Field(
        default="mean_diff", description="'mean_diff' of true minus false activations, or 'probe' weights."
    )
    coefficients: list[float] = Field(
        default_factory=lambda: [1.0, 4.0],
        min_length=1,
        max_length=6,
        description="Steering strengths, in units of the layer's mean activation norm (negative: the opposite way).",
    )
    seeds: list[int] = Field(
        default_factory=lambda: [0, 1, 2],
        min_length=1,
        max_length=10,
        description="Seeds: each resamples the contrast pairs and draws its own random control direction.",
    )
    n_direction: int = Field(default=80, ge=4, le=400, description="Items whose contrast pairs give the direction.")
    n_eval: int = Field(default=100, ge=10, le=400, description="Held-out items the effect is measured on.")
    max_tokens: int = Field(default=96, ge=8, le=512, description="Tokens kept per prompt.")
    data_root: Path | None = Field(default=None, description="BIG-bench tasks directory (set by the host).")
    cache_dir: Path | None = Field(default=None, description="Activation cache (set by the host).")

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        # checked here, not first in the host step: a plan naming a model the host cannot load (the default model
        # wrote 'subject_model') then loses the value before approval instead of failing its cell
        if value not in MODELS:
            raise ValueError(f"unknown local model {value!r}; known: {', '.join(MODELS)}")
        return value

    @field_validator("coefficients")
    @classmethod
    def _nonzero(cls, values: list[float]) -> list[float]:
        if any(v == 0 for v in values):
            raise ValueError("a coefficient of 0 is the unsteered baseline, which always runs; leave it out")
        if len(set(values)) != len(values):
            raise ValueError(f"coefficients repeat: {values}")
        return values

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, values: list[int]) -> list[int]:
        if len(set(values)) != len(values):
            raise ValueError(f"seeds repeat: {values}")
        return values


def coef_label(value: float) -> str:
    """A metric-name-safe label of a coefficient: ``4.0`` -> ``4``, ``-0.5`` -> ``m0p5``."""
    text = f"{value:g}"
    return text.replace("-", "m").replace(".", "p")
