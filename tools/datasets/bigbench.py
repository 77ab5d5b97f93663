"""Loaders for BIG-bench task JSONs (Apache-2.0) from a directory the caller gives.

Expected layout (as in ``/work/shared/datasets/bigbench_tasks``, copied unchanged from the ``bigbench`` 1.0.0
sdist's ``bigbench/benchmark_tasks/``): ``<root>/<task>/task.json`` (``truthful_qa`` uses ``task_mc.json``).

- ``strategyqa``: 2,290 yes/no questions (label 1 = yes).
- ``misconceptions``: 219 statements (label 1 = true).
- ``truthful_qa``: 299 questions; each gives two examples, its first correct answer (1) and its first incorrect
  answer (0), so the set is balanced (598 examples).

Also exposes ``read_task(root, task)`` for other tools (``tools.evals``) that want the raw examples.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tools.datasets._base import Dataset
from tools.errors import UserInputError


def read_task(root: Path | str, task: str, filename: str = "task.json") -> dict[str, Any]:
    """The parsed JSON of ``<root>/<task>/<filename>``, with a clear error when it is missing or malformed."""
    path = Path(root) / task / filename
    if not path.is_file():
        raise UserInputError(f"BIG-bench file {path} not found; pass the directory that holds {task}/{filename}")
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserInputError(f"BIG-bench file {path} is not valid JSON ({err}); restore it from the sdist") from err
    if not isinstance(data.get("examples"), list) or not data["examples"]:
        raise UserInputError(f"BIG-bench file {path} has no 'examples' list")
    return data


def _source(root: Path, task: str, filename: str = "task.json") -> str:
    return f"{root / task / filename} (BIG-bench 1.0.0, Apache-2.0)"


def load_strategyqa(root: Path) -> Dataset:
    """StrategyQA yes/no questions (label 1 = yes)."""
    data = read_task(root, "strategyqa")
    texts, labels = [], []
    for example in data["examples"]:
        scores = example["target_scores"]
        texts.append(str(example["input"]).strip())
        labels.append(int(scores.get("Yes", 0) == 1))
    return Dataset(
        name="strategyqa",
        kind="text",
        texts=tuple(texts),
        labels=np.asarray(labels, dtype=np.int64),
        source=_source(root, "strategyqa"),
        label_names=("no", "yes"),
        prompts=tuple(f"Question: {t}\nAnswer (Yes or No):{{answer}}" for t in texts),
        answers=(" No", " Yes"),
    )


def load_misconceptions(root: Path) -> Dataset:
    """Statements that are true (1) or common misconceptions (0)."""
    data = read_task(root, "misconceptions")
    texts, labels = [], []
    for example in data["examples"]:
        texts.append(str(example["input"]).strip())
        labels.append(int(example["target_scores"].get("T", 0) == 1))
    return Dataset(
        name="misconceptions",
        kind="text",
        texts=tuple(texts),
        labels=np.asarray(labels, dtype=np.int64),
        source=_source(root, "misconceptions"),
        label_names=("false", "true"),
        prompts=tuple(f"Statement: {t}\nIs this statement true or false? Answer:{{answer}}" for t in texts),
        answers=(" False", " True"),
    )


def load_truthful_qa(root: Path) -> Dataset:
    """TruthfulQA multiple choice as balanced (question, answer) pairs: first correct (1), first incorrect (0)."""
    data = read_task(root, "truthful_qa", "task_mc.json")
    texts, labels = [], []
    for example in data["examples"]:
        scores: dict[str, int] = example["target_scores"]
        correct = [answer for answer, score in scores.items() if score == 1]
        wrong = [answer for answer, score in scores.items() if score == 0]
        if not correct or not wrong:
            continue
        question = str(example["input"]).strip()
        texts += [f"Q: {question}\nA: {correct[0]}", f"Q: {question}\nA: {wrong[0]}"]
        labels += [1, 0]
    return Dataset(
        name="truthful_qa",
        kind="text",
        texts=tuple(texts),
        labels=np.asarray(labels, dtype=np.int64),
        source=_source(root, "truthful_qa", "task_mc.json"),
        label_names=("false", "true"),
        prompts=tuple(f"{t}\nIs this answer true or false? Answer:{{answer}}" for t in texts),
        answers=(" False", " True"),
    )
