"""The plan card: the plans a run proposed, with choose (1-9) / approve / edit / reject.

Covers drawing the plans of a paused run (the frozen config that will run, the pre-registered hypotheses with what
they predict, the fields the loop may change), choosing one of them with the number keys (the chosen plan is marked
and the buttons name it: "Approve plan 2 (a)"), keeping an edited copy of the chosen plan (``set_edited``: the
approve button then says "Approve edited plan 2"), and turning a button or key into a ``PlanCard.Decided`` message
naming the plan. The card decides nothing itself: the app turns the message into an ``Approval`` and resumes the
run in a worker. Does not cover editing (``assistant.tui.screens.modals.PlanEditModal``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

from assistant.schemas import ExperimentPlan, threshold

Choice = Literal["approve", "modify", "reject"]


def plan_text(index: int, plan: ExperimentPlan, *, marker: str = "", edited: bool = False) -> Text:
    """One plan as plain, unstyled-by-markup text (plan text comes from the model: never parsed as markup).

    ``marker`` starts the title line (the card marks the chosen one of several plans with ``"▶ "``)."""
    text = Text()
    text.append(f"{marker}{index + 1}. {plan.title}", style="bold")
    text.append(" (edited)\n" if edited else "\n", style="bold italic" if edited else "")
    text.append("hypothesis: ", style="dim")
    text.append(plan.hypothesis + "\n")
    text.append("method: ", style="dim")
    text.append(plan.method + "\n")
    text.append("recipe: ", style="dim")
    text.append(f"{plan.recipe} {plan.config}\n" if plan.config else f"{plan.recipe}\n")
    for h in plan.hypotheses:
        effect = h.metric if h.baseline is None else f"{h.metric} - {h.baseline}"
        side = ">" if h.predicted == "increase" else "<"
        text.append(f"{h.id}: ", style="dim")
        text.append(f"{h.statement} [predicts {effect} {side} {threshold(h):g}]\n")
    if plan.open_fields:
        text.append("may change on failure: ", style="dim")
        text.append(", ".join(plan.open_fields) + "\n")
    if plan.citations:
        text.append("cites: ", style="dim")
        text.append(", ".join(plan.citations) + "\n")
    return text


class PlanCard(Vertical, can_focus=True):
    """Proposed plans of ``run_id``: 1-9 choose one, Approve (a), Edit (e) and Reject (x) act on the chosen one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "decide('approve')", "Approve plan"),
        Binding("e", "decide('modify')", "Edit plan"),
        Binding("x", "decide('reject')", "Reject plan"),
        *(Binding(str(n), f"choose({n})", f"Plan {n}", show=False) for n in range(1, 10)),
    ]

    class Decided(Message):
        """The user chose on a plan card: ``choice`` for plan ``plan_index`` (its edited copy in ``plan``)."""

        def __init__(self, card: PlanCard, choice: Choice) -> None:
            super().__init__()
            self.card = card
            self.choice = choice
            self.plan_index = card.chosen
            self.plan = card.edited.get(card.chosen)

    def __init__(self, run_id: str, plans: tuple[ExperimentPlan, ...], *, id: str | None = None) -> None:
        super().__init__(id=id, classes="plan-card")
        self.run_id = run_id
        self.plans = plans
        self.decided: Choice | None = None
        self.chosen = 0
        """Index of the plan the buttons act on (number key minus one)."""
        self.edited: dict[int, ExperimentPlan] = {}
        """Edited copies of plans, by index (approving such a plan sends a ``modify`` approval)."""

    def compose(self) -> ComposeResult:
        many = len(self.plans) > 1
        title = (
            f"{len(self.plans)} plans proposed by run {self.run_id}" if many else f"Plan proposed by run {self.run_id}"
        )
        yield Static(Text(title, style="bold"), classes="plan-title")
        for index, plan in enumerate(self.plans):
            yield Static(plan_text(index, plan, marker=self._marker(index)), classes="plan-body", id=f"plan-{index}")
        if many:
            yield Static(Text(f"1-{len(self.plans)} choose a plan", style="dim"), classes="plan-hint")
        with Horizontal(classes="plan-buttons"):
            yield Button(self.approve_label(), id="approve", variant="success", compact=True)
            yield Button(f"Edit plan {self.chosen + 1} (e)", id="modify", variant="primary", compact=True)
            yield Button("Reject all (x)" if many else "Reject (x)", id="reject", variant="error", compact=True)

    def approve_label(self) -> str:
        """What the approve button says: which plan, and whether it is an edited copy."""
        edited = "edited " if self.chosen in self.edited else ""
        return f"Approve {edited}plan {self.chosen + 1} (a)"

    def _marker(self, index: int) -> str:
        if len(self.plans) == 1:
            return ""
        return "▶ " if index == self.chosen else "  "

    def _redraw(self) -> None:
        for index, plan in enumerate(self.plans):
            shown = self.edited.get(index, plan)
            body = plan_text(index, shown, marker=self._marker(index), edited=index in self.edited)
            self.query_one(f"#plan-{index}", Static).update(body)
        self.query_one("#approve", Button).label = self.approve_label()
        self.query_one("#modify", Button).label = f"Edit plan {self.chosen + 1} (e)"

    def action_choose(self, number: int) -> None:
        """Make plan ``number`` (1-based) the one the buttons act on; a number past the last plan is refused."""
        if self.decided is not None:
            return
        if not 1 <= number <= len(self.plans):
            self.app.notify(
                f"this run proposed {len(self.plans)} plan(s): press 1-{len(self.plans)}", severity="warning"
            )
            return
        self.chosen = number - 1
        self._redraw()

    def set_edited(self, plan: ExperimentPlan) -> None:
        """Keep ``plan`` as the edited copy of the chosen plan (approve then sends it as a ``modify``)."""
        self.edited[self.chosen] = plan
        self._redraw()

    def current_plan(self) -> ExperimentPlan:
        """The chosen plan as it would be approved (its edited copy when there is one)."""
        return self.edited.get(self.chosen, self.plans[self.chosen])

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
