"""Fixtures for the evals tests: Inspect's mockllm made usable offline."""

from __future__ import annotations

import pytest
from inspect_ai.model._providers.mockllm import MockLLM


@pytest.fixture(autouse=True)
def _offline_mockllm_token_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """mockllm counts input tokens with tiktoken's o200k_base, which downloads on first use; estimate instead."""

    async def count_text_tokens(self: MockLLM, text: str) -> int:
        return max(1, len(text) // 4)

    monkeypatch.setattr(MockLLM, "count_text_tokens", count_text_tokens)
