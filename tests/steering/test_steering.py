"""Activation steering: directions and their random control, the two-level interval, the hook on the real SmolLM2,
and the held-out split (the kernel fits directions, the host measures them on items the kernel never sees)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from tools.datasets.bigbench import load_bigbench
from tools.research.activations import CausalLMActivations
from tools.runfiles import RunFileError
from tools.steering.config import SteeringConfig, coef_label
from tools.steering.direction import activation_scale, direction, random_direction
from tools.steering.heldout import (
    SUBMISSIONS,
    TASK_ARRAYS,
    TASK_META,
    export_steering_task,
    fit_steering_task,
    score_steering_task,
)
from tools.steering.model import ChoiceScorer, prompt_of, steered
from tools.steering.run import split_items
from tools.steering.stats import seeds_items_interval, seeds_items_metric


def _pairs(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.zeros(16, dtype=np.float32)
    truth[3] = 1.0
    negative = rng.normal(size=(40, 16)).astype(np.float32)
    positive = negative + 2.0 * truth + 0.1 * rng.normal(size=(40, 16)).astype(np.float32)
    return positive, negative, truth


@pytest.mark.parametrize("method", ["mean_diff", "probe"])
def test_the_direction_points_from_false_to_true_activations(method: str) -> None:
    positive, negative, truth = _pairs()
    fitted = direction(positive, negative, method, seed=0)  # type: ignore[arg-type]
    assert np.linalg.norm(fitted.unit) == pytest.approx(1.0, abs=1e-5)
    assert float(fitted.unit @ truth) > 0.8
    assert fitted.scale == pytest.approx(activation_scale(positive, negative))
    assert np.linalg.norm(fitted.vector(2.0)) == pytest.approx(2.0 * fitted.scale, rel=1e-5)
    other = direction(positive, negative, method, seed=1)  # type: ignore[arg-type]
    assert not np.allclose(other.unit, fitted.unit), "each seed resamples the pairs"


def test_the_random_control_has_the_same_norm_and_is_drawn_by_the_seed() -> None:
    positive, negative, _ = _pairs()
    fitted = direction(positive, negative, "mean_diff", seed=0)
    control = random_direction(16, 0, fitted.scale)
    assert np.linalg.norm(control.vector(3.0)) == pytest.approx(np.linalg.norm(fitted.vector(3.0)), rel=1e-5)
    np.testing.assert_array_equal(control.unit, random_direction(16, 0, fitted.scale).unit)
    assert not np.allclose(control.unit, random_direction(16, 1, fitted.scale).unit)


def test_identical_sides_give_no_direction() -> None:
    positive, _, _ = _pairs()
    with pytest.raises(ValueError, match="zero direction"):
        direction(positive, positive.copy(), "mean_diff", seed=0)
    with pytest.raises(ValueError, match="two equal"):
        direction(positive, positive[:5], "mean_diff", seed=0)


def test_the_interval_resamples_seeds_and_items() -> None:
    constant = np.full((3, 20), 0.25)
    assert seeds_items_interval(constant) == (0.25, 0.25, 0.25)
    rng = np.random.default_rng(0)
    noisy = rng.normal(0.1, 0.5, size=(4, 200))
    mean, low, high = seeds_items_interval(noisy)
    assert low < mean < high
    assert low > 0.0
    wider_seeds = noisy + np.array([[-0.3], [0.3], [-0.3], [0.3]])  # seeds disagree: the interval widens
    assert seeds_items_interval(wider_seeds)[2] - seeds_items_interval(wider_seeds)[1] > high - low
    record = seeds_items_metric(constant)
    assert (record["n"], record["seeds"], record["over"], len(record["values"])) == (20, 3, "items", 20)


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValidationError, match="coefficient of 0"):
        SteeringConfig(coefficients=[0.0, 1.0])
    with pytest.raises(ValidationError, match="seeds repeat"):
        SteeringConfig(seeds=[1, 1])
    assert [coef_label(c) for c in (4.0, -0.5, 1.25)] == ["4", "m0p5", "1p25"]


def test_the_split_is_fixed_and_disjoint(shared_dir: Path) -> None:
    config = SteeringConfig(data_root=shared_dir / "datasets/bigbench_tasks", n_direction=30, n_eval=40)
    first, held_out = split_items(config)
    assert (len(first), len(held_out)) == (30, 40)
    assert not {i.id for i in first} & {i.id for i in held_out}
    again = split_items(config.model_copy(update={"seeds": [7, 8, 9]}))
    assert [i.id for i in again[1]] == [i.id for i in held_out], "the run's seeds never change the eval set"
    with pytest.raises(ValueError, match="has 219 items"):
        split_items(config.model_copy(update={"n_direction": 200, "n_eval": 100}))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_hook_steers_the_real_model_only_inside_its_block(shared_dir: Path, tmp_path: Path) -> None:
    acts = CausalLMActivations(tmp_path, threads=1)
    model, tokenizer = acts.loaded()
    items = load_bigbench(shared_dir / "datasets/bigbench_tasks", "misconceptions", limit=6)
    scorer = ChoiceScorer(model, tokenizer)
    before = scorer.choice_scores(items)
    assert all(s.shape == (2,) and np.all(s < 0) for s in before)
    huge = np.zeros(acts.hidden, dtype=np.float32)
    huge[0] = 500.0
    with steered(model, 10, huge):
        during = scorer.choice_scores(items)
    assert not np.allclose(np.stack(before), np.stack(during))
    np.testing.assert_allclose(np.stack(scorer.choice_scores(items)), np.stack(before), rtol=1e-5)
    assert prompt_of(items[0]).startswith("Statement: Twinkies")
    with pytest.raises(ValueError, match="not a decoder block"), steered(model, 31, huge):
        pass


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_kernel_fits_directions_and_the_host_measures_them_on_items_it_keeps(
    shared_dir: Path, tmp_path: Path
) -> None:
    config = SteeringConfig(
        data_root=shared_dir / "datasets/bigbench_tasks",
        cache_dir=tmp_path / "cache",
        n_direction=12,
        n_eval=10,
        coefficients=[2.0, -2.0],
        seeds=[0, 1],
        layer=12,
    )
    kernel, out = tmp_path / "work", tmp_path / "run"
    export_steering_task(config, kernel)
    meta = json.loads((kernel / TASK_META).read_text())
    held_out = split_items(config)[1]
    exported = (kernel / TASK_META).read_text() + str(sorted(p.name for p in kernel.rglob("*")))
    assert not any(item.statement and item.statement in exported for item in held_out)
    with np.load(kernel / TASK_ARRAYS) as arrays:
        assert arrays["positive"].shape == (12, meta["hidden"])
    assert fit_steering_task(kernel) == ["direction_seed0", "direction_seed1"]
    result = score_steering_task(config, kernel, out)
    doc = json.loads((out / "results.json").read_text())
    assert doc["verification"]["scored_by"] == "host"
    metrics = doc["metrics"]
    for name in ("accuracy.unsteered", "accuracy.steered.coef_2", "accuracy.random.coef_m2", "effect.vs_random"):
        assert name in metrics
    effect = metrics["effect.vs_random.coef_2"]
    assert (effect["n"], effect["seeds"], effect["over"]) == (10, 2, "items")
    assert effect["ci_low"] <= effect["mean"] <= effect["ci_high"]
    assert metrics["effect.vs_random"] == effect, "the first coefficient is the headline"
    assert result.unsteered == pytest.approx(metrics["accuracy.unsteered"]["mean"])
    assert doc["provenance"]["eval_items"] == [item.id for item in held_out]
    np.save(kernel / SUBMISSIONS / "direction_seed1.npy", np.ones(5))
    with pytest.raises(RunFileError):
        score_steering_task(config, kernel, out)
    np.save(kernel / SUBMISSIONS / "direction_seed1.npy", np.zeros(meta["hidden"]))
    with pytest.raises(ValueError, match="all zeros"):
        score_steering_task(config, kernel, out)
