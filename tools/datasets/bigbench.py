"""The one reader of BIG-bench task JSONs (Apache-2.0): validated multiple-choice items and three binary datasets.

Reads a task file from the ``benchmark_tasks`` directory (as in ``/work/shared/datasets/bigbench_tasks``, copied
unchanged from the ``bigbench`` 1.0.0 sdist), from the sdist tarball itself (``bigbench-1.0.0.tar.gz``, read in
place without installing it) or from one task JSON file. Every example is validated (a missing ``input`` or
``target_scores``, fewer than two options, or not exactly one option scored 1 raises ``UserInputError`` naming the
file and example index) and becomes an ``MCItem``. ``TASK_FILES`` lists the tasks this covers: TruthfulQA multiple
choice, HHH alignment (four subtasks), misconceptions, FEVER and PolitiFact fact checking, and StrategyQA.

Built on those items, three binary ``Dataset``s for ``tools.w2s`` and ``tools.probes`` (``load_dataset``):

- ``strategyqa``: 2,290 yes/no questions (label 1 = yes).
- ``misconceptions``: 219 statements (label 1 = true).
- ``truthful_qa``: 299 questions; each gives two examples, its first correct answer (1) and its first incorrect
  answer (0), so the set is balanced (598 examples). An example with no incorrect answer (or not exactly one
  correct one) is skipped here with a warning; ``load_bigbench`` rejects it.

Does not cover generative BIG-bench tasks, scoring, or what evals build from items (true/false statements, contrast
pairs, topic groups, data hashes: ``tools.evals.data``; scoring: ``tools.evals.mc``), and downloads nothing.
"""

from __future__ import annotations

import json
import logging
import os
import tarfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from tools.datasets._base import Dataset
from tools.errors import UserInputError

log = logging.getLogger(__name__)

TaskName = Literal["truthful_qa", "hhh_alignment", "misconceptions", "fever", "politifact", "strategyqa"]
TASK_FILES: dict[str, tuple[str, ...]] = {
    "truthful_qa": ("truthful_qa/task_mc.json",),
    "hhh_alignment": tuple(f"hhh_alignment/{sub}/task.json" for sub in ("harmless", "helpful", "honest", "other")),
    "misconceptions": ("misconceptions/task.json",),
    "fever": ("fact_checker/fever/task.json",),
    "politifact": ("fact_checker/politifact/task.json",),
    "strategyqa": ("strategyqa/task.json",),
}
"""Task name -> task files relative to ``benchmark_tasks``; several files make per-subtask categories."""
_TARBALL_ROOT = "bigbench/benchmark_tasks/"
_TRUE_FALSE = {"T": "True", "F": "False"}
_LICENCE = "(BIG-bench 1.0.0, Apache-2.0)"


class MCItem(BaseModel):
    """One multiple-choice question with exactly one correct option."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    """Stable id: ``<task>/<category>/<index in its file>``."""
    task: str
    """Task name (``truthful_qa``...)."""
    category: str
    """Subtask or, for single-file tasks, the task name; results are broken down by it."""
    question: str
    """The question or statement itself (for true/false tasks with "Is the following statement true or false?")."""
    context: str = ""
    """Text shown before the question: the task's few-shot prefix and input prefix (TruthfulQA's six Q/A shots)."""
    choices: tuple[str, ...]
    """Option texts in file order (``T``/``F`` are spelled ``True``/``False``)."""
    answer: int
    """Index of the correct option in ``choices``."""
    statement: str | None = None
    """For true/false tasks, the bare statement or claim being judged (used for probes)."""


def _read_json_from(source: Path, relative: str) -> tuple[dict[str, Any], str]:
    """Parsed JSON of ``relative`` inside a directory or sdist tarball, plus a display name for errors."""
    if source.is_dir():
        path = source / relative
        if not path.is_file():
            raise UserInputError(
                f"BIG-bench task file {path} does not exist; pass the 'benchmark_tasks' directory "
                f"(e.g. ../shared/datasets/bigbench_tasks) or the bigbench sdist tarball."
            )
        return _parse(path.read_bytes(), str(path)), str(path)
    if not source.exists():
        raise UserInputError(
            f"BIG-bench source {source} does not exist; pass the 'benchmark_tasks' directory "
            f"(e.g. ../shared/datasets/bigbench_tasks) or the bigbench sdist tarball."
        )
    if tarfile.is_tarfile(source):
        with tarfile.open(source) as archive:
            member = next(
                (m for m in archive.getmembers() if m.isfile() and m.name.endswith(_TARBALL_ROOT + relative)),
                None,
            )
            if member is None:
                raise UserInputError(
                    f"{source} holds no '{_TARBALL_ROOT}{relative}'; is it the bigbench 1.0.0 source distribution?"
                )
            handle = archive.extractfile(member)
            assert handle is not None
            name = f"{source}:{member.name}"
            return _parse(handle.read(), name), name
    raise UserInputError(f"{source} is neither a directory nor a tar archive; pass benchmark_tasks or the sdist.")


def _parse(raw: bytes, name: str) -> dict[str, Any]:
    """A task file's JSON object, checked to hold a non-empty ``examples`` list."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise UserInputError(f"{name} is not valid JSON ({err}); re-copy the task file.") from err
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list) or not data["examples"]:
        raise UserInputError(
            f"{name} has no 'examples' list (or it is empty); is it a BIG-bench JSON task file? Re-copy it."
        )
    return data


