"""The Chat pane: a thread's transcript, streamed answers, plan cards and slash commands.

Covers drawing messages, growing the streamed answer in place, parsing what the user typed into a
``MessageSent`` or ``CommandIssued`` message, and keeping huge pastes out of the input line (a paste over
``PASTE_LIMIT`` characters becomes an attachment sent with the next message, capped at ``ATTACH_LIMIT``), and
streaming the model's answer to a message in the pane's own thread worker (the thread's history, newest first up
to ``HISTORY_CHARS``, goes with it). Does not cover slash commands or the research loop (the app handles
``CommandIssued``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static
from textual.worker import Worker

from assistant.llm.client import LLMClient
from assistant.tui.commands import COMMANDS
from assistant.tui.history import ChatHistory, ChatMessage
from assistant.tui.messages import ChatAnswered, ChatDeltaReceived
from assistant.tui.screens.modals import ErrorModal
from assistant.tui.widgets.plan_card import PlanCard
from assistant.tui.workers import show_worker_error

SYSTEM_PROMPT = (
    "You are ara, a concise assistant for AI alignment research. Answer accurately and briefly. "
    "To run an experiment the user types /run followed by the question."
)
HISTORY_CHARS = 24_000
"""Characters of earlier thread messages sent with a chat request (newest kept)."""

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

    def __init__(
        self,
        thread_id: str,
        *,
        history: ChatHistory,
        llm: Callable[[], LLMClient | None],
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.thread_id = thread_id
        self.history = history
        self.llm = llm
        """The connected client, or None while the app has none (it connects in its own worker)."""
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

    # ------------------------------------------------------------------------------------------- answers
    @on(MessageSent)
    def _message_sent(self, message: MessageSent) -> None:
        llm = self.llm()
        if llm is None:
            self.app.push_screen(
                ErrorModal(
                    "No language model",
                    "ara is not connected to a model, so it cannot answer. Check the endpoint (ARA_LLM_BASE_URL or "
                    "[llm] base_url in ara.toml, or 'ara doctor'), then press ctrl+l to reconnect. Papers (F4) and "
                    "Review (F5) work without a model.",
                )
            )
            return
        earlier = self.history.load(self.thread_id)
        self.history.append(self.thread_id, "user", message.text)
        self.add("user", message.text)
        context: list[dict[str, Any]] = []
        budget = HISTORY_CHARS
        for item in reversed(earlier):
            if item.role == "system" or len(item.content) > budget:
                continue
            budget -= len(item.content)
            context.insert(0, {"role": item.role, "content": item.content})
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, *context, {"role": "user", "content": message.text}]
        self.stream_answer(llm, self.thread_id, messages)

    @work(thread=True, exclusive=True, group="chat", exit_on_error=False)
    def stream_answer(self, llm: LLMClient, thread_id: str, messages: list[dict[str, Any]]) -> None:
        """Stream the model's answer as ``ChatDeltaReceived`` messages, then ``ChatAnswered``."""
        parts: list[str] = []
        for delta in llm.stream_chat(messages):
            parts.append(delta)
            self.post_message(ChatDeltaReceived(thread_id, delta))
        calls = llm.ledger.calls
        tokens = calls[-1].usage.total_tokens if calls else 0
        self.post_message(ChatAnswered(thread_id, "".join(parts), tokens))

    def on_chat_delta_received(self, message: ChatDeltaReceived) -> None:
        if message.thread_id == self.thread_id:
            self.stream_delta(message.text)

    def on_chat_answered(self, message: ChatAnswered) -> None:
        self.history.append(message.thread_id, "assistant", message.text)
        if message.thread_id == self.thread_id:
            self.stream_done()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed answer ends the streamed message and opens the error modal; the pane keeps working."""
        if event.worker.group == "chat" and event.worker.error is not None:
            self.stream_done()
        show_worker_error(self, event)
