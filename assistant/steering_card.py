"""The card and recipe hooks of the activation-steering tool (``tools.steering``).

Covers the ``ToolCard`` the planner and the tool chooser read (what a steering run tests and does not, its
conditions, knobs and metrics) and the two host steps the research loop runs around its cell: ``prepare`` exports
the contrast pairs' activations (direction items only), ``score`` measures the kernel's directions on held-out items
against random directions of the same norm. Paths are the host's: the config's ``data_root`` and ``cache_dir`` are
replaced before either step. Does not register the recipe (``assistant.recipes.default_registry``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from assistant.cards import (
    ASKS_GENERATED_TEXT,
    ASKS_JUDGE_HELP,
    ASKS_REASONING,
    ASKS_STEERING,
    ASKS_W2S,
    NAMES_FACT_CHECKS,
    NAMES_HHH,
    NAMES_SENTIMENT_OR_STRATEGYQA,
    Knob,
    MetricSpec,
    ToolCard,
    cue,
    headline,
)

STEERING = ToolCard(
    name="steering",
    family=(
        "Activation steering: adding a steering vector (a direction built from contrast pairs) to the residual "
        "stream during the forward pass, and whether that intervention changes answers more than adding a random "
        "vector of the same norm."
    ),
    answers=[
        "Does adding a steering vector to the residual stream change the model's answers more than a random vector?",
        "Does intervening on activations along the true-minus-false direction make the model answer more truthfully?",
        "Does a steering intervention with a contrast-pair direction beat a random-direction control?",
        "At which layer does steering along the truth direction raise answer accuracy most (one experiment per layer)?",
    ],
    cannot_answer=[
        "weak-to-strong generalization",
        "a probe's read-out accuracy with no intervention",
        "generated text",
        "remote models",
        "chain-of-thought faithfulness",
        "help for a judge",
    ],
    ruled_out=[
        ASKS_W2S,
        ASKS_REASONING,
        ASKS_JUDGE_HELP,
        ASKS_GENERATED_TEXT,
        cue(
            "a read-out with no intervention",
            r"\bread[- ]?outs?\b",
            r"\b(?:linearly )?(?:decodable|separable)\b",
            unless=ASKS_STEERING,
        ),
        NAMES_FACT_CHECKS,
        NAMES_SENTIMENT_OR_STRATEGYQA,
        NAMES_HHH,
    ],
    named_by=[ASKS_STEERING],
    conditions=["unsteered", "steered", "random direction", "random control", "steering vector", "coefficient"],
    shared_terms=["random direction", "random control", "coefficient"],
    knobs=[
        Knob(name="layer", meaning="the decoder block whose output is steered"),
        Knob(name="method", meaning="mean difference of contrast activations, or logistic-probe weights"),
        Knob(name="coefficients", meaning="steering strengths in units of the layer's activation norm (first = main)"),
        Knob(name="task", meaning="misconceptions (true/false) or truthful_qa (multiple choice)"),
    ],
    metrics=[
        MetricSpec(name="accuracy.unsteered", meaning="held-out accuracy without steering", over="items"),
        MetricSpec(name="accuracy.steered", meaning="held-out accuracy steered at the first coefficient", over="items"),
        MetricSpec(
            name="accuracy.random", meaning="held-out accuracy with a random direction of equal norm", over="items"
        ),
        MetricSpec(
            name="effect.vs_random",
            meaning="steered minus random-direction accuracy, paired by item (interval over seeds and items)",
            over="items",
        ),
        MetricSpec(
            name="effect.vs_unsteered",
            meaning="steered minus unsteered accuracy, paired by item (interval over seeds and items)",
            over="items",
        ),
    ],
    method=(
        "The host embeds contrast pairs (each direction item answered correctly and incorrectly) at the layer; the "
        "cell fits one direction per seed (mean difference or probe weights on a resample); the host adds "
        "coefficient times the layer's mean activation norm along it while the model answers held-out items by "
        "choice log-probability, and the same with a random direction of equal norm, keeping every answer key."
    ),
    seeds_field="seeds",
    main_hypothesis=headline(
        "Steering along the contrast direction raises held-out accuracy more than a random direction of equal norm.",
        "effect.vs_random",
    ),
)


def _host(config: BaseModel, cache_dir: Path | None) -> BaseModel:
    from tools.datasets.bigbench import default_source

    return config.model_copy(update={"data_root": default_source(), "cache_dir": cache_dir})


def steering_prepare(config: BaseModel, kernel_dir: Path, cache_dir: Path | None) -> None:
    """Host step before the cell: export the contrast activations."""
    from tools.steering.heldout import export_steering_task

    export_steering_task(_host(config, cache_dir), kernel_dir)  # type: ignore[arg-type]


def steering_score(config: BaseModel, kernel_dir: Path, out_dir: Path, cache_dir: Path | None) -> None:
    """Host step after the cell: measure the submitted directions against random controls."""
    from tools.steering.heldout import score_steering_task

    score_steering_task(_host(config, cache_dir), kernel_dir, out_dir)  # type: ignore[arg-type]


STEERING_CELL = """\
# ara recipe: steering (rendered from a typed config; do not edit by hand)
# Held-out protocol: before this cell the host wrote the contrast pairs' activations (steering_task.npz); this
# cell fits one direction per seed and submits it; after it the host steers the model along each direction and
# along random directions of the same norm on held-out items whose answers never leave the host.
# Config: {config_json}
from tools.steering.heldout import fit_steering_task
print(fit_steering_task({out_dir}))
"""


def render_steering(config: BaseModel, out_dir: Path) -> str:
    """The steering cell."""
    return STEERING_CELL.format(config_json=config.model_dump_json(), out_dir=repr(str(out_dir)))