def items_from_task_json(
    data: dict[str, Any], task: str, category: str, name: str, *, skip_unscorable: bool = False
) -> list[MCItem]:
    """Validate a parsed task file's examples and turn them into ``MCItem``s.

    Args:
        data: The task file's JSON object (with an ``examples`` list).
        task: Task name for the items' ``task`` and ``id``.
        category: Category for the items' ``category`` and ``id``.
        name: The file's display name, used in error messages.
        skip_unscorable: Skip (and log) an example with fewer than two options or not exactly one option scored 1
            instead of raising; ids keep the example's index in the file.

    Raises:
        UserInputError: an example is not an object, lacks ``input`` or ``target_scores``, or (unless
            ``skip_unscorable``) has fewer than two options or does not score exactly one option 1 (the message
            names the file and example index).
    """
    prefix = str(data.get("task_prefix", "")).strip()
    input_prefix = str(data.get("example_input_prefix", "")).strip("\n")
    context = f"{prefix}\n\n{input_prefix}" if prefix else ""
    items = []
    skipped = 0
    for index, example in enumerate(data["examples"]):
        where = f"{name} example {index}"
        if not isinstance(example, dict):
            raise UserInputError(f"{where} is not a JSON object; fix or remove it.")
        missing = [key for key in ("input", "target_scores") if key not in example]
        if missing:
            raise UserInputError(f"{where} lacks field(s) {', '.join(missing)}; fix the file or remove the example.")
        scores = example["target_scores"]
        if not isinstance(scores, dict):
            raise UserInputError(f"{where}: 'target_scores' must map at least two options to 0/1; got {scores!r}.")
        correct = [i for i, value in enumerate(scores.values()) if value == 1]
        if len(scores) < 2 or len(correct) != 1:
            if skip_unscorable:
                skipped += 1
                continue
            if len(scores) < 2:
                raise UserInputError(f"{where}: 'target_scores' must map at least two options to 0/1; got {scores!r}.")
            raise UserInputError(f"{where}: exactly one option must score 1, found {len(correct)}; fix the file.")
        keys = list(scores)
        true_false = set(keys) == set(_TRUE_FALSE)
        choices = tuple(_TRUE_FALSE[k] for k in keys) if true_false else tuple(str(k) for k in keys)
        text = str(example["input"]).strip()
        items.append(
            MCItem(
                id=f"{task}/{category}/{index}",
                task=task,
                category=category,
                question=f"Is the following statement true or false?\n{text}" if true_false else text,
                context="" if true_false else context,
                choices=choices,
                answer=correct[0],
                statement=text if true_false else None,
            )
        )
    if skipped:
        log.warning("skipped %d example(s) of %s without one correct and one wrong option", skipped, name)
    return items


def default_source() -> Path:
    """Where the BIG-bench task files are when no source is given: ``$ARA_BIGBENCH_TASKS``, else
    ``$ARA_SHARED/datasets/bigbench_tasks``, else ``/work/shared/datasets/bigbench_tasks``.

    Raises:
        UserInputError: none of these exists (pass ``source`` explicitly).
    """
    candidates = [os.environ.get("ARA_BIGBENCH_TASKS")]
    if os.environ.get("ARA_SHARED"):
        candidates.append(str(Path(os.environ["ARA_SHARED"]) / "datasets" / "bigbench_tasks"))
    candidates.append("/work/shared/datasets/bigbench_tasks")
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return Path(candidate)
    raise UserInputError(
        "no BIG-bench task files found: set source= (the benchmark_tasks directory or the bigbench sdist tarball) "
        "or ARA_BIGBENCH_TASKS."
    )


