"""Verdicts computed from the results, never written: ``effect_of``, ``verdict_of`` and ``evaluate_hypothesis`` on
constructed results (one seed, two seeds, zero-width and one-sided intervals, undefined PGR seeds, pairing, items,
minimum effects, Bonferroni families)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pytest

from assistant.cards import PROBES, resolve_hypotheses
from assistant.report import ExperimentRecord, Metric, ResultsDocument
from assistant.report.build import evaluate_hypotheses
from assistant.report.stats import Effect, effect_of, evaluate_hypothesis, verdict_of
from assistant.schemas import Hypothesis

Predicted = Literal["increase", "decrease"]


def _results(**metrics: Metric) -> ResultsDocument:
    return ResultsDocument(metrics=metrics)


def _hypothesis(
    metric: str = "m",
    baseline: str | None = None,
    predicted: Predicted = "increase",
    null: float = 0.0,
    min_effect: float = 0.0,
    hid: str = "H1",
) -> Hypothesis:
    return Hypothesis(
        id=hid,
        statement="A prediction.",
        metric=metric,
        baseline=baseline,
        predicted=predicted,
        null=null,
        min_effect=min_effect,
    )


GAIN = [0.03, -0.02, 0.04, 0.03, -0.01, 0.05, 0.02, 0.03, 0.05, -0.02]
"""Per-seed gains whose 95% interval just excludes zero and whose 99% interval does not."""


def test_one_seed_is_insufficient() -> None:
    result = evaluate_hypothesis(_hypothesis(), _results(m=Metric(values=[0.4])))

    assert (result.verdict, result.n, result.estimate) == ("insufficient", 1, 0.4)
    assert (result.ci_low, result.ci_high) == (None, None)
    assert result.method == "only 1 seed(s) with a defined value (at least 3 needed)"


def test_two_seeds_are_insufficient_however_large_the_effect() -> None:
    result = evaluate_hypothesis(_hypothesis(), _results(m=Metric(values=[0.9, 0.95])))

    assert (result.verdict, result.n) == ("insufficient", 2)
    assert result.method == "only 2 seed(s) with a defined value (at least 3 needed)"


def test_a_single_value_without_interval_is_insufficient() -> None:
    result = evaluate_hypothesis(_hypothesis(), _results(m=Metric(value=0.9)))

    assert (result.verdict, result.estimate) == ("insufficient", 0.9)
    assert result.method == "no interval: a single value cannot settle a hypothesis"


def test_a_metrics_own_interval_over_too_few_seeds_is_insufficient() -> None:
    result = evaluate_hypothesis(_hypothesis(), _results(m=Metric(mean=0.3, ci_low=0.2, ci_high=0.4, n=2)))

    assert (result.verdict, result.method) == (
        "insufficient",
        "only 2 seed(s) with a defined value (at least 3 needed)",
    )


def test_zero_width_interval() -> None:
    flat = _results(m=Metric(values=[0.25, 0.25, 0.25, 0.25]))

    above_zero = evaluate_hypothesis(_hypothesis(), flat)
    at_the_null = evaluate_hypothesis(_hypothesis(null=0.25), flat)

    assert (above_zero.ci_low, above_zero.ci_high, above_zero.n) == (0.25, 0.25, 4)
    assert above_zero.method == "percentile bootstrap over 4 seeds (all values equal: a zero-width interval)"
    assert above_zero.verdict == "supported"
    # an interval sitting exactly on the null excludes it on neither side
    assert at_the_null.verdict == "inconclusive"


def test_one_sided_interval() -> None:
    lower_only = _results(m=Metric(mean=0.3, ci_low=0.1, n=5, ci="one-sided95"))

    increase = evaluate_hypothesis(_hypothesis(predicted="increase"), lower_only)
    decrease = evaluate_hypothesis(_hypothesis(predicted="decrease"), lower_only)
    straddling = evaluate_hypothesis(_hypothesis(), _results(m=Metric(mean=0.3, ci_low=-0.1, n=5)))

    assert (increase.ci_low, increase.ci_high) == (0.1, None)
    assert increase.method == "the tool's own interval (one-sided95, n = 5) (one-sided)"
    assert increase.verdict == "supported"
    assert decrease.verdict == "refuted"
    # without an upper end nothing can show the effect is below zero: not refuted, only unsettled
    assert straddling.verdict == "inconclusive"


def test_undefined_pgr_seeds_are_left_out_and_counted() -> None:
    # PGR is undefined (NaN) for a seed whose ceiling did not beat its weak supervisor
    some = _results(pgr=Metric(values=[0.2, math.nan, 0.3, math.nan, 0.25, 0.22]))
    most = _results(pgr=Metric(values=[0.2, math.nan, math.nan, math.nan]))

    effect = effect_of(some, "pgr")
    kept = evaluate_hypothesis(_hypothesis("pgr"), some)
    too_few = evaluate_hypothesis(_hypothesis("pgr"), most)

    assert (effect.n, effect.excluded) == (4, 2)
    assert effect.estimate == pytest.approx(0.2425)
    assert kept.verdict == "supported"
    assert kept.method == "percentile bootstrap over 4 seeds; 2 undefined value(s) left out"
    assert (too_few.verdict, too_few.n, too_few.estimate) == ("insufficient", 1, 0.2)
    assert too_few.method == ("only 1 seed(s) with a defined value (at least 3 needed); 3 undefined value(s) left out")


def test_all_seeds_undefined() -> None:
    result = evaluate_hypothesis(_hypothesis("pgr"), _results(pgr=Metric(values=[math.nan] * 5)))

    assert (result.verdict, result.estimate, result.n) == ("insufficient", None, 0)
    assert result.method == "all 5 values are undefined"
    assert not result.more_data_can_settle, "a metric undefined on every seed is not fixed by more seeds"


def test_non_finite_metrics_are_insufficient() -> None:
    nan_mean = evaluate_hypothesis(_hypothesis(), _results(m=Metric(mean=math.nan, ci_low=0.1, ci_high=0.2)))
    inf_bound = evaluate_hypothesis(_hypothesis(), _results(m=Metric(mean=0.1, ci_low=-math.inf, ci_high=0.2)))

    assert (nan_mean.verdict, nan_mean.method) == ("insufficient", "the metric is NaN")
    assert (inf_bound.verdict, inf_bound.method) == ("insufficient", "the interval is not finite")


def test_pairing_by_seed_matters() -> None:
    # the new condition beats the old on every seed by the same margin, but seeds differ a lot from each other
    new = [0.10, 0.50, 0.90, 0.30, 0.70]
    old = [v - 0.02 for v in new]
    results = _results(new=Metric(values=new), old=Metric(values=old), old_extra=Metric(values=[*old, 0.5]))

    paired = evaluate_hypothesis(_hypothesis("new", "old"), results)
    unpaired = evaluate_hypothesis(_hypothesis("new", "old_extra"), results)

    assert paired.method == "paired percentile bootstrap over 5 seeds"
    assert paired.estimate == pytest.approx(0.02)
    assert paired.ci_low == pytest.approx(0.02)
    assert paired.ci_high == pytest.approx(0.02)
    assert paired.verdict == "supported"
    assert unpaired.method == "unpaired percentile bootstrap (5 vs 6 values)"
    assert unpaired.ci_low is not None
    assert unpaired.ci_low < 0 < (unpaired.ci_high or 0)
    assert unpaired.verdict == "inconclusive"


def test_a_comparison_without_per_seed_values_has_no_interval() -> None:
    # two separate intervals, overlapping or not, do not test the difference
    results = _results(
        a=Metric(mean=0.9, ci_low=0.85, ci_high=0.95, n=10), b=Metric(mean=0.1, ci_low=0.05, ci_high=0.15)
    )

    result = evaluate_hypothesis(_hypothesis("a", "b"), results)

    assert (result.verdict, result.estimate) == ("insufficient", pytest.approx(0.8))
    assert result.method.startswith("no per-seed values to pair a with b: no interval for the difference")


def test_unknown_metrics_are_insufficient_with_the_name() -> None:
    assert evaluate_hypothesis(_hypothesis("ghost"), _results()).method == "metric 'ghost' is not in the results"
    assert evaluate_hypothesis(_hypothesis("m", "ghost"), _results(m=Metric(values=[1.0, 2.0, 3.0]))).method == (
        "baseline metric 'ghost' is not in the results"
    )


def _items(n: int, correct: int, seed: int = 3) -> list[float]:
    outcomes = np.zeros(n)
    outcomes[:correct] = 1.0
    np.random.default_rng(seed).shuffle(outcomes)
    return [float(v) for v in outcomes]


def test_item_level_intervals() -> None:
    results = _results(
        acc=Metric(values=_items(200, 167), over="items"),
        acc_small=Metric(values=_items(9, 8), over="items"),
        acc_unlabelled=Metric(values=_items(200, 167)),
    )

    chance = _hypothesis("acc", null=0.5)
    result = evaluate_hypothesis(chance, results)
    small = evaluate_hypothesis(_hypothesis("acc_small", null=0.5), results)
    from_card = evaluate_hypothesis(_hypothesis("acc_unlabelled", null=0.5), results, over="items")

    assert (result.verdict, result.n, result.over) == ("supported", 200, "items")
    assert result.estimate == pytest.approx(0.835)
    assert result.method == "percentile bootstrap over 200 items"
    assert result.ci_low is not None
    assert 0.77 < result.ci_low < 0.835 < (result.ci_high or 0) < 0.9
    # nine items pass the seed rule (>= 3) but not the item rule (>= 10)
    assert (small.verdict, small.method) == ("insufficient", "only 9 test items (at least 10 needed)")
    # the card says what a metric's values are over when the metric itself does not
    assert (from_card.over, from_card.ci_low, from_card.ci_high) == ("items", result.ci_low, result.ci_high)


def test_min_effect_moves_the_threshold() -> None:
    results = _results(gain=Metric(values=[0.05, 0.06, 0.04, 0.05, 0.07, 0.03, 0.05, 0.06]))

    verdicts = {
        min_effect: evaluate_hypothesis(_hypothesis("gain", min_effect=min_effect), results).verdict
        for min_effect in (0.0, 0.02, 0.05, 0.1)
    }

    # interval ~[0.042, 0.057]: beyond 0.02, straddles 0.05, wholly short of 0.1
    assert verdicts == {0.0: "supported", 0.02: "supported", 0.05: "inconclusive", 0.1: "refuted"}


def test_bonferroni_family_widens_the_interval() -> None:
    results = _results(gain=Metric(values=GAIN))

    alone = evaluate_hypothesis(_hypothesis("gain"), results, family=1)
    in_family = evaluate_hypothesis(_hypothesis("gain", hid="H1@layer_4"), results, family=5)

    assert alone.ci_low is not None
    assert alone.ci_high is not None
    assert in_family.ci_low is not None
    assert in_family.ci_high is not None
    assert in_family.ci_low < alone.ci_low
    assert in_family.ci_high > alone.ci_high
    assert alone.estimate == in_family.estimate
    assert (alone.verdict, in_family.verdict) == ("supported", "inconclusive")
    assert in_family.method == "percentile bootstrap over 10 seeds at 0.99 (Bonferroni-adjusted)"


def test_families_from_the_card_are_adjusted_in_the_report() -> None:
    # "probe beats CCS" over two layers resolves to H1@layer_2 and H1@layer_4, each tested at 97.5%
    config = {"layers": [2, 4]}
    resolved = resolve_hypotheses(
        PROBES, config, [Hypothesis(statement="The probe beats CCS.", metric="probe_vs_ccs", predicted="increase")]
    )
    assert resolved.refused == []
    items = {f"probe_acc.layer_{k}": Metric(values=_items(200, 170, k)) for k in (2, 4)}
    items |= {f"ccs_acc.layer_{k}": Metric(values=_items(200, 120, k + 10)) for k in (2, 4)}
    experiment = ExperimentRecord(
        tool="probes", metric_over={m.name: m.over for m in PROBES.metrics}, hypotheses=resolved.hypotheses
    )

    verdicts = evaluate_hypotheses(ResultsDocument(metrics=items), experiment)

    assert [(h.id, h.metric, h.baseline, h.over) for h in verdicts] == [
        ("H1@layer_2", "probe_acc.layer_2", "ccs_acc.layer_2", "items"),
        ("H1@layer_4", "probe_acc.layer_4", "ccs_acc.layer_4", "items"),
    ]
    assert all(h.method.endswith("over 200 items at 0.975 (Bonferroni-adjusted)") for h in verdicts)
    assert all(h.method.startswith("paired") for h in verdicts)
    assert [h.verdict for h in verdicts] == ["supported", "supported"]


def test_predicted_decrease() -> None:
    results = _results(loss_delta=Metric(values=[-0.3, -0.2, -0.25, -0.35, -0.28]))

    decrease = evaluate_hypothesis(_hypothesis("loss_delta", predicted="decrease"), results)
    increase = evaluate_hypothesis(_hypothesis("loss_delta", predicted="increase"), results)

    assert decrease.verdict == "supported"
    assert increase.verdict == "refuted"
    assert decrease.ci_high is not None
    assert decrease.ci_high < 0


def test_refuted_when_the_interval_excludes_the_null_the_other_way() -> None:
    # predicted: the student beats its supervisor; it is worse on every seed
    results = _results(
        w2s_acc=Metric(values=[0.60, 0.62, 0.58, 0.61, 0.59]), weak_acc=Metric(values=[0.70, 0.71, 0.69, 0.72, 0.70])
    )

    result = evaluate_hypothesis(_hypothesis("w2s_acc", "weak_acc"), results)

    assert result.verdict == "refuted"
    assert result.estimate == pytest.approx(-0.104)
    assert result.ci_high is not None
    assert result.ci_high < 0


@pytest.mark.parametrize(
    ("low", "high", "predicted", "null", "min_effect", "verdict"),
    [
        (0.1, 0.5, "increase", 0.0, 0.0, "supported"),
        (0.1, 0.5, "decrease", 0.0, 0.0, "refuted"),
        (-0.5, -0.1, "decrease", 0.0, 0.0, "supported"),
        (-0.5, -0.1, "increase", 0.0, 0.0, "refuted"),
        (-0.1, 0.3, "increase", 0.0, 0.0, "inconclusive"),
        (0.0, 0.3, "increase", 0.0, 0.0, "inconclusive"),  # touching the null does not exclude it
        (0.55, 0.7, "increase", 0.5, 0.0, "supported"),  # accuracy above chance
        (0.55, 0.7, "increase", 0.5, 0.1, "inconclusive"),
        (0.3, 0.45, "decrease", 0.5, 0.1, "inconclusive"),
        (0.3, 0.39, "decrease", 0.5, 0.1, "supported"),
        (None, -0.1, "decrease", 0.0, 0.0, "supported"),  # one-sided, upper end only
        (None, -0.1, "increase", 0.0, 0.0, "refuted"),
        (None, 0.1, "decrease", 0.0, 0.0, "inconclusive"),
    ],
)
def test_verdict_of(
    low: float | None, high: float | None, predicted: Predicted, null: float, min_effect: float, verdict: str
) -> None:
    effect = Effect(estimate=0.0, ci_low=low, ci_high=high, n=5, method="constructed")

    assert verdict_of(effect, predicted, null, min_effect) == verdict


def test_an_unusable_effect_is_insufficient_whatever_its_interval() -> None:
    effect = Effect(estimate=0.5, ci_low=0.4, ci_high=0.6, n=2, method="too few", usable=False)

    assert verdict_of(effect, "increase") == "insufficient"


def test_the_bootstrap_is_deterministic() -> None:
    results = _results(a=Metric(values=GAIN), b=Metric(values=[0.0] * 10))

    assert effect_of(results, "a", "b") == effect_of(results, "a", "b")
    assert evaluate_hypothesis(_hypothesis("a"), results) == evaluate_hypothesis(_hypothesis("a"), results)


def test_a_comparison_on_the_same_items_is_a_paired_test() -> None:
    # CCS gets right exactly the items the probe gets right, minus eight: separate intervals overlap widely, the
    # paired differences (0 on 192 items, 1 on 8) do not include zero
    probe = _items(200, 160)
    ccs = list(probe)
    for i in [i for i, v in enumerate(probe) if v == 1.0][:8]:
        ccs[i] = 0.0
    resolved = resolve_hypotheses(
        PROBES,
        {"layers": [6]},
        [Hypothesis(statement="The probe beats CCS.", metric="probe_vs_ccs", predicted="increase")],
    )
    [comparison] = [c for c in PROBES.comparisons if c.name == "probe_vs_ccs"]
    assert comparison.paired == "items"
    results = _results(
        **{
            "probe_acc.layer_6": Metric(values=probe, over="items", mean=0.8, ci_low=0.74, ci_high=0.85),
            "ccs_acc.layer_6": Metric(values=ccs, over="items", mean=0.76, ci_low=0.7, ci_high=0.82),
        }
    )
    experiment = ExperimentRecord(
        tool="probes", metric_over={m.name: m.over for m in PROBES.metrics}, hypotheses=resolved.hypotheses
    )

    [verdict] = evaluate_hypotheses(results, experiment)

    assert (verdict.id, verdict.metric, verdict.baseline) == ("H1", "probe_acc.layer_6", "ccs_acc.layer_6")
    assert verdict.estimate == pytest.approx(0.04)
    assert verdict.method == "paired percentile bootstrap over 200 items"
    assert verdict.ci_low is not None
    assert 0 < verdict.ci_low < 0.04 < (verdict.ci_high or 0)
    assert verdict.verdict == "supported"
    unpaired = effect_of(
        _results(a=Metric(values=probe, over="items"), b=Metric(values=[*ccs, 1.0], over="items")), "a", "b"
    )
    assert unpaired.ci_low is not None
    assert unpaired.ci_low < 0, "ignoring the pairing loses the effect"


def test_a_seeds_metric_is_never_paired_with_an_items_metric() -> None:
    results = _results(
        w2s=Metric(values=[0.8, 0.82, 0.79], over="seeds"), weak=Metric(values=[0.7, 0.71, 0.69], over="items")
    )

    result = evaluate_hypothesis(_hypothesis("w2s", "weak"), results)

    assert result.verdict == "insufficient"
    assert result.estimate is None
    assert result.method.startswith("w2s is over seeds and weak over items: their values cannot be paired")


def test_a_family_survives_the_plan_being_stored_and_frozen_again() -> None:
    # plans are stored as JSON and frozen again at approval: the layer members keep their ids (and so their family
    # and its Bonferroni adjustment) instead of being cut or renumbered
    config = {"layers": [8, 16]}
    first = resolve_hypotheses(
        PROBES, config, [Hypothesis(statement="The probe beats CCS.", metric="probe_vs_ccs", predicted="increase")]
    ).hypotheses
    stored = [Hypothesis.model_validate_json(h.model_dump_json()) for h in first]
    again = resolve_hypotheses(PROBES, config, stored)

    assert again.refused == []
    assert [h.id for h in again.hypotheses] == ["H1@layer_8", "H1@layer_16"]
    assert [(h.metric, h.baseline) for h in again.hypotheses] == [
        ("probe_acc.layer_8", "ccs_acc.layer_8"),
        ("probe_acc.layer_16", "ccs_acc.layer_16"),
    ]
