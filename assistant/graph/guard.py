"""Structural guards: what the model's output may do is decided by schemas and allow-lists, never by its text.

Covers: keys the model added outside a schema (``unexpected_fields``), imports and dynamic-code builtins in free-mode
cells (``check_free_code``: an import allow-list, so ``subprocess``, ``socket``, ``os``, ``assistant`` and
``tools.vcs`` never reach a kernel from model text), citation keys that were not retrieved, metric names that are
not in results.json, and numbers written into model prose. Each refusal is returned as a ``Blocked`` so the
caller logs an ``InjectionBlocked`` event. Does not judge intent: anything outside the structure is refused,
whatever it says.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from pydantic import BaseModel

from assistant.llm.structured import extract_payload

ALLOWED_IMPORTS = frozenset(
    {
        "numpy",
        "scipy",
        "sklearn",
        "torch",
        "pandas",
        "matplotlib",
        "json",
        "math",
        "random",
        "statistics",
        "pathlib",
        "collections",
        "itertools",
        "functools",
        "time",
        "dataclasses",
        "typing",
        "re",
        "tools.w2s",
        "tools.probes",
        "tools.evals",
        "tools.embeddings",
    }
)
"""Modules a free-mode cell may import (a dotted entry allows that package and its submodules only)."""

FORBIDDEN_CALLS = frozenset({"__import__", "eval", "exec", "compile", "breakpoint", "globals", "vars"})

_NUMBER = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])|\b\d+(?:\.\d+)?\s?%")


class Blocked(NamedTuple):
    """One refusal: which rule and what was refused."""

    rule: str
    detail: str

    def for_model(self) -> str:
        """The refusal as the debugging step reads it: the rule, what was refused and what to write instead (the
        debug prompt does not repeat the write-code prompt, so the allow-list travels with the refusal)."""
        return f"{self.rule}: {self.detail}. {_FIX.get(self.rule, '')}".rstrip()


_FIX = {
    "import_not_allowed": "Remove that import; a cell may import only "
    + ", ".join(sorted(ALLOWED_IMPORTS))
    + ". For files use OUT_DIR (a pathlib.Path that is already defined) and pathlib or json, not os.",
    "dynamic_code": "Remove it: call functions directly.",
    "syntax_error": "Send plain Python source for the code field, without Markdown fences.",
}


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: dict[str, Any] = schema.get("$defs", {}).get(ref.split("/")[-1], {})
        return resolved
    return node


def _walk(schema: dict[str, Any], node: dict[str, Any], value: Any, path: str, out: list[str]) -> None:
    node = _resolve(schema, node)
    for option in node.get("anyOf", []):
        option = _resolve(schema, option)
        if (option.get("type") == "object" and isinstance(value, dict)) or (
            option.get("type") == "array" and isinstance(value, list)
        ):
            node = option
    if isinstance(value, dict) and "properties" in node:
        props = node["properties"]
        for key, item in value.items():
            if key not in props:
                if node.get("additionalProperties", False) is False:
                    out.append(f"{path}{key}")
                continue
            _walk(schema, props[key], item, f"{path}{key}.", out)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, item in enumerate(value):
            _walk(schema, node["items"], item, f"{path}{index}.", out)


def unexpected_fields(raw: str, model: type[BaseModel]) -> list[str]:
    """Dotted paths of keys in the model's raw answer that ``model``'s schema does not have."""
    try:
        payload = extract_payload(raw)
    except ValueError:
        return []
    schema = model.model_json_schema()
    out: list[str] = []
    _walk(schema, schema, payload, "", out)
    return out


def _allowed(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in ALLOWED_IMPORTS)


def check_free_code(code: str) -> list[Blocked]:
    """Refusals for a model-written cell: syntax errors, imports off the allow-list, dynamic-code builtins."""
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        return [Blocked("syntax_error", f"line {err.lineno}: {err.msg}")]
    out: list[Blocked] = []
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            modules = [base] if node.level == 0 else [f".{base}"]
            if base == "tools":
                modules = [f"tools.{alias.name}" for alias in node.names]
        for module in modules:
            if not _allowed(module):
                out.append(Blocked("import_not_allowed", f"import {module}"))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            out.append(Blocked("dynamic_code", f"call to {node.func.id}()"))
        if isinstance(node, ast.Attribute) and node.attr in {"__builtins__", "__subclasses__", "__globals__"}:
            out.append(Blocked("dynamic_code", f"attribute {node.attr}"))
    return out


def unknown_citations(cited: Iterable[str], retrieved: Iterable[str]) -> list[str]:
    """Cited keys that were not among the retrieved evidence."""
    known = set(retrieved)
    return [key for key in cited if key not in known]


def numbers_in_text(text: str) -> list[str]:
    """Decimal numbers and percentages written into model prose (reports take numbers from results.json)."""
    return _NUMBER.findall(text)


def strip_numbers(text: str, replacement: str = "[see metrics table]") -> str:
    """``text`` with decimals and percentages replaced by ``replacement`` (a pointer to the metrics table)."""
    return _NUMBER.sub(replacement, text)
