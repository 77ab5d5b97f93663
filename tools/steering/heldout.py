"""The steering experiment split for the research loop: the kernel fits directions, the host measures them.

``export_steering_task`` (host, before the cell) computes the contrast pairs' activations at the layer from the
direction items and writes them into the kernel's directory with the seeds and method; the held-out eval items,
their answers and the model never go there. ``fit_steering_task`` (kernel, the cell) fits one direction per seed
(``tools.steering.direction``) and submits each as ``submissions/direction_seed<s>.npy``. ``score_steering_task``
(host, after the cell) reads each submission through ``tools.runfiles`` (1-D, the model's hidden width, finite,
non-zero), normalises it, scales it by the host's own activation norm, and answers the held-out items unsteered,
steered and with a random direction of the same norm (``tools.steering.run.evaluate``), writing results.json marked
host-scored. Does not cover the one-process run (``run_steering``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from tools.errors import UserInputError
from tools.research.activations import CausalLMActivations
from tools.results import Verification
from tools.runfiles import ArraySpec, RunFiles
from tools.steering.config import SteeringConfig
from tools.steering.direction import Direction, activation_scale, direction
from tools.steering.run import SteeringResult, contrast_activations, evaluate, split_items

TASK_ARRAYS = "steering_task.npz"
TASK_META = "steering_task.json"
SUBMISSIONS = "submissions"
TASK_KIND = "ara.steering_task/1"


def _activations(config: SteeringConfig) -> CausalLMActivations:
    acts = CausalLMActivations(config.cache_dir, model=config.model, max_tokens=config.max_tokens)
    if not 1 <= config.layer <= acts.n_layers:
        raise UserInputError(f"layer {config.layer} is not a decoder block of {config.model} (1..{acts.n_layers})")
    return acts


def export_steering_task(config: SteeringConfig, kernel_dir: Path) -> Path:
    """Host step: write the contrast activations (direction items only) and the seeds into ``kernel_dir``."""
    acts = _activations(config)
    direction_items, _ = split_items(config)
    positive, negative = contrast_activations(acts, direction_items, config.layer)
    meta = {
        "kind": TASK_KIND,
        "method": config.method,
        "seeds": list(config.seeds),
        "layer": config.layer,
        "hidden": int(positive.shape[1]),
        "description": "positive/negative: last-token activations of the direction items answered correctly and "
        "incorrectly (paired rows). Fit one direction per seed and submit it as "
        "submissions/direction_seed<s>.npy; the held-out eval stays on the host.",
    }
    with RunFiles(kernel_dir, create=True) as files:
        files.save_npz(TASK_ARRAYS, {"positive": positive, "negative": negative})
        files.write_json(TASK_META, meta)
        files.sub(SUBMISSIONS, create=True).close()
    return kernel_dir / TASK_ARRAYS


def fit_steering_task(run_dir: Path | str = ".") -> list[str]:
    """Kernel step: fit a direction per seed on the exported pairs and submit it; returns the submission names."""
    root = Path(run_dir)
    meta = json.loads((root / TASK_META).read_text(encoding="utf-8"))
    if meta.get("kind") != TASK_KIND:
        raise UserInputError(f"{root / TASK_META} is not a steering task (kind={meta.get('kind')!r})")
    with np.load(root / TASK_ARRAYS) as arrays:
        positive, negative = arrays["positive"], arrays["negative"]
    (root / SUBMISSIONS).mkdir(exist_ok=True)
    names = []
    for seed in meta["seeds"]:
        fitted = direction(positive, negative, meta["method"], int(seed))
        name = f"direction_seed{int(seed)}"
        np.save(root / SUBMISSIONS / f"{name}.npy", fitted.unit)
        names.append(name)
        print(f"seed {seed}: submitted a {meta['method']} direction", flush=True)
    return names


def score_steering_task(config: SteeringConfig, kernel_dir: Path, out_dir: Path) -> SteeringResult:
    """Host step: measure the submitted directions on the held-out items against random controls.

    Raises:
        RunFileError: a submission is missing, a link, or not a 1-D finite array of the hidden width.
        ValueError: a submitted direction is all zeros.
    """
    started = time.perf_counter()
    acts = _activations(config)
    direction_items, eval_items = split_items(config)
    positive, negative = contrast_activations(acts, direction_items, config.layer)
    scale = activation_scale(positive, negative)
    spec = ArraySpec(length=int(positive.shape[1]), low=None, high=None)
    directions: dict[int, Direction] = {}
    with RunFiles(kernel_dir) as files:
        for seed in config.seeds:
            raw = files.load_array(f"{SUBMISSIONS}/direction_seed{seed}.npy", spec)
            norm = float(np.linalg.norm(raw))
            if norm == 0.0:
                raise ValueError(f"the direction submitted for seed {seed} is all zeros; submit a non-zero vector")
            directions[seed] = Direction((raw / norm).astype(np.float32), scale)
    return evaluate(
        config,
        acts,
        eval_items,
        directions,
        out_dir,
        started=started,
        verification=Verification.host(),
        provenance={"direction_items": len(direction_items), "scale": scale},
    )
