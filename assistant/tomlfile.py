"""Reading user-written TOML files (``ara.toml``, campaign files) with errors that name the file, line and key.

Covers parsing, mapping each key (also inside ``[table]`` and ``[[array-of-tables]]`` sections) to its line,
and turning a pydantic ``ValidationError`` into one readable sentence per problem. Does not cover what the
files mean: ``assistant.settings`` and ``assistant.campaign.spec`` own their schemas.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from assistant.errors import AssistantError

Loc = tuple[str | int, ...]
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*(\"[^\"]+\"|'[^']+'|[A-Za-z0-9_.-]+)\s*=")


@dataclass(frozen=True)
class TomlDoc:
    """A parsed TOML file and the line of each key."""

    path: Path
    data: dict[str, Any]
    text: str

    def line_of(self, loc: Loc) -> int | None:
        """The line of the deepest prefix of ``loc`` that names a key or table in the file."""
        lines = key_lines(self.text)
        for end in range(len(loc), 0, -1):
            if loc[:end] in lines:
                return lines[loc[:end]]
        return None


def _split(dotted: str) -> list[str]:
    return [part.strip().strip("\"'") for part in dotted.split(".")]


def key_lines(text: str) -> dict[Loc, int]:
    """Map every key path (array-of-table entries indexed from 0) to its 1-based line."""
    out: dict[Loc, int] = {}
    table: Loc = ()
    counters: dict[Loc, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            path = tuple(_split(header.group(2)))
            if header.group(1) == "[[":
                index = counters.get(path, -1) + 1
                counters[path] = index
                table = (*path, index)
            else:
                table = path
            out.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            out.setdefault((*table, *_split(key.group(1))), number)
    return out


def read_toml(path: Path, *, error: type[AssistantError], what: str, fix: str) -> TomlDoc:
    """Parse ``path`` (an absent file is an empty document).

    Raises:
        error: the file is not valid TOML; the message names the file, the line and ``fix``.
    """
    if not path.is_file():
        return TomlDoc(path=path, data={}, text="")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{path} is not UTF-8 text ({err}); save it as UTF-8.", title=f"Malformed {what}") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise error(f"{path} is not valid TOML: {err}. {fix}", title=f"Malformed {what}") from err
    return TomlDoc(path=path, data=data, text=text)


def explain_validation(err: ValidationError, doc: TomlDoc, *, unknown_hint: str, elsewhere: str) -> str:
    """One clause per problem: the dotted key, ``file:line`` (or ``elsewhere`` when not in the file), the issue."""
    parts = []
    for item in err.errors():
        loc: Loc = tuple(item["loc"])
        dotted = ".".join(str(p) for p in loc)
        line = doc.line_of(loc) if doc.text else None
        where = f"{doc.path}:{line}" if line else elsewhere
        if item["type"] == "extra_forbidden":
            parts.append(f"unknown setting '{dotted}' ({where}); {unknown_hint}")
        else:
            parts.append(f"'{dotted}' ({where}): {item['msg']} (got {item.get('input')!r})")
    return "; ".join(parts)
