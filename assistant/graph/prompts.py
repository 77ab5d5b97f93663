"""Prompt templates from the ``prompts`` package (``<node>.<purpose>.md``) and quoting of untrusted data.

A template is ``system text``, a line ``---``, then ``user text``; ``$name`` placeholders are filled with
``string.Template`` (values are never re-parsed, so braces and dollars in data are harmless). Each template's
sha256 goes into the run log. ``quote_data`` is the only way paper text and kernel output reach the model: inside
``<<<DATA ...>>>`` / ``<<<END DATA>>>`` markers that the quoted text cannot close (markers inside it are
defanged). Does not cover sending messages (``assistant.graph.nodes._common``).
"""

from __future__ import annotations

import hashlib
import importlib.resources
from functools import lru_cache
from string import Template
from typing import Any, NamedTuple

OPEN = "<<<DATA"
CLOSE = "<<<END DATA>>>"


class PromptTemplate(NamedTuple):
    """A loaded template."""

    name: str
    system: str
    user: str
    sha256: str


@lru_cache(maxsize=64)
def load_prompt(name: str) -> PromptTemplate:
    """Load ``prompts/<name>.md``.

    Raises:
        FileNotFoundError: no such template (the name is a bug in the calling node).
    """
    raw = importlib.resources.files("prompts").joinpath(f"{name}.md").read_bytes()
    text = raw.decode("utf-8")
    system, sep, user = text.partition("\n---\n")
    if not sep:
        raise ValueError(f"prompts/{name}.md has no '---' line between system and user text")
    return PromptTemplate(name, system.strip(), user.strip(), hashlib.sha256(raw).hexdigest())


def render(template: PromptTemplate, **values: Any) -> list[dict[str, Any]]:
    """Chat messages for ``template`` with ``values`` substituted (missing names raise ``KeyError``)."""
    user = Template(template.user).substitute({k: str(v) for k, v in values.items()})
    system = Template(template.system).substitute({k: str(v) for k, v in values.items()})
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _defang(text: str) -> str:
    return text.replace("<<<", "‹‹‹").replace(">>>", "›››")


def has_markers(text: str) -> bool:
    """True when ``text`` carries quoting markers (an attempt to close the quote and speak as the system)."""
    return "<<<" in text or ">>>" in text


def quote_data(text: str, *, source: str, limit: int = 4000) -> str:
    """Quote untrusted ``text`` (a paper passage, kernel output) as data for the model.

    Args:
        text: The untrusted text.
        source: Where it came from (a citation key, ``cell 3 stderr``); defanged too.
        limit: Characters kept; longer text is cut with an explicit marker (head and tail kept).
    """
    if len(text) > limit:
        half = limit // 2
        text = f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"
    return f"{OPEN} source={_defang(source)!s}>>>\n{_defang(text)}\n{CLOSE}"
