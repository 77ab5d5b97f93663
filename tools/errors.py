"""Errors raised by ``tools``: what failed, on which input, and what to do.

``ToolError`` is returned to the model as a tool result; ``UserInputError`` means a person must act on
their input (bad config, bad file); ``MissingDependencyError`` names the install command. ``assistant`` maps
the latter two onto its own user-facing errors. Bugs are raised as ordinary exceptions and never caught.
"""

from __future__ import annotations


class ToolError(Exception):
    """A tool failed in a way the model should see and may fix (bad arguments, a failing cell)."""


class UserInputError(ValueError):
    """Input from a person (file, config, dataset name) is invalid; the message says which and what to do."""


class MissingDependencyError(RuntimeError):
    """An optional dependency or offline model package is missing; the message carries the install command."""
