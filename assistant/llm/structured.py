"""Structured-output request shapes per backend, token caps, payload extraction, and retry feedback.

Covers how a pydantic model becomes request options (``json_schema`` for OpenAI-style servers; ``json_object``
with an inline ``schema`` for llama-cpp-python's server, which answers 500 to ``json_schema``; a forced tool
call), the token cap a call starts with (sized to the schema: three plans need far more than a brief), how an
answer is turned back into JSON, and the feedback sent after an invalid or truncated answer. Does not send
requests.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

StructuredMode = Literal["auto", "json_schema", "json_object", "tool"]

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema the model is asked to follow."""
    return model.model_json_schema()


GRAMMAR_UNSAFE = frozenset({"maxLength", "minLength"})
"""Keywords llama.cpp expands into repetition grammars; a cap of ~1,500 characters crashed its server here."""


def grammar_safe(schema: Any) -> Any:
    """A copy of ``schema`` without length bounds, for backends that compile schemas into grammars.

    Pydantic still validates the answer against the full model, and a violation is fed back to the model.
    """
    if isinstance(schema, dict):
        return {k: grammar_safe(v) for k, v in schema.items() if k not in GRAMMAR_UNSAFE}
    if isinstance(schema, list):
        return [grammar_safe(v) for v in schema]
    return schema


_STRING_TOKENS = 50
"""Tokens budgeted for a free-text string field (two or three sentences)."""
_OPEN_OBJECT_TOKENS = 160
"""Tokens budgeted for an object without declared properties (a recipe config, a metrics map)."""
_LIST_ITEMS = 3
"""Items budgeted for a list without ``maxItems`` (and at most 5 for one with it)."""
_LONG_TEXT = ("code", "markdown", "python")
"""A string whose description mentions one of these is budgeted as a long text (a cell, a report section)."""


def _estimate(node: Any, defs: dict[str, Any], depth: int = 0) -> int:
    if depth > 8 or not isinstance(node, dict):
        return 8
    if "$ref" in node:
        return _estimate(defs.get(str(node["$ref"]).rsplit("/", 1)[-1], {}), defs, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            return max(_estimate(option, defs, depth + 1) for option in node[key])
    if "enum" in node or "const" in node:
        return 8
    kind = node.get("type")
    if kind == "object":
        props = node.get("properties")
        if not props:
            return _OPEN_OBJECT_TOKENS
        return 4 + sum(6 + _estimate(value, defs, depth + 1) for value in props.values())
    if kind == "array":
        items = min(int(node.get("maxItems", _LIST_ITEMS)), 5)
        return 4 + items * (2 + _estimate(node.get("items", {}), defs, depth + 1))
    if kind == "string":
        text = str(node.get("description", "")).lower()
        return 16 * _STRING_TOKENS if any(word in text for word in _LONG_TEXT) else _STRING_TOKENS
    return 6


def token_cap(model: type[BaseModel], *, floor: int, ceiling: int) -> int:
    """The completion-token cap a structured call for ``model`` starts with: a generous estimate of a full answer
    from the schema (each free-text string ~50 tokens, a code or Markdown string ~800, lists three items or their
    ``maxItems`` up to five, an open object ~160), rounded up to 256 and kept within ``[floor, ceiling]``. Three
    plans with their hypotheses estimate past the default ceiling of 4,096 (the 1.5B model wrote ~860 tokens for
    three plans before hypotheses), a brief or an analysis stays at the floor."""
    schema = schema_of(model)
    estimate = _estimate(schema, schema.get("$defs", {}))
    rounded = -(-estimate // 256) * 256
    return max(floor, min(ceiling, rounded))


def instruction(model: type[BaseModel]) -> str:
    """System text that states the schema (helps weak models even when decoding is constrained)."""
    return (
        f"Answer with one JSON object only, no prose, matching this JSON schema for {model.__name__}:\n"
        + json.dumps(schema_of(model), separators=(",", ":"))
    )


def build_request_options(mode: StructuredMode, model: type[BaseModel]) -> dict[str, Any]:
    """Keyword arguments for ``chat.completions.create`` (plus ``messages_prefix``) for ``mode``."""
    schema = schema_of(model)
    prefix = [{"role": "system", "content": instruction(model)}]
    if mode == "json_schema":
        return {
            "messages_prefix": prefix,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": model.__name__[:64], "schema": schema, "strict": False},
            },
        }
    if mode == "json_object":
        return {"messages_prefix": prefix, "response_format": {"type": "json_object", "schema": grammar_safe(schema)}}
    if mode == "tool":
        name = re.sub(r"[^A-Za-z0-9_-]", "_", model.__name__)[:64]
        return {
            "messages_prefix": prefix,
            "tools": [{"type": "function", "function": {"name": name, "parameters": schema}}],
            "tool_choice": {"type": "function", "function": {"name": name}},
        }
    raise ValueError(f"unknown structured mode {mode!r}")


def extract_payload(text: str) -> Any:
    """Parse the model's answer as JSON, tolerating a Markdown fence or prose around one object.

    Raises:
        ValueError: no JSON object could be found (the message quotes the start of the answer).
    """
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    raise ValueError(f"the answer is not JSON: {text[:200]!r}")


def retry_message(model: type[BaseModel], err: Exception) -> dict[str, Any]:
    """The user message that feeds a validation error back to the model."""
    if isinstance(err, ValidationError):
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in err.errors()[:10])
    else:
        detail = str(err)[:500]
    return {
        "role": "user",
        "content": f"That answer was not a valid {model.__name__}: {detail}. "
        "Reply again with only the corrected JSON object.",
    }


def shorten_message(model: type[BaseModel], cap: int, truncations: int) -> dict[str, Any]:
    """The user message sent after an answer was cut off at ``cap`` tokens; stricter after the first truncation,
    and counting them, so no two retries send the same request even at the ceiling."""
    if truncations <= 1:
        ask = "Answer again with fewer and shorter items: at most two items per list and two sentences per text."
    else:
        ask = (
            "Answer again as briefly as the schema allows: one item per list, one short sentence per text, "
            "and leave out every optional field."
        )
    return {
        "role": "user",
        "content": f"Your {model.__name__} was cut off at the limit of {cap} tokens before the JSON was complete "
        f"(cut off {truncations} time(s) so far). " + ask,
    }
