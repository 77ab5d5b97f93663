"""Choose and build the LLM client from settings: a configured endpoint, or the embedded local server.

Covers the endpoint decision and API-key lookup. Does not cover request logic (``assistant.llm.client``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import httpx

from assistant.llm.client import LLMCall, OpenAIClient, UsageLedger
from assistant.llm.local_server import LocalServer
from assistant.llm.structured import StructuredMode
from assistant.settings import Settings


def connect_llm(
    settings: Settings,
    *,
    http_client: httpx.Client | None = None,
    ledger: UsageLedger | None = None,
    on_call: Callable[[LLMCall], None] | None = None,
) -> OpenAIClient:
    """An ``OpenAIClient`` for the configured endpoint, starting the embedded server when none is set."""
    llm = settings.llm
    mode: StructuredMode
    if llm.base_url is None:
        info = LocalServer(settings.workspace, settings.local_llm).ensure()
        base_url, model, api_key = info.base_url, info.alias, "local"
        mode = "json_object" if llm.structured_mode == "auto" else llm.structured_mode
        timeout_s = settings.local_llm.timeout_s
    else:
        base_url, model = llm.base_url, llm.model
        key = llm.api_key.get_secret_value() if llm.api_key else os.environ.get("OPENAI_API_KEY", "")
        api_key = key or "not-needed"
        mode = llm.structured_mode
        timeout_s = llm.timeout_s
    return OpenAIClient(
        base_url=base_url,
        model=model,
        api_key=api_key,
        timeout_s=timeout_s,
        max_retries=llm.max_retries,
        structured_mode=mode,
        structured_retries=llm.structured_retries,
        temperature=llm.temperature,
        max_tokens=llm.max_tokens,
        structured_max_tokens=llm.structured_max_tokens,
        http_client=http_client,
        ledger=ledger or UsageLedger(llm.token_budget),
        on_call=on_call,
    )
