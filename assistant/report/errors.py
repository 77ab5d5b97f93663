"""Errors the report module raises when a person must act (missing or malformed run files, no converter).

Covers only user-facing errors; they subclass ``AssistantError`` so the CLI exits 2 with the message. A failed
*check* (a fabricated number, an unknown citation) is not an error: it is a ``CheckResult`` with offenders.
"""

from __future__ import annotations

from assistant.errors import AssistantError


class ReportError(AssistantError):
    """A report could not be built, read or written; the message names the file and what to do."""

    def __init__(self, message: str, title: str = "Report failed") -> None:
        super().__init__(message, title=title)


class ResultsFileError(ReportError):
    """``results.json`` (or ``config.json``) is missing, not JSON, or does not follow ``ara.results/1``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, title="Bad results file")


class ConverterMissingError(ReportError):
    """No PDF converter (headless Chromium) is installed."""
