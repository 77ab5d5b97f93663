"""A steering experiment end to end: items, contrast directions, steered and random-control answers, results.json.

The task's items are shuffled once with a fixed split seed (independent of the run's seeds); the first
``n_direction`` give the contrast pairs, the next ``n_eval`` are the held-out eval, the same for every seed and
coefficient so every comparison is paired by item. For each seed a direction is fitted on a bootstrap resample of the
pairs and a random unit direction is drawn; for each coefficient both are added at the layer, scaled alike. Metrics
(``ara.results/1``): ``accuracy.unsteered`` (per item), and per coefficient label ``<c>`` (``coef_label``):
``accuracy.steered.coef_<c>`` and ``accuracy.random.coef_<c>`` (per item, mean over seeds) and the paired effects
``effect.vs_random.coef_<c>`` (steered minus random control) and ``effect.vs_unsteered.coef_<c>``, each with a
two-level bootstrap interval over seeds and items (``tools.steering.stats``); the same four without the suffix
are those of the first coefficient listed (the pre-registered one, which hypotheses name). Does not split work between a kernel
and the host (``tools.steering.heldout``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from tools.datasets.bigbench import MCItem, load_bigbench
from tools.research.activations import CausalLMActivations
from tools.research.metrics import bootstrap_metric
from tools.results import Verification, write_results
from tools.steering.config import SteeringConfig, coef_label
from tools.steering.direction import Direction, random_direction
from tools.steering.model import ChoiceScorer, completion
from tools.steering.stats import seeds_items_metric

TOOL = "tools.steering"
SPLIT_SEED = 12345
"""Fixed shuffle of the task's items into direction and eval parts (the run's seeds never change the eval set)."""


class SteeringResult(BaseModel):
    """Headline numbers of a steering run (the full record is results.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unsteered: float
    """Held-out accuracy without steering."""
    effects: dict[str, dict[str, float]]
    """Per coefficient label: ``vs_random`` and ``vs_unsteered`` means and their interval ends."""
    results_path: Path
    """The results.json written."""
    wall_time_s: float
    """Seconds the run took."""


def split_items(config: SteeringConfig) -> tuple[list[MCItem], list[MCItem]]:
    """(direction items, held-out eval items) of the config's task.

    Raises:
        UserInputError: the task files are missing or malformed (from ``load_bigbench``).
        ValueError: the task has fewer items than ``n_direction + n_eval``.
    """
    items = load_bigbench(config.data_root, config.task)
    if len(items) < config.n_direction + config.n_eval:
        raise ValueError(
            f"{config.task} has {len(items)} items; n_direction + n_eval = {config.n_direction + config.n_eval}. "
            "Lower n_direction or n_eval."
        )
    order = np.random.default_rng(SPLIT_SEED).permutation(len(items))
    shuffled = [items[i] for i in order]
    return shuffled[: config.n_direction], shuffled[config.n_direction : config.n_direction + config.n_eval]


def contrast_activations(
    acts: CausalLMActivations, items: list[MCItem], layer: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Last-token activations at ``layer`` of each item answered correctly and with its first wrong choice."""
    right = [completion(item, item.answer) for item in items]
    wrong = [completion(item, next(k for k in range(len(item.choices)) if k != item.answer)) for item in items]
    out = acts.extract(right + wrong, [layer], pooling="last")[layer]
    return out[: len(items)], out[len(items) :]


def evaluate(
    config: SteeringConfig,
    acts: CausalLMActivations,
    eval_items: list[MCItem],
    directions: Mapping[int, Direction],
    out_dir: Path,
    *,
    started: float,
    verification: Verification | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> SteeringResult:
    """Answer ``eval_items`` unsteered, steered by each seed's direction and by its random control at every
    coefficient; write config.json and results.json into ``out_dir``."""
    model, tokenizer = acts.loaded()
    scorer = ChoiceScorer(model, tokenizer, max_tokens=config.max_tokens)
    base = scorer.correct(eval_items, config.layer, None)
    metrics: dict[str, dict[str, Any]] = {"accuracy.unsteered": {**bootstrap_metric(base.tolist()), "over": "items"}}
    rows: list[list[Any]] = []
    effects: dict[str, dict[str, float]] = {}
    seeds = list(config.seeds)
    for coefficient in config.coefficients:
        steer = np.stack([scorer.correct(eval_items, config.layer, directions[s].vector(coefficient)) for s in seeds])
        width = directions[seeds[0]].unit.size
        control = np.stack(
            [
                scorer.correct(
                    eval_items,
                    config.layer,
                    random_direction(width, s, directions[s].scale).vector(coefficient),
                )
                for s in seeds
            ]
        )
        label = coef_label(coefficient)
        vs_random = seeds_items_metric(steer - control)
        vs_base = seeds_items_metric(steer - base[None, :])
        metrics[f"accuracy.steered.coef_{label}"] = seeds_items_metric(steer)
        metrics[f"accuracy.random.coef_{label}"] = seeds_items_metric(control)
        metrics[f"effect.vs_random.coef_{label}"] = vs_random
        metrics[f"effect.vs_unsteered.coef_{label}"] = vs_base
        effects[label] = {
            "vs_random": vs_random["mean"],
            "vs_random_low": vs_random["ci_low"],
            "vs_random_high": vs_random["ci_high"],
            "vs_unsteered": vs_base["mean"],
        }
        rows += [
            [coefficient, s, float(steer[k].mean()), float(control[k].mean()), float(base.mean())]
            for k, s in enumerate(seeds)
        ]
    main = coef_label(config.coefficients[0])  # the pre-registered coefficient: the first one listed
    for name in ("accuracy.steered", "accuracy.random", "effect.vs_random", "effect.vs_unsteered"):
        metrics[name] = dict(metrics[f"{name}.coef_{main}"])
    wall = time.perf_counter() - started
    path = write_results(
        out_dir,
        tool=TOOL,
        title=f"Activation steering at layer {config.layer} ({config.method}) on {config.task}: {config.model}",
        config=config.model_dump(mode="json", exclude={"data_root", "cache_dir"}),
        metrics=metrics,
        tables={
            "by_seed": {
                "columns": ["coefficient", "seed", "steered_acc", "random_acc", "unsteered_acc"],
                "rows": rows,
            }
        },
        provenance={
            "seeds": seeds,
            "eval_items": [item.id for item in eval_items],
            "wall_time_s": round(wall, 3),
            **(provenance or {}),
        },
        verification=verification,
    )
    return SteeringResult(unsteered=float(base.mean()), effects=effects, results_path=path, wall_time_s=round(wall, 3))


def run_steering(
    config: SteeringConfig, out_dir: Path | str, *, activations: CausalLMActivations | None = None
) -> SteeringResult:
    """Run the whole experiment in one process (benchmarks, notebooks); the loop splits it (``heldout``)."""
    from tools.steering.direction import direction

    started = time.perf_counter()
    acts = activations or CausalLMActivations(config.cache_dir, model=config.model, max_tokens=config.max_tokens)
    if not 1 <= config.layer <= acts.n_layers:
        raise ValueError(f"layer {config.layer} is not a decoder block of {config.model} (1..{acts.n_layers})")
    direction_items, eval_items = split_items(config)
    positive, negative = contrast_activations(acts, direction_items, config.layer)
    directions = {s: direction(positive, negative, config.method, s) for s in config.seeds}
    return evaluate(config, acts, eval_items, directions, Path(out_dir), started=started)
