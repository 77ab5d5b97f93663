"""Structured-output request shapes per backend, payload extraction, and retry feedback.

Covers how a pydantic model becomes request options (``json_schema`` for OpenAI-style servers; ``json_object``
with an inline ``schema`` for llama-cpp-python's server, which answers 500 to ``json_schema``; a forced tool
call) and how an answer is turned back into JSON. Does not send requests.
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
