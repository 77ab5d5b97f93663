"""The plan card: the plans a run proposed, with approve / edit / reject.

Covers drawing the plans of a paused run (the frozen config that will run, the pre-registered hypotheses with what
they predict, the fields the loop may change) and turning a button or key into a ``PlanCard.Decided`` message. The
card decides nothing itself: the app turns the message into an ``Approval`` and resumes the run in a worker.
Does not cover editing (``assistant.tui.screens.modals.PlanEditModal``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

from assistant.schemas import ExperimentPlan

Choice = Literal["approve", "modify", "reject"]


def plan_text(index: int, plan: ExperimentPlan) -> Text:
    """One plan as plain, unstyled-by-markup text (plan text comes from the model: never parsed as markup)."""
    text = Text()
    text.append(f"{index + 1}. {plan.title}\n", style="bold")
    text.append("hypothesis: ", style="dim")
    text.append(plan.hypothesis + "\n")
    text.append("method: ", style="dim")
    text.append(plan.method + "\n")
    text.append("recipe: ", style="dim")
    text.append(f"{plan.recipe} {plan.config}\n" if plan.config else f"{plan.recipe}\n")
    for h in plan.hypotheses:
        effect = h.metric if h.baseline is None else f"{h.metric} - {h.baseline}"
        side = ">" if h.predicted == "increase" else "<"
        edge = h.null + h.min_effect if h.predicted == "increase" else h.null - h.min_effect
        text.append(f"{h.id}: ", style="dim")
        text.append(f"{h.statement} [predicts {effect} {side} {edge:g}]\n")
    if plan.open_fields:
        text.append("may change on failure: ", style="dim")
        text.append(", ".join(plan.open_fields) + "\n")
    if plan.citations:
        text.append("cites: ", style="dim")
        text.append(", ".join(plan.citations) + "\n")
    return text


class PlanCard(Vertical, can_focus=True):
    """Proposed plans of ``run_id`` with Approve (a), Edit (e) and Reject (x)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "decide('approve')", "Approve plan"),
        Binding("e", "decide('modify')", "Edit plan"),
        Binding("x", "decide('reject')", "Reject plan"),
    ]

    class Decided(Message):
        """The user chose on a plan card."""

        def __init__(self, card: PlanCard, choice: Choice) -> None:
            super().__init__()
            self.card = card
            self.choice = choice

    def __init__(self, run_id: str, plans: tuple[ExperimentPlan, ...], *, id: str | None = None) -> None:
        super().__init__(id=id, classes="plan-card")
        self.run_id = run_id
        self.plans = plans
        self.decided: Choice | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Plan proposed by run {self.run_id}", style="bold"), classes="plan-title")
        for index, plan in enumerate(self.plans):
            yield Static(plan_text(index, plan), classes="plan-body")
        with Horizontal(classes="plan-buttons"):
            yield Button("Approve (a)", id="approve", variant="success", compact=True)
            yield Button("Edit (e)", id="modify", variant="primary", compact=True)
            yield Button("Reject (x)", id="reject", variant="error", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id in ("approve", "modify", "reject"):
            self.action_decide(event.button.id)

    def action_decide(self, choice: str) -> None:
        """Post ``Decided`` once; later presses are ignored (the run already resumed)."""
        if self.decided is not None or choice not in ("approve", "modify", "reject"):
            return
        self.post_message(self.Decided(self, choice))  # type: ignore[arg-type]

    def mark(self, choice: Choice, note: str) -> None:
        """Show the decision and disable the buttons."""
        self.decided = choice
        for button in self.query(Button):
            button.disabled = True
        self.mount(Static(Text(note, style="italic"), classes="plan-decision"))
