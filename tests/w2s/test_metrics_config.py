"""Metrics (PGR with undefined cases, bootstrap CIs, agreement) and W2SConfig validation messages."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from tools.research.metrics import accuracy, agreement
from tools.w2s import W2SConfig, bootstrap_summary, pgr


def test_pgr_values_and_undefined_cases() -> None:
    assert pgr(0.6, 0.7, 0.8) == pytest.approx(0.5)
    assert pgr(0.6, 0.55, 0.8) == pytest.approx(-0.25)
    assert math.isnan(pgr(0.8, 0.85, 0.8))
    assert math.isnan(pgr(0.8, 0.85, 0.7))


def test_bootstrap_summary_excludes_and_counts_nan() -> None:
    summary = bootstrap_summary([0.2, 0.4, float("nan"), 0.6, 0.3])
    assert summary.n == 4
    assert summary.excluded == 1
    assert summary.mean == pytest.approx(0.375)
    assert 0.2 <= summary.ci_low < summary.mean < summary.ci_high <= 0.6
    metric = summary.as_metric()
    assert metric["values"][2] is None
    assert metric["ci"] == "bootstrap95"
    empty = bootstrap_summary([float("nan")])
    assert (empty.n, empty.excluded) == (0, 1)
    assert math.isnan(empty.mean)


def test_accuracy_and_agreement() -> None:
    assert accuracy([0.9, 0.2, 0.7, 0.4], [1, 0, 0, 0]) == 0.75
    assert agreement([0.9, 0.2, 0.7], [0.6, 0.1, 0.3]) == pytest.approx(2 / 3)


def _cfg(**kw: object) -> W2SConfig:
    base = {"dataset": "sk_breast_cancer", "weak_features": "tab_coarse", "strong_features": "tab_raw"}
    return W2SConfig.model_validate({**base, **kw})


def test_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(ValidationError, match=r"unknown dataset 'imdb'; valid datasets: rotten_tomatoes, .*sk_breast"):
        _cfg(dataset="imdb")


def test_unknown_model_lists_valid_feature_sets() -> None:
    with pytest.raises(ValidationError, match=r"unknown feature set 'gpt2'; text datasets take bow, minilm"):
        _cfg(strong_features="gpt2")
    with pytest.raises(ValidationError, match="weak_head"):
        _cfg(weak_head="svm")
    with pytest.raises(ValidationError, match="loss"):
        _cfg(loss="hinge")


def test_feature_kind_must_fit_dataset() -> None:
    with pytest.raises(ValidationError, match=r"strong_features='minilm' does not fit tabular dataset"):
        _cfg(strong_features="minilm")
    with pytest.raises(ValidationError, match="bag-of-words is a weak feature set"):
        W2SConfig(dataset="rotten_tomatoes", strong_features="bow")
    with pytest.raises(ValidationError, match="duplicates"):
        _cfg(seeds=[1, 1])


def test_valid_config_slug_and_total() -> None:
    cfg = W2SConfig(dataset="rotten_tomatoes", weak_features="bow", strong_features="smollm2_l16", loss="aux_conf")
    assert cfg.slug() == "rotten_tomatoes__bow-logreg__smollm2_l16-linear__aux_conf"
    assert cfg.n_total == 3000
    assert cfg.seeds == list(range(10))


def test_a_smollm2_to_qwen_ladder_is_valid_but_not_offered_to_the_model() -> None:
    cfg = W2SConfig(dataset="rotten_tomatoes", weak_features="smollm2_l8", strong_features="qwen15_l16")
    assert cfg.strong_features == "qwen15_l16"
    with pytest.raises(ValidationError, match=r"unknown feature set 'qwen15_l29'.*qwen15_l<k> \(k = 0..28\)"):
        W2SConfig(dataset="rotten_tomatoes", strong_features="qwen15_l29")
    enum = W2SConfig.model_json_schema()["properties"]["strong_features"]["enum"]
    assert "smollm2_l16" in enum
    assert not [name for name in enum if name.startswith("qwen15")]
