"""BIG-bench task files as typed multiple-choice items, read from a directory, a JSON file or the sdist tarball.

Covers the honesty/truthfulness tasks kept in ``../shared/datasets/bigbench_tasks`` (TruthfulQA multiple choice,
HHH alignment with its four subtasks, misconceptions, FEVER and PolitiFact fact checking), validating every
example (a missing ``input`` or ``target_scores``, or no option scored 1, raises ``UserInputError`` naming the
file and example), and turning items into true/false statements and contrast pairs for probes. The same loader
reads the task files straight out of the ``bigbench`` source distribution (``bigbench-1.0.0.tar.gz``) without
installing it. Does not cover generative BIG-bench tasks or scoring (``tools.evals.mc``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tools.errors import UserInputError

log = logging.getLogger(__name__)

TaskName = Literal["truthful_qa", "hhh_alignment", "misconceptions", "fever", "politifact"]
TASK_FILES: dict[str, tuple[str, ...]] = {
    "truthful_qa": ("truthful_qa/task_mc.json",),
    "hhh_alignment": tuple(f"hhh_alignment/{sub}/task.json" for sub in ("harmless", "helpful", "honest", "other")),
    "misconceptions": ("misconceptions/task.json",),
    "fever": ("fact_checker/fever/task.json",),
    "politifact": ("fact_checker/politifact/task.json",),
}
"""Task name -> task files relative to ``benchmark_tasks``; several files make per-subtask categories."""
_TARBALL_ROOT = "bigbench/benchmark_tasks/"
_TRUE_FALSE = {"T": "True", "F": "False"}


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


class Statement(BaseModel):
    """A declarative text with its truth value, for honesty probes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    """The statement (question + answer for QA tasks)."""
    label: bool
    """True when the statement is true."""
    group: str
    """Item id, or for true/false tasks the first item of its topic run (``topic_groups``); splits keep groups whole."""


class ContrastPair(BaseModel):
    """Two completions of one item: the same prompt answered "true" and "false" (CCS's x+ and x-)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    positive: str
    """The item with the affirmative completion."""
    negative: str
    """The item with the negative completion."""
    label: bool
    """True when the affirmative completion is the correct one."""
    group: str
    """Item id."""


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
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise UserInputError(f"{name} is not valid JSON ({err}); re-copy the task file.") from err
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise UserInputError(f"{name} has no 'examples' list; is it a BIG-bench JSON task file?")
    return data


def items_from_task_json(data: dict[str, Any], task: str, category: str, name: str) -> list[MCItem]:
    """Validate a parsed task file's examples and turn them into ``MCItem``s.

    Raises:
        UserInputError: an example lacks ``input`` or ``target_scores``, has fewer than two options, or does not
            score exactly one option 1 (the message names the file and example index).
    """
    prefix = str(data.get("task_prefix", "")).strip()
    input_prefix = str(data.get("example_input_prefix", "")).strip("\n")
    context = f"{prefix}\n\n{input_prefix}" if prefix else ""
    items = []
    for index, example in enumerate(data["examples"]):
        where = f"{name} example {index}"
        if not isinstance(example, dict):
            raise UserInputError(f"{where} is not a JSON object; fix or remove it.")
        missing = [key for key in ("input", "target_scores") if key not in example]
        if missing:
            raise UserInputError(f"{where} lacks field(s) {', '.join(missing)}; fix the file or remove the example.")
        scores = example["target_scores"]
        if not isinstance(scores, dict) or len(scores) < 2:
            raise UserInputError(f"{where}: 'target_scores' must map at least two options to 0/1; got {scores!r}.")
        correct = [i for i, value in enumerate(scores.values()) if value == 1]
        if len(correct) != 1:
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


def load_bigbench(source: Path | str | None, task: TaskName | str, limit: int | None = None) -> list[MCItem]:
    """Load a BIG-bench multiple-choice task as ``MCItem``s.

    Args:
        source: The ``benchmark_tasks`` directory (``../shared/datasets/bigbench_tasks``), the bigbench sdist
            tarball (``bigbench-1.0.0.tar.gz``), or one task JSON file; None = ``default_source()``.
        task: One of ``truthful_qa``, ``hhh_alignment``, ``misconceptions``, ``fever``, ``politifact`` (ignored
            for the category name when ``source`` is a JSON file, which is then loaded as given).
        limit: Keep the first ``limit`` items of every category (None = all).

    Returns:
        Items in file order, categories concatenated.

    Raises:
        UserInputError: unknown task, missing or malformed file, or an invalid example.

    Example:
        >>> from tools.evals.data import load_bigbench
        >>> items = load_bigbench("/work/shared/datasets/bigbench_tasks", "misconceptions", limit=4)
        >>> items[0].choices
        ('True', 'False')
    """
    source = Path(source) if source is not None else default_source()
    if source.is_file() and source.suffix == ".json":
        data = _parse(source.read_bytes(), str(source))
        items = items_from_task_json(data, str(task), str(task), str(source))
        return items[:limit] if limit is not None else items
    if task not in TASK_FILES:
        raise UserInputError(f"unknown BIG-bench task {task!r}; choose one of {', '.join(TASK_FILES)}.")
    files = TASK_FILES[task]
    items = []
    for relative in files:
        data, name = _read_json_from(source, relative)
        category = relative.split("/")[-2] if len(files) > 1 else str(task)
        loaded = items_from_task_json(data, str(task), category, name)
        items.extend(loaded[:limit] if limit is not None else loaded)
    log.info("loaded %d items of %s from %s", len(items), task, source)
    return items


def data_hash(items: Sequence[MCItem]) -> str:
    """``sha256:<hex>`` over the items' JSON, for results provenance."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(item.model_dump_json().encode())
    return f"sha256:{digest.hexdigest()}"


