"""Modal screens: the error modal, the help screen, the plan editor and the comment prompt.

Covers ``ErrorModal`` (title, what failed, what to do; dismissed with enter/escape, the app stays usable),
``HelpScreen`` (every key and slash command), ``ReportScreen`` (a run's Markdown report, cut at ``REPORT_LIMIT``),
``PlanEditModal`` (the plan as JSON in a text area; returns a
validated ``ExperimentPlan`` or None) and ``CommentModal`` (a comment for a decision, or None when cancelled).
Does not cover what happens with their results (the app).
"""

from __future__ import annotations

import json
from typing import ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Markdown, Static, TextArea

from assistant.schemas import ExperimentPlan
from assistant.tui.commands import COMMANDS

KEYS = [
    ("F1", "this help"),
    ("F2 / F3 / F4 / F5", "Chat / Runs / Papers / Review"),
    ("tab, shift+tab", "move between widgets"),
    ("enter", "send message, search, open proposal"),
    ("1-9 on a plan card", "choose which plan a / e act on"),
    ("a / e / x on a plan card", "approve / edit (ctrl+s saves) / reject"),
    ("enter, g on Runs", "open the highlighted run / re-read the runs on disk"),
    ("c / r / f on Runs", "cancel / resume the open run / show its figures"),
    ("v / p on Runs", "the open run's report / its change proposal (on Review)"),
    ("a / x / m / g on Review", "approve / reject / more diff / reload list"),
    ("ctrl+l", "reconnect to the LLM endpoint"),
    ("ctrl+s in the plan editor", "save the edit (approving is a on the card)"),
    ("f12 (or ctrl+p, Screenshot)", "save a screenshot (SVG) into the workspace"),
    ("ctrl+q", "quit"),
]


class ErrorModal(ModalScreen[None]):
    """An error the user must act on: what failed and what to do."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter", "dismiss_error", "Close")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box", classes="modal-box"):
            yield Static(Text(self.title_text, style="bold red"), id="error-title")
            with VerticalScroll(id="error-scroll"):
                yield Static(Text(self.message), id="error-message")
            yield Button("Close (enter)", id="error-close", variant="error", compact=True)

    def on_mount(self) -> None:
        self.query_one("#error-close", Button).focus()

    @on(Button.Pressed, "#error-close")
    def _close(self) -> None:
        self.dismiss(None)

    def action_dismiss_error(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Keys and slash commands."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        text = Text("Keys\n", style="bold")
        for key, what in KEYS:
            text.append(f"  {key:<26}", style="bold")
            text.append(f"{what}\n")
        text.append("\nChat commands\n", style="bold")
        for line in COMMANDS.values():
            text.append(f"  {line}\n")
        with Vertical(id="help-box", classes="modal-box"):
            with VerticalScroll():
                yield Static(text, id="help-text")
            yield Static(Text("escape closes", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)


REPORT_LIMIT = 200_000
"""Characters of a run's report rendered as Markdown; longer reports are cut with a note."""


class ReportScreen(ModalScreen[None]):
    """A run's report (Markdown from the run directory; rendered, never executed); escape closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,v", "close", "Close")]

    def __init__(self, run_id: str, text: str) -> None:
        super().__init__(classes="modal")
        self.run_id = run_id
        self.text = (
            text
            if len(text) <= REPORT_LIMIT
            else text[:REPORT_LIMIT] + f"\n\n_report cut at {REPORT_LIMIT:,} characters_"
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="report-box", classes="modal-box"):
            yield Static(Text(f"Report of run {self.run_id} (escape closes)", style="bold"))
            with VerticalScroll(id="report-scroll"):
                yield Markdown(self.text, id="run-report")

    def on_mount(self) -> None:
        self.query_one("#report-scroll", VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)


class PlanEditModal(ModalScreen[ExperimentPlan | None]):
    """Edit a plan as JSON; ctrl+s (or the Save button) validates and returns it, escape cancels.

    Saving only keeps the edit: the plan card then offers "Approve edited plan N (a)", so approving stays a separate,
    explicit step (as saving a file in an editor never sends it anywhere).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save edit", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, plan: ExperimentPlan, index: int = 0) -> None:
        super().__init__(classes="modal")
        self.plan = plan
        self.index = index

    def compose(self) -> ComposeResult:
        with Vertical(id="edit-box", classes="modal-box"):
            yield Static(
                Text(
                    f"Edit plan {self.index + 1} (JSON): ctrl+s saves the edit (approve it on the card), escape cancels"
                )
            )
            yield TextArea(json.dumps(self.plan.model_dump(), indent=2), id="plan-json", soft_wrap=True)
            yield Static("", id="plan-error", classes="error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Save edit (ctrl+s)", id="plan-save", variant="primary", compact=True)
                yield Button("Cancel (escape)", id="plan-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#plan-json", TextArea).focus()

    @on(Button.Pressed, "#plan-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#plan-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_save(self) -> None:
        text = self.query_one("#plan-json", TextArea).text
        try:
            plan = ExperimentPlan.model_validate(json.loads(text))
        except (json.JSONDecodeError, ValidationError) as err:
            self.query_one("#plan-error", Static).update(Text(f"not a valid plan: {err}"[:400], style="red"))
            return
        self.dismiss(plan)

    def action_cancel(self) -> None:
        self.dismiss(None)


class CommentModal(ModalScreen[str | None]):
    """Ask for a comment; enter returns it (possibly empty unless ``required``), escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, *, required: bool = False) -> None:
        super().__init__(classes="modal")
        self.prompt = prompt
        self.required = required

    def compose(self) -> ComposeResult:
        with Vertical(id="comment-box", classes="modal-box"):
            yield Static(Text(self.prompt, style="bold"))
            yield Input(placeholder="comment (enter to confirm, escape to cancel)", id="comment-input")
            with Horizontal(classes="modal-buttons"):
                yield Static("", id="comment-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#comment-input", Input).focus()

    @on(Input.Submitted, "#comment-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.required and not event.value.strip():
            self.query_one("#comment-error", Static).update(Text("a comment is required here", style="red"))
            return
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
