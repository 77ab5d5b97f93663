"""The Textual app: four panes over the research loop's events, and the workers that do the work.

Covers ``AraApp`` and the ``make_app`` factory: the pane switcher, connecting the LLM, slash commands, and the
one piece of work that spans panes (the research loop, whose events feed Runs and whose plans appear in Chat) in a
thread worker, opening an ``ErrorModal`` when it fails (``Worker.StateChanged``), and keeping the app usable when
the LLM endpoint is down. Every other pane owns its workers (``ChatPane`` streams answers, ``PapersPane``,
``ReviewPane``): a new pane is a screen module plus its backend. Widgets never call the LLM, the graph or a tool directly. Does not cover the
research loop, the library or review themselves (``assistant.tui.adapters`` binds them).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static
from textual.worker import Worker, WorkerState

from assistant.errors import AssistantError
from assistant.events import Event, PlanProposed, RunFailed, RunFinished, RunStarted
from assistant.llm.client import LLMClient
from assistant.schemas import Approval
from assistant.settings import Settings
from assistant.tui.backends import CellOutput, PapersBackend, ReviewBackend, RunDriver, RunHistory, RunOutcome
from assistant.tui.history import ChatHistory, InstanceLock, tui_dir
from assistant.tui.images import Protocol
from assistant.tui.messages import (
    CellOutputReceived,
    LLMConnected,
    ProposalDecided,
    RunEnded,
    RunEventReceived,
    RunOpened,
    RunPaused,
    RunReportLoaded,
    RunsListed,
)
from assistant.tui.screens.chat import ChatPane
from assistant.tui.screens.figures import FiguresScreen
from assistant.tui.screens.modals import CommentModal, ErrorModal, HelpScreen, PlanEditModal, ReportScreen
from assistant.tui.screens.papers import PapersPane
from assistant.tui.screens.review import ReviewPane
from assistant.tui.screens.runs import RunsPane
from assistant.tui.widgets.plan_card import PlanCard
from assistant.tui.widgets.run_status import RunState
from assistant.tui.workers import describe_error, failed

log = logging.getLogger(__name__)

PANES = ("chat", "runs", "papers", "review")
RUNS_REFRESH_S = 0.1
"""How often streamed run events are drawn on the Runs pane (10 Hz keeps keystrokes under 50 ms)."""
KEYS_FIRST_S = 0.12
"""While the user pressed a key this recently, a periodic Runs flush waits (the key's frame goes first)..."""
RUNS_MAX_STALE_S = 0.5
"""...but the Runs pane is never more than this far behind the run."""
LLMFactory = Callable[[Settings], LLMClient]


def freeze_startup_heap() -> None:
    """Move every object alive after start-up out of the cyclic garbage collector's reach (``gc.freeze``).

    The app's process holds a large heap of long-lived objects (the graph, pydantic models, Textual itself); a
    full (generation 2) collection walks all of them and stalls the event loop for ~90 ms on our machines, which
    was the slowest keystroke while a run streams. Frozen objects are still freed by reference counting; only
    cycles among them are never collected. Runs after the first frame so it does not delay first paint.
    """
    gc.collect()
    gc.freeze()


class AraApp(App[None]):
    """ara's terminal UI. Build it with ``make_app``."""

    CSS_PATH = "app.tcss"
    TITLE = "ara"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("f2", "show('chat')", "Chat"),
        Binding("f3", "show('runs')", "Runs"),
        Binding("f4", "show('papers')", "Papers"),
        Binding("f5", "show('review')", "Review"),
        Binding("ctrl+l", "reconnect", "Reconnect LLM", show=False),
        Binding("f12", "save_svg", "Screenshot", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        llm: LLMClient | None = None,
        llm_factory: LLMFactory | None = None,
        runner: RunDriver | None = None,
        papers: PapersBackend | None = None,
        review: ReviewBackend | None = None,
        history: RunHistory | None = None,
        reviewer: str | None = None,
        thread: str = "main",
        image_protocol: Protocol | None = None,
        freeze_heap: bool = False,
    ) -> None:
        super().__init__()
        if history is None:
            from assistant.tui.adapters import WorkspaceRuns

            history = WorkspaceRuns(settings.workspace)
        self.run_history = history
        """The runs on disk (listed on Runs, opened, their reports read)."""
        self.clock: Callable[[], float] = time.time
        """Now, for the run list's ages (screenshots and snapshot tests fix it)."""
        self._runs_listed = False
        self.freeze_heap = freeze_heap
        """Freeze the start-up heap after the first frame (``freeze_startup_heap``); ``ara tui`` does, tests do not."""
        self.image_protocol = image_protocol
        """How figures are drawn inline (``assistant.tui.images.choose_protocol``); None: links only."""
        self.settings = settings
        self.llm = llm
        self.llm_factory = llm_factory
        self.runner = runner
        self.papers = papers
        self.review = review
        from assistant.review.identity import decision_identity

        self.reviewer = reviewer or decision_identity(settings.workspace)
        """Who plan decisions are recorded as: the git identity that merges record (see ``decision_identity``)."""
        self.history = ChatHistory(settings.workspace)
        self.thread_id = thread
        """The chat thread shown first; the Chat pane keeps the current one."""
        self.instance_lock = InstanceLock(settings.workspace)
        self.run_state = RunState()
        self.last_outcome: RunOutcome | None = None
        self._runs_backlog: list[Event | CellOutput] = []
        self._backlog_since = 0.0
        self._last_key = 0.0
        self._driving = False
        """True while a driver call runs in its thread (Textual marks thread workers cancelled at exit, but the
        thread goes on: quitting then asks the driver to stop the run so the process can end)."""

    # ------------------------------------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield Static(self._tabs_text("chat"), id="tabs")
        with ContentSwitcher(initial="chat", id="panes"):
            yield ChatPane(self.thread_id, history=self.history, llm=lambda: self.llm, id="chat")
            yield RunsPane(id="runs")
            yield PapersPane(self.papers, top_k=self.settings.papers.top_k, id="papers")
            yield ReviewPane(self.review, id="review", no_color=self.no_color)
        yield Footer()

    @staticmethod
    def _tabs_text(current: str) -> Text:
        text = Text()
        for number, pane in enumerate(PANES, start=2):
            label = f" F{number} {pane.capitalize()} "
            text.append(label, style="reverse bold" if pane == current else "")
        text.append("  F1 Help")
        return text

    @property
    def chat(self) -> ChatPane:
        """The Chat pane."""
        return self.query_one("#chat", ChatPane)

    @property
    def runs(self) -> RunsPane:
        """The Runs pane."""
        return self.query_one("#runs", RunsPane)

    @property
    def papers_pane(self) -> PapersPane:
        """The Papers pane."""
        return self.query_one("#papers", PapersPane)

    @property
    def review_pane(self) -> ReviewPane:
        """The Review pane."""
        return self.query_one("#review", ReviewPane)

    def on_mount(self) -> None:
        if not self.instance_lock.acquire():
            self.notify(
                f"another ara tui is open on this workspace ({self.instance_lock.held_by}); chat history is shared, "
                "runs started there are not shown live here",
                severity="warning",
                timeout=8,
            )
        self.set_interval(RUNS_REFRESH_S, self._flush_runs_tick)
        if self.freeze_heap:
            self.call_after_refresh(freeze_startup_heap)
        self.chat.show_thread(self.chat.thread_id, self.history.load(self.chat.thread_id))
        self.chat.query_one("#chat-input").focus()
        if self.llm is None:
            self.connect_llm()
        else:
            self.sub_title = f"{self.llm.model} @ {self.llm.base_url}"

    def on_unmount(self) -> None:
        if self.runner is not None and self.run_state.run_id and self._driving:
            self.runner.cancel(self.run_state.run_id)
        self.instance_lock.release()

    def action_show(self, pane: str) -> None:
        """Switch to ``pane`` (loading its data the first time)."""
        if pane == "runs":
            self.flush_runs()
            if not self._runs_listed:
                self._runs_listed = True
                self.list_runs()
        self.query_one("#panes", ContentSwitcher).current = pane
        self.query_one("#tabs", Static).update(self._tabs_text(pane))
        focus = {"chat": "#chat-input", "runs": "#run-list", "papers": "#papers-query", "review": "#proposals"}[pane]
        self.query_one(focus).focus()
        if pane == "papers":
            self.papers_pane.activate()
        if pane == "review":
            self.review_pane.activate()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette's (ctrl+p) commands, its "Screenshot" saving into the workspace as f12 does."""
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":
                command = SystemCommand(
                    "Screenshot",
                    "Save an SVG of the screen into <workspace>/.ara/tui/screenshots (f12)",
                    self.action_save_svg,
                )
            yield command

    def action_save_svg(self) -> None:
        folder = tui_dir(self.settings.workspace) / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        path = self.save_screenshot(path=str(folder))
        self.notify(f"screenshot saved: {path}")

    def show_error(self, title: str, message: str) -> None:
        """Open the error modal."""
        self.push_screen(ErrorModal(title, message))

    # -------------------------------------------------------------------------------------------- LLM
    def action_reconnect(self) -> None:
        self.connect_llm()

    @work(thread=True, exclusive=True, group="llm", exit_on_error=False)
    def connect_llm(self) -> None:
        """Build the client (starting the embedded server if needed) and check the endpoint answers."""
        factory = self.llm_factory or _default_llm_factory
        client = factory(self.settings)
        _probe(client)
        self.llm = client
        self.post_message(LLMConnected(client.model, client.base_url))

    def on_llm_connected(self, message: LLMConnected) -> None:
        self.sub_title = f"{message.model} @ {message.base_url}"
        self.notify(f"connected to {message.model}", timeout=2)

    # ------------------------------------------------------------------------------------------- chat
    @on(ChatPane.CommandIssued)
    def _command(self, message: ChatPane.CommandIssued) -> None:
        name, argument = message.name, message.argument
        if name == "help":
            self.action_help()
        elif name == "run":
            if not argument:
                self.chat.add(
                    "system", "usage: /run QUESTION, e.g. /run does weak-to-strong training beat the weak model?"
                )
                return
            self.history.append(self.chat.thread_id, "user", f"/run {argument}")
            self.chat.add("user", f"/run {argument}")
            self.start_run(argument)
        elif name == "papers":
            self.action_show("papers")
            if argument:
                self.papers_pane.search(argument)
        elif name == "review":
            self.action_show("review")
        elif name == "budget":
            self.chat.add("system", self.run_state.line())
        elif name == "resume":
            self.resume_current(argument or None)
        elif name == "campaign":
            self.chat.add("system", campaign_summary_text(self.settings, argument or None))
        elif name == "thread":
            if not argument:
                threads = ", ".join(self.history.threads()) or "none yet"
                self.chat.add("system", f"threads: {threads}; switch with /thread NAME")
                return
            try:
                messages = self.history.load(argument)
            except ValueError as err:
                self.chat.add("system", str(err))
                return
            self.chat.show_thread(argument, messages)

    # ------------------------------------------------------------------------------------------- runs
    def _agent_busy(self) -> bool:
        return any(w.group == "agent" and w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in self.workers)

    def start_run(self, question: str) -> None:
        """Start a research run for ``question`` (one at a time)."""
        if self.runner is None:
            self.show_error(
                "Research loop unavailable",
                "this app was started without a run driver; start it with 'ara tui' (which connects the research "
                "loop) or pass runner= to make_app.",
            )
            return
        if self._agent_busy():
            self.notify("a run is already going: cancel it first (F3, then c)", severity="warning")
            return
        self.run_state = RunState(status="starting")
        self._runs_backlog = []
        self.runs.reset()
        runner = self.runner
        self._drive(lambda emit: runner.start(question, emit))

    def resume_current(self, run_id: str | None = None) -> None:
        """Resume ``run_id`` (default: the current run) from its last checkpoint."""
        target = run_id or self.run_state.run_id
        if self.runner is None or not target:
            self.chat.add("system", "no run to resume; give its id: /resume RUN_ID")
            return
        if self._agent_busy():
            self.notify("the run is still going", severity="warning")
            return
        runner = self.runner
        self.chat.add("system", f"resuming run {target}")
        self._drive(lambda emit: runner.resume(target, None, emit))

    def _emit(self, item: Event | CellOutput) -> None:
        if isinstance(item, CellOutput):
            self.post_message(CellOutputReceived(item))
        else:
            self.post_message(RunEventReceived(item))

    @work(thread=True, exclusive=True, group="agent", exit_on_error=False)
    def _drive(self, step: Callable[[Callable[[Event | CellOutput], None]], RunOutcome]) -> None:
        self._driving = True
        try:
            outcome = step(self._emit)
        finally:
            self._driving = False
        self.post_message(RunPaused(outcome) if outcome.status == "awaiting_approval" else RunEnded(outcome))

    def on_run_event_received(self, message: RunEventReceived) -> None:
        event = message.event
        self.run_state.apply(event)
        self._queue_for_runs(event)
        if isinstance(event, RunStarted):
            self._runs_listed = False
            self.chat.add("system", f"run {event.run_id} started (F3 shows it live)")
        elif isinstance(event, PlanProposed):
            self.chat.add("system", f"run {event.run_id} proposed {len(event.plans)} plan(s)")
        elif isinstance(event, RunFailed):
            self.chat.add("system", f"run {event.run_id} stopped: {event.message}")
        elif isinstance(event, RunFinished):
            self.chat.add("system", f"run {event.run_id} finished: {event.status}")

    def on_cell_output_received(self, message: CellOutputReceived) -> None:
        self._queue_for_runs(message.output)

    def _queue_for_runs(self, item: Event | CellOutput) -> None:
        if not self._runs_backlog:
            self._backlog_since = time.monotonic()
        self._runs_backlog.append(item)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self._last_key = time.monotonic()
        await super().on_event(event)

    def _flush_runs_tick(self) -> None:
        """The periodic flush: skipped while keys are arriving, unless the pane would fall too far behind."""
        now = time.monotonic()
        if now - self._last_key < KEYS_FIRST_S and now - self._backlog_since < RUNS_MAX_STALE_S:
            return
        self.flush_runs()

    def flush_runs(self) -> None:
        """Apply the run events received since the last flush to the Runs pane in one batch.

        Runs can emit hundreds of events a second; drawing each one separately makes every frame re-render the
        cell table and the log, and keystrokes wait behind those frames. Flushing at ``RUNS_REFRESH_S`` bounds
        that work, and a flush that would land just after a keystroke waits for the key's frame (at most
        ``RUNS_MAX_STALE_S``), since a flush that grows the log or the cell list lays out and repaints the whole
        screen. Pauses, ends and failures flush at once so the pane is never stale when the run stops.
        """
        if not self._runs_backlog:
            return
        backlog, self._runs_backlog = self._runs_backlog, []
        runs = self.runs
        with self.batch_update():
            for item in backlog:
                if isinstance(item, CellOutput):
                    runs.show_output(item)
                else:
                    runs.show_event(item)
            runs.show_state(self.run_state)

    def on_run_paused(self, message: RunPaused) -> None:
        self.flush_runs()
        self._refresh_run_list()
        outcome = message.outcome
        self.last_outcome = outcome
        self.run_state.run_id, self.run_state.status = outcome.run_id, "awaiting_approval"
        self.runs.show_state(self.run_state)
        self.action_show("chat")
        self.chat.add_plan(PlanCard(outcome.run_id, outcome.plans))

    def on_run_ended(self, message: RunEnded) -> None:
        self.flush_runs()
        self._refresh_run_list()
        outcome = message.outcome
        self.last_outcome = outcome
        self.run_state.run_id, self.run_state.status = outcome.run_id, outcome.status
        self.runs.show_state(self.run_state)
        extra = f" - {outcome.message}" if outcome.message else ""
        if outcome.proposal_id:
            extra += f"; proposal {outcome.proposal_id} waits for review (F5)"
            self.review_pane.invalidate()
        self.chat.add("system", f"run {outcome.run_id}: {outcome.status}{extra}")

    @on(PlanCard.Decided)
    def _plan_decided(self, message: PlanCard.Decided) -> None:
        card, choice, index = message.card, message.choice, message.plan_index
        if choice == "approve":
            if message.plan is not None:
                approval = Approval(
                    decision="modify", reviewer=self.reviewer, plan_index=index, plan=message.plan, comment="edited"
                )
            else:
                approval = Approval(decision="approve", reviewer=self.reviewer, plan_index=index)
            self._answer_plan(card, approval)
        elif choice == "modify":

            def edited(plan: Any) -> None:
                if plan is not None:
                    card.set_edited(plan)
                    self.notify(f"edited plan {index + 1} kept; press a to approve it (escape discards edits)")
                    card.focus()

            self.push_screen(PlanEditModal(card.current_plan(), index), edited)
        else:

            def commented(comment: str | None) -> None:
                if comment is not None:
                    approval = Approval(decision="reject", reviewer=self.reviewer, comment=comment)
                    self._answer_plan(card, approval)

            self.push_screen(CommentModal("Why reject the plan? (fed back in the run log)"), commented)

    def _answer_plan(self, card: PlanCard, approval: Approval) -> None:
        if self.runner is None or self._agent_busy():
            self.notify("the run is busy; try again in a moment", severity="warning")
            return
        word = {"approve": "approved", "modify": "approved with edits", "reject": "rejected"}[approval.decision]
        which = f"plan {approval.plan_index + 1}" if approval.decision != "reject" and len(card.plans) > 1 else "plan"
        card.mark(approval.decision, f"{which} {word} by {approval.reviewer}")
        self.history.append(
            self.chat.thread_id, "system", f"{which} of run {card.run_id} {word} by {approval.reviewer}"
        )
        runner, run_id = self.runner, card.run_id
        self._drive(lambda emit: runner.resume(run_id, approval, emit))
        if approval.decision != "reject":
            self.action_show("runs")

    @on(RunsPane.CancelRequested)
    def _cancel(self) -> None:
        if self.runner is not None and self.run_state.run_id and self._agent_busy():
            self.runner.cancel(self.run_state.run_id)
            self.notify(f"cancelling run {self.run_state.run_id} after the current step")
        else:
            self.notify("no run is going")

    @on(RunsPane.ResumeRequested)
    def _resume(self) -> None:
        self.resume_current()

    # ------------------------------------------------------------------------------------ runs on disk
    def _refresh_run_list(self) -> None:
        """Re-read the run list now when Runs is shown, else the next time it is."""
        self._runs_listed = False
        if self.query_one("#panes", ContentSwitcher).current == "runs":
            self._runs_listed = True
            self.list_runs()

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def list_runs(self) -> None:
        """Read the runs on disk."""
        self.post_message(RunsListed(self.run_history.list()))

    def on_runs_listed(self, message: RunsListed) -> None:
        self.runs.show_listings(list(message.listings), self.clock(), self.run_state.run_id)

    @on(RunsPane.ReloadRequested)
    def _reload_runs(self) -> None:
        self._runs_listed = True
        self.list_runs()

    @on(RunsPane.OpenRequested)
    def _open_run(self, message: RunsPane.OpenRequested) -> None:
        if self._agent_busy():
            self.notify(
                f"run {self.run_state.run_id} is going; open another run once it pauses or ends (c cancels it)",
                severity="warning",
            )
            return
        self.open_run(message.run_id)

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def open_run(self, run_id: str) -> None:
        """Read one run back from disk (its events and the outputs they point at)."""
        self.post_message(RunOpened(self.run_history.open(run_id)))

    def on_run_opened(self, message: RunOpened) -> None:
        if self._agent_busy():
            return
        opened = message.opened
        listing = opened.listing
        self.flush_runs()
        self.run_state = RunState()
        self.runs.reset()
        for item in opened.items:
            if not isinstance(item, CellOutput):
                self.run_state.apply(item)
            self._queue_for_runs(item)
        last = next((i.ts for i in reversed(opened.items) if not isinstance(i, CellOutput)), None)
        self.run_state.status, self.run_state.ended = listing.status, last
        self.flush_runs()
        self.runs.show_state(self.run_state)
        self.runs.cells.focus()
        hint = {
            "awaiting_approval": "its plans wait for approval: r shows them in Chat",
            "failed": "r resumes it from its last checkpoint",
            "stopped": "r resumes it from its last checkpoint",
            "budget_exhausted": "r resumes it (raise the budget in settings first)",
            "running": "it did not record an end (the process was killed?): r resumes it",
        }.get(listing.status, "v shows its report" + (", p its proposal" if listing.proposal_id else ""))
        problem = f" ({listing.problem})" if listing.problem else ""
        self.notify(f"run {listing.run_id}: {listing.status}{problem}; {hint}", timeout=6)

    @on(RunsPane.ReportRequested)
    def _report(self) -> None:
        if not self.run_state.run_id:
            self.notify("open a run first (enter on the run list)", severity="warning")
            return
        self.load_report(self.run_state.run_id)

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def load_report(self, run_id: str) -> None:
        """Read the run's report."""
        try:
            text = self.run_history.report(run_id)
        except FileNotFoundError:
            self.call_from_thread(self.notify, f"run {run_id} has no report yet", severity="warning")
            return
        self.post_message(RunReportLoaded(run_id, text))

    def on_run_report_loaded(self, message: RunReportLoaded) -> None:
        self.push_screen(ReportScreen(message.run_id, message.text))

    @on(RunsPane.ProposalRequested)
    def _proposal(self) -> None:
        run_id, proposal = self.run_state.run_id, self.run_state.proposal_id
        if not run_id:
            self.notify("open a run first (enter on the run list)", severity="warning")
        elif proposal is None or not proposal.isdigit():
            self.notify(f"run {run_id} has made no change proposal", severity="warning")
        elif self.review is None:
            self.notify(f"proposal {proposal}: review is not connected here; use: ara review show {proposal}")
        else:
            self.action_show("review")
            self.review_pane.open_proposal(int(proposal))

    @on(RunsPane.FiguresRequested)
    def _figures(self) -> None:
        self.flush_runs()
        figures = list(self.runs.figures)
        if not figures:
            self.notify("this run has no figures yet (they appear once results.json is read)")
            return
        self.push_screen(FiguresScreen(figures, self.image_protocol))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed worker of the app (runs, LLM) opens the error modal; the app keeps working."""
        error = failed(event)
        if error is None:
            return
        title, message = describe_error(error)
        if event.worker.group == "agent":
            self.flush_runs()
            self.run_state.status = "failed"
            self.run_state.last_error = message
            self.runs.show_state(self.run_state)
            if self.run_state.run_id:
                message += f"\n\nRun {self.run_state.run_id} keeps its checkpoint: press r on Runs (F3) to resume."
        elif event.worker.group == "history":
            message += (
                "\n\nThe run's files on disk are unchanged; other runs can still be opened (g re-reads the list)."
            )
        elif event.worker.group == "llm":
            self.sub_title = "no model connected (ctrl+l retries)"
            message += "\n\nChat and runs need a model; Papers (F4) and Review (F5) still work. Press ctrl+l to retry."
        self.show_error(title, message)

    # ----------------------------------------------------------------------------------------- review
    def on_proposal_decided(self, message: ProposalDecided) -> None:
        word = "approved" if message.decision == "approve" else "rejected"
        self.notify(f"proposal {message.proposal_id} {word}: {message.result}")
        self.chat.add("system", f"proposal {message.proposal_id} {word}: {message.result}")


def _default_llm_factory(settings: Settings) -> LLMClient:
    from assistant.llm import connect_llm

    return connect_llm(settings)


def _probe(client: LLMClient, timeout_s: float = 5.0) -> None:
    """Check that the endpoint answers ``GET /models``; raises ``EndpointUnreachableError`` naming what to do."""
    import httpx

    from assistant.errors import EndpointUnreachableError

    url = f"{client.base_url}/models"
    try:
        httpx.get(url, timeout=timeout_s).raise_for_status()
    except httpx.HTTPError as err:
        raise EndpointUnreachableError(
            f"the LLM endpoint {client.base_url} did not answer GET /models ({type(err).__name__}: {err}). "
            "Start that server, or point ara at another one with ARA_LLM_BASE_URL (or [llm] base_url in "
            "<workspace>/ara.toml); 'ara doctor' checks the setup.",
            title="LLM endpoint unreachable",
        ) from err


def campaign_summary_text(settings: Settings, campaign_id: str | None) -> str:
    """The morning summary (Markdown source) of a campaign in the configured queue (``ARA_DATABASE_URL`` or the
    workspace's SQLite file), or what to do when there is none."""
    from assistant.campaign.queue import CampaignQueue
    from assistant.campaign.summary import build_summary, render_markdown

    queue = CampaignQueue.from_settings(settings)
    chosen = campaign_id or queue.latest()
    if chosen is None:
        return "no campaign in this workspace yet; start one with: ara campaign run FILE"
    try:
        return render_markdown(build_summary(queue, chosen))
    except AssistantError as err:
        return str(err)


def make_app(
    settings: Settings,
    llm: LLMClient | None = None,
    runner: RunDriver | None = None,
    *,
    papers: PapersBackend | None = None,
    review: ReviewBackend | None = None,
    history: RunHistory | None = None,
    reviewer: str | None = None,
    llm_factory: LLMFactory | None = None,
    thread: str = "main",
    image_protocol: Protocol | None = None,
    freeze_heap: bool = False,
) -> AraApp:
    """Build the app. Anything not given is left out (tests pass scripted parts); ``ara tui`` passes the real ones.

    Args:
        settings: Effective settings (the workspace holds chat history and the instance lock).
        llm: A connected client; None connects in a worker at start (an unreachable endpoint opens a modal).
        runner: Drives the research loop (``assistant.tui.adapters.GraphRunDriver``).
        papers: The paper library (``assistant.tui.adapters.LibraryBackend``).
        review: Proposal review (``assistant.tui.adapters.ReviewServiceBackend``).
        history: The runs on disk (default: ``assistant.tui.adapters.WorkspaceRuns`` over the settings' workspace).
        reviewer: Name recorded on plan approvals (default: the login name).
        llm_factory: How to build the client when ``llm`` is None (default ``connect_llm``).
        thread: The chat thread to open.
        image_protocol: How figures are drawn inline; None lists them as links (chosen before the app starts,
            because asking the terminal is impossible once Textual owns it).
        freeze_heap: Take the start-up heap out of the garbage collector's full passes (``freeze_startup_heap``), for
            the process that runs the app; tests leave it off so finished apps are still collected.
    """
    return AraApp(
        settings,
        llm=llm,
        llm_factory=llm_factory,
        runner=runner,
        papers=papers,
        review=review,
        history=history,
        reviewer=reviewer,
        thread=thread,
        image_protocol=image_protocol,
        freeze_heap=freeze_heap,
    )