_STOPWORDS = frozenset(
    ["there", "their", "these", "those", "which", "about", "would", "could", "should", "being", "because", "after",
     "before", "other", "where", "while", "people"]
)  # fmt: skip


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 5 and w not in _STOPWORDS}


def topic_groups(items: Sequence[MCItem]) -> list[str]:
    """A group id per item: consecutive true/false statements sharing a content word (>= 5 letters) share a group.

    The misconceptions file lists each misconception beside its correction ("Twinkies are edible for decades" /
    "Twinkies have a shelf life of just 45 days"), with opposite labels. Splitting such a pair across train and test
    lets a probe learn topic -> label from one and score the other inverted (measured: 0.36-0.43 test accuracy,
    below chance), so pairs must stay together. QA items keep their own id (their options already share it).
    """
    groups: list[str] = []
    previous: MCItem | None = None
    for item in items:
        same = (
            previous is not None
            and item.statement is not None
            and previous.statement is not None
            and previous.category == item.category
            and bool(_content_words(item.statement) & _content_words(previous.statement))
        )
        groups.append(groups[-1] if same else item.id)
        previous = item
    return groups


def statements(items: Sequence[MCItem]) -> list[Statement]:
    """Every (question, option) of every item as a statement labelled by whether the option is correct.

    True/false tasks give the bare statement labelled with its truth; QA tasks give ``question`` + option.

    Example:
        >>> from tools.evals.data import MCItem, statements
        >>> item = MCItem(id="t/t/0", task="t", category="t", question="2+2?", choices=("4", "5"), answer=0)
        >>> [(s.text, s.label) for s in statements([item])]
        [('2+2? 4', True), ('2+2? 5', False)]
    """
    out = []
    for item, group in zip(items, topic_groups(items), strict=True):
        if item.statement is not None:
            out.append(Statement(text=item.statement, label=item.choices[item.answer] == "True", group=group))
            continue
        for index, choice in enumerate(item.choices):
            out.append(Statement(text=f"{item.question} {choice}", label=index == item.answer, group=group))
    return out


def contrast_pairs(
    items: Sequence[MCItem], template: str = "{statement}\nIs this true? {answer}"
) -> list[ContrastPair]:
    """CCS contrast pairs: each statement completed with "Yes" (positive) and "No" (negative).

    Args:
        items: Items from ``load_bigbench``.
        template: Format string with ``{statement}`` and ``{answer}``.

    Returns:
        One pair per statement from ``statements(items)``; ``label`` is the statement's truth.
    """
    return [
        ContrastPair(
            positive=template.format(statement=s.text, answer="Yes"),
            negative=template.format(statement=s.text, answer="No"),
            label=s.label,
            group=s.group,
        )
        for s in statements(items)
    ]
