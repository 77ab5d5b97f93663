"""What evals build from BIG-bench items: true/false statements, contrast pairs, topic groups, data hashes.

Reading and validating the task files (directory, sdist tarball or one JSON file) lives in
``tools.datasets.bigbench``, the one BIG-bench reader; its ``MCItem``, ``TaskName``, ``TASK_FILES``,
``default_source``, ``items_from_task_json`` and ``load_bigbench`` are re-exported here so evals code and callers
import everything BIG-bench from one place. Does not cover reading files, generative BIG-bench tasks, or scoring
(``tools.evals.mc``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from tools.datasets.bigbench import TASK_FILES, MCItem, TaskName, default_source, items_from_task_json, load_bigbench

__all__ = [
    "TASK_FILES",
    "ContrastPair",
    "MCItem",
    "Statement",
    "TaskName",
    "contrast_pairs",
    "data_hash",
    "default_source",
    "items_from_task_json",
    "load_bigbench",
    "statements",
    "topic_groups",
]


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
