"""The LLM layer: the only code in ara that imports ``openai``.

Covers one client for any OpenAI-compatible endpoint (chat, streaming, structured output with validation and
retries, usage and token budgets) and the embedded local model server. Does not cover prompts (``prompts/``) or
what the graph does with answers.
"""

from assistant.llm.client import ChatResult, LLMCall, LLMClient, OpenAIClient, Usage, UsageLedger
from assistant.llm.connect import connect_llm

__all__ = ["ChatResult", "LLMCall", "LLMClient", "OpenAIClient", "Usage", "UsageLedger", "connect_llm"]
