"""The Chat pane: a thread's transcript, streamed answers, plan cards and slash commands.

Covers drawing messages, growing the streamed answer in place, parsing what the user typed into a
``MessageSent`` or ``CommandIssued`` message, and keeping huge pastes out of the input line (a paste over
``PASTE_LIMIT`` characters becomes an attachment sent with the next message, capped at ``ATTACH_LIMIT``). Does
not cover calling the model or the graph (the app's workers do).
"""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from assistant.tui.history import ChatMessage
from assistant.tui.widgets.plan_card import PlanCard

COMMANDS = {
    "run": "/run QUESTION: start a research run (it proposes a plan for you to approve)",
    "papers": "/papers QUERY: search the paper library",
    "review": "/review: open the proposals waiting for review",
    "budget": "/budget: tokens, cells and time of the current run against its budget",
    "resume": "/resume [RUN_ID]: continue a failed or stopped run from its last checkpoint",
    "campaign": "/campaign [ID]: the morning summary of the newest (or given) overnight campaign",
    "thread": "/thread NAME: switch chat thread (history is kept per thread)",
    "help": "/help: keys and commands",
}
PASTE_LIMIT = 10_000
"""Pastes longer than this do not go into the input line."""
ATTACH_LIMIT = 32_000
"""Characters of an attachment sent to the model; the rest is cut with a marker."""


class ChatInput(Input):
    """The message line; a very long paste is kept aside as an attachment instead of typed in."""

    class Attached(Message):
        """A long paste was kept as an attachment."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def _on_paste(self, event: events.Paste) -> None:
        if len(event.text) > PASTE_LIMIT:
            event.stop()
            event.prevent_default()
            self.post_message(self.Attached(event.text))
            return
        super()._on_paste(event)


class ChatPane(Vertical):
    """Transcript + input for the current thread."""

    class MessageSent(Message):
        """The user sent a chat message (attachment text appended when one is pending)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class CommandIssued(Message):
        """The user typed a slash command."""

        def __init__(self, name: str, argument: str) -> None:
            super().__init__()
            self.name = name
            self.argument = argument

    def __init__(self, thread_id: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.thread_id = thread_id
        self.attachment: str | None = None
        self._streaming: Static | None = None
        self._stream_text = ""

    def compose(self) -> ComposeResult:
        yield Static(Text(f"thread: {self.thread_id}"), id="chat-thread", classes="pane-title")
        yield VerticalScroll(id="transcript")
        yield ChatInput(placeholder="Ask, or /run QUESTION, /papers, /review, /budget, /resume, /help", id="chat-input")

    @property
    def transcript(self) -> VerticalScroll:
        """The scrolling message list."""
        return self.query_one("#transcript", VerticalScroll)

    def show_thread(self, thread_id: str, messages: list[ChatMessage]) -> None:
        """Replace the transcript with ``messages`` of ``thread_id``."""
        self.thread_id = thread_id
        self.query_one("#chat-thread", Static).update(Text(f"thread: {thread_id}"))
        self.transcript.remove_children()
        for message in messages:
            self.add(message.role, message.content)

    def add(self, role: Literal["user", "assistant", "system"], text: str) -> Static:
        """Append one message (text is never parsed as markup: it may come from the model or a paste)."""
        label = {"user": "you", "assistant": "ara", "system": "·"}[role]
        body = Text(f"{label}: ", style="bold")
        body.append(text)
        widget = Static(body, classes=f"msg msg-{role}")
        self.transcript.mount(widget)
        self.transcript.scroll_end(animate=False)
        return widget

    def stream_delta(self, text: str) -> None:
        """Grow the answer being streamed."""
        if self._streaming is None:
            self._stream_text = ""
            self._streaming = self.add("assistant", "")
        self._stream_text += text
        body = Text("ara: ", style="bold")
        body.append(self._stream_text)
        self._streaming.update(body)
        self.transcript.scroll_end(animate=False)

    def stream_done(self) -> str:
        """End the streamed answer; returns its text."""
        text, self._streaming, self._stream_text = self._stream_text, None, ""
        return text

    def add_plan(self, card: PlanCard) -> None:
        """Show a plan card and focus it so a/e/x work at once."""
        self.transcript.mount(card)
        self.transcript.scroll_end(animate=False)
        card.focus()

    @on(ChatInput.Attached)
    def _attached(self, event: ChatInput.Attached) -> None:
        event.stop()
        self.attachment = event.text
        kept = min(len(event.text), ATTACH_LIMIT)
        self.add(
            "system",
            f"pasted {len(event.text):,} characters: kept as an attachment for your next message "
            f"({kept:,} characters will be sent)",
        )

    @on(Input.Submitted, "#chat-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        raw = event.value.strip()
        event.input.value = ""
        if raw.startswith("/"):
            name, _, argument = raw[1:].partition(" ")
            if name not in COMMANDS:
                self.add("system", f"unknown command /{name}; commands: " + ", ".join(f"/{c}" for c in COMMANDS))
                return
            self.post_message(self.CommandIssued(name, argument.strip()))
            return
        if not raw and self.attachment is None:
            return
        text = raw
        if self.attachment is not None:
            attached = self.attachment
            cut = attached[:ATTACH_LIMIT]
            if len(attached) > ATTACH_LIMIT:
                cut += f"\n[... {len(attached) - ATTACH_LIMIT:,} more characters cut by ara ...]"
            text = f"{raw}\n\n<attachment>\n{cut}\n</attachment>" if raw else f"<attachment>\n{cut}\n</attachment>"
            self.attachment = None
        self.post_message(self.MessageSent(text))
