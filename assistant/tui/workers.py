"""What a pane does when one of its thread workers fails: the error modal, with what to do.

Covers ``describe_error`` (an ``AssistantError`` says what to do; anything else is reported as a bug) and
``show_worker_error``, which a pane calls from its ``on_worker_state_changed``. Worker state messages do not
bubble in Textual, so each pane that owns workers handles its own; the app handles the ones it owns (chat, runs).
Does not cover the work itself.
"""

from __future__ import annotations

import logging

from textual.dom import DOMNode
from textual.worker import Worker, WorkerState

from assistant.errors import AssistantError
from assistant.tui.screens.modals import ErrorModal

log = logging.getLogger(__name__)


def describe_error(error: BaseException) -> tuple[str, str]:
    """Title and message for the error modal: ``AssistantError`` says what to do; anything else is a bug."""
    if isinstance(error, AssistantError):
        return error.title, error.message
    return (
        f"Unexpected {type(error).__name__}",
        f"{type(error).__name__}: {error}\n\nThis is a bug in ara, not something you did. The app keeps working; "
        "a run that crashed keeps its checkpoint: press r on Runs (F3) or type /resume to continue it. "
        "Details are in the log (run with -vv).",
    )


def failed(event: Worker.StateChanged) -> BaseException | None:
    """The error of a worker that just failed, else None."""
    if event.state != WorkerState.ERROR or event.worker.error is None:
        return None
    error: BaseException = event.worker.error
    log.error("worker %s failed", event.worker.name, exc_info=error)
    return error


def show_worker_error(node: DOMNode, event: Worker.StateChanged) -> None:
    """Open the error modal when ``event`` says one of ``node``'s workers failed; the app keeps working."""
    error = failed(event)
    if error is not None:
        title, message = describe_error(error)
        node.app.push_screen(ErrorModal(title, message))