def _load(
    source: Path | str | None, task: str, limit: int | None, *, skip_unscorable: bool = False
) -> tuple[list[MCItem], list[str]]:
    """Items of ``task`` (see ``load_bigbench``) and the display names of the files they came from."""
    source = Path(source) if source is not None else default_source()
    if source.is_file() and source.suffix == ".json":
        data = _parse(source.read_bytes(), str(source))
        items = items_from_task_json(data, task, task, str(source), skip_unscorable=skip_unscorable)
        return (items[:limit] if limit is not None else items), [str(source)]
    if task not in TASK_FILES:
        raise UserInputError(f"unknown BIG-bench task {task!r}; choose one of {', '.join(TASK_FILES)}.")
    files = TASK_FILES[task]
    items, names = [], []
    for relative in files:
        data, name = _read_json_from(source, relative)
        category = relative.split("/")[-2] if len(files) > 1 else task
        loaded = items_from_task_json(data, task, category, name, skip_unscorable=skip_unscorable)
        items.extend(loaded[:limit] if limit is not None else loaded)
        names.append(name)
    log.info("loaded %d items of %s from %s", len(items), task, source)
    return items, names


def load_bigbench(source: Path | str | None, task: TaskName | str, limit: int | None = None) -> list[MCItem]:
    """Load a BIG-bench multiple-choice task as validated ``MCItem``s.

    Args:
        source: The ``benchmark_tasks`` directory (``../shared/datasets/bigbench_tasks``), the bigbench sdist
            tarball (``bigbench-1.0.0.tar.gz``), or one task JSON file; None = ``default_source()``.
        task: One of ``TASK_FILES`` (ignored for the file lookup when ``source`` is a JSON file, which is then
            loaded as given, with ``task`` as its task and category name).
        limit: Keep the first ``limit`` items of every category (None = all).

    Returns:
        Items in file order, categories concatenated.

    Raises:
        UserInputError: unknown task, missing source or file, invalid JSON, no examples, or an invalid example.

    Example:
        >>> from tools.datasets.bigbench import load_bigbench
        >>> items = load_bigbench("/work/shared/datasets/bigbench_tasks", "misconceptions", limit=4)
        >>> items[0].choices
        ('True', 'False')
    """
    return _load(source, str(task), limit)[0]


def _source(name: str) -> str:
    return f"{name} {_LICENCE}"


def load_strategyqa(root: Path | str) -> Dataset:
    """StrategyQA yes/no questions (label 1 = yes) from a ``benchmark_tasks`` directory or the sdist tarball."""
    items, names = _load(root, "strategyqa", None)
    texts = tuple(item.question for item in items)
    return Dataset(
        name="strategyqa",
        kind="text",
        texts=texts,
        labels=np.asarray([int(item.choices[item.answer] == "Yes") for item in items], dtype=np.int64),
        source=_source(names[0]),
        label_names=("no", "yes"),
        prompts=tuple(f"Question: {t}\nAnswer (Yes or No):{{answer}}" for t in texts),
        answers=(" No", " Yes"),
    )


def load_misconceptions(root: Path | str) -> Dataset:
    """Statements that are true (1) or common misconceptions (0)."""
    items, names = _load(root, "misconceptions", None)
    texts = tuple(item.statement if item.statement is not None else item.question for item in items)
    return Dataset(
        name="misconceptions",
        kind="text",
        texts=texts,
        labels=np.asarray([int(item.choices[item.answer] == "True") for item in items], dtype=np.int64),
        source=_source(names[0]),
        label_names=("false", "true"),
        prompts=tuple(f"Statement: {t}\nIs this statement true or false? Answer:{{answer}}" for t in texts),
        answers=(" False", " True"),
    )


def load_truthful_qa(root: Path | str) -> Dataset:
    """TruthfulQA multiple choice as balanced (question, answer) pairs: first correct (1), first incorrect (0).

    Examples without exactly one correct and at least one incorrect answer are skipped (logged), not rejected.
    """
    items, names = _load(root, "truthful_qa", None, skip_unscorable=True)
    texts: list[str] = []
    labels: list[int] = []
    for item in items:
        wrong = next(choice for index, choice in enumerate(item.choices) if index != item.answer)
        texts += [f"Q: {item.question}\nA: {item.choices[item.answer]}", f"Q: {item.question}\nA: {wrong}"]
        labels += [1, 0]
    return Dataset(
        name="truthful_qa",
        kind="text",
        texts=tuple(texts),
        labels=np.asarray(labels, dtype=np.int64),
        source=_source(names[0]),
        label_names=("false", "true"),
        prompts=tuple(f"{t}\nIs this answer true or false? Answer:{{answer}}" for t in texts),
        answers=(" False", " True"),
    )
