"""Activation steering of a local causal LM: a direction from contrast pairs, added at one layer while it answers.

``tools.steering.direction`` builds the direction (mean difference or logistic-probe weights of contrast-pair
activations) and its random control of the same norm; ``tools.steering.model`` scores multiple-choice items by
choice log-probability with ``coefficient * direction`` added to a decoder block's output; ``tools.steering.run``
runs the experiment (several coefficients and seeds, steered vs random-direction control vs unsteered, paired by
item) and writes ``ara.results/1`` with intervals over items and seeds (``tools.steering.stats``);
``tools.steering.heldout`` splits it for the research loop (the kernel fits the direction, the host evaluates it on
held-out items). Does not generate text.
"""

from tools.steering.config import SteeringConfig
from tools.steering.run import SteeringResult, run_steering

__all__ = ["SteeringConfig", "SteeringResult", "run_steering"]
