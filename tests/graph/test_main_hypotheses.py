"""Every research tool's card carries a main hypothesis that resolves against the tool's metrics, so a
plan that states none still runs with a prediction registered before it (``planning.freeze_plan``)."""

from __future__ import annotations

import pytest

from assistant.cards import resolve_hypotheses
from assistant.recipes import default_registry


@pytest.mark.parametrize("name", ["w2s", "probes", "honesty_probes", "mc_eval", "oversight", "cot", "steering"])
def test_a_research_card_main_hypothesis_resolves_on_its_metrics(name: str) -> None:
    recipe = default_registry().get(name)
    card = recipe.card
    assert card is not None
    assert card.main_hypothesis is not None
    config = {"layers": [4, 8]}  # the only field metric names depend on (probes' ``{layer}`` templates)
    resolved = resolve_hypotheses(card, config, [card.main_hypothesis])
    assert resolved.refused == []
    assert resolved.hypotheses
    assert all(h.predicted == "increase" for h in resolved.hypotheses)
    assert all(m in card.metric_names(config) for h in resolved.hypotheses for m in (h.metric, h.baseline) if m)


def test_the_smoke_test_has_no_main_hypothesis() -> None:
    card = default_registry().get("synthetic_w2s").card
    assert card is not None
    assert card.smoke_test
    assert card.main_hypothesis is None
