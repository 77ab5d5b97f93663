"""Errors a user (or the model) must act on.

Covers the typed errors that cross module lines in ``assistant``. Three kinds exist in ara: ``ToolError`` (goes
back to the model as a tool result, defined in ``tools.errors``), ``AssistantError`` (a person must act: the CLI
exits 2 and the TUI shows a modal) and bugs (raised, never caught). Does not cover tool-side errors.
"""

from __future__ import annotations


class AssistantError(Exception):
    """A failure the user must act on. ``str(err)`` says what failed, on which input, and what to do."""

    def __init__(self, message: str, title: str = "ara") -> None:
        super().__init__(message)
        self.message = message
        self.title = title

    def __str__(self) -> str:
        return self.message


class SettingsError(AssistantError):
    """A settings file or variable is malformed or names an unknown setting."""


class LLMError(AssistantError):
    """A language-model call failed in a way retries did not fix."""


class EndpointUnreachableError(LLMError):
    """The configured OpenAI-compatible endpoint could not be reached or answered garbage."""


class EndpointResponseError(LLMError):
    """The endpoint answered, but not with an OpenAI-style JSON response (HTML, truncated JSON, no choices)."""


class EndpointStatusError(LLMError):
    """The endpoint answered an HTTP error status that retries did not clear."""

    def __init__(self, message: str, *, status_code: int, title: str = "LLM endpoint error") -> None:
        super().__init__(message, title=title)
        self.status_code = status_code


class LocalModelError(LLMError):
    """The embedded local model server could not be found, started or stopped."""


class StructuredOutputError(LLMError):
    """The model did not produce an object valid for the requested schema within the allowed retries."""

    def __init__(self, message: str, *, last_output: str, errors: list[str]) -> None:
        super().__init__(message, title="Structured output failed")
        self.last_output = last_output
        self.errors = errors


class BudgetExceededError(AssistantError):
    """A run budget (tokens, wall time, cells, debug attempts, money) is used up."""

    def __init__(self, message: str, *, budget: str) -> None:
        super().__init__(message, title="Budget exhausted")
        self.budget = budget
