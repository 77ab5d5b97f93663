"""Past-tense Textual messages: how work done in workers reaches the screens.

Covers one ``Message`` class per thing that happened (a chat delta arrived, a run event arrived, a run paused for
approval, papers were found, a proposal was decided...). Workers post them with ``App.post_message`` (thread
safe); the app routes them to the screen that shows them. Does not cover the work itself
(``assistant.tui.backends``) or how it is drawn (``screens``/``widgets``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.message import Message

from assistant.events import Event
from assistant.tui.backends import (
    CellOutput,
    OpenedRun,
    PaperHit,
    ProposalDetail,
    ProposalSummary,
    RunListing,
    RunOutcome,
)


class ChatDeltaReceived(Message, bubble=False):
    """A piece of the streamed answer arrived (the Chat pane's own message: it does not bubble)."""

    def __init__(self, thread_id: str, text: str) -> None:
        super().__init__()
        self.thread_id = thread_id
        self.text = text


class ChatAnswered(Message, bubble=False):
    """The streamed answer is complete (the Chat pane's own message: it does not bubble)."""

    def __init__(self, thread_id: str, text: str, tokens: int) -> None:
        super().__init__()
        self.thread_id = thread_id
        self.text = text
        self.tokens = tokens


class RunEventReceived(Message):
    """The research loop emitted an event (``assistant.events``)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class CellOutputReceived(Message):
    """A running cell printed something."""

    def __init__(self, output: CellOutput) -> None:
        super().__init__()
        self.output = output


class RunPaused(Message):
    """The run stopped at the plan approval interrupt; ``outcome.plans`` holds the plans."""

    def __init__(self, outcome: RunOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class RunEnded(Message):
    """The run reached an end state (done, rejected, failed, stopped, budget exhausted)."""

    def __init__(self, outcome: RunOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class PapersFound(Message):
    """A library search returned."""

    def __init__(self, query: str, hits: Sequence[PaperHit]) -> None:
        super().__init__()
        self.query = query
        self.hits = list(hits)


class PapersAdded(Message):
    """Files were ingested into the library."""

    def __init__(self, summary: str) -> None:
        super().__init__()
        self.summary = summary


class LibraryStatsLoaded(Message):
    """Library counts were read."""

    def __init__(self, stats: dict[str, Any]) -> None:
        super().__init__()
        self.stats = stats


class ProposalsListed(Message):
    """The proposal list was read."""

    def __init__(self, proposals: Sequence[ProposalSummary]) -> None:
        super().__init__()
        self.proposals = list(proposals)


class ProposalLoaded(Message):
    """One proposal's report, results and citations were read."""

    def __init__(self, detail: ProposalDetail) -> None:
        super().__init__()
        self.detail = detail


class DiffChunkLoaded(Message):
    """A page of a proposal's diff was read; ``more`` says whether text is left."""

    def __init__(self, proposal_id: int, text: str, more: bool) -> None:
        super().__init__()
        self.proposal_id = proposal_id
        self.text = text
        self.more = more


class ProposalDecided(Message):
    """A proposal was approved or rejected through the UI."""

    def __init__(self, proposal_id: int, decision: str, result: str) -> None:
        super().__init__()
        self.proposal_id = proposal_id
        self.decision = decision
        self.result = result


class LLMConnected(Message):
    """The model endpoint is ready."""

    def __init__(self, model: str, base_url: str) -> None:
        super().__init__()
        self.model = model
        self.base_url = base_url


class RunsListed(Message):
    """The workspace's runs were read from disk."""

    def __init__(self, listings: Sequence[RunListing]) -> None:
        super().__init__()
        self.listings = listings


class RunOpened(Message):
    """A past run was read back from disk, to replay on the Runs pane."""

    def __init__(self, opened: OpenedRun) -> None:
        super().__init__()
        self.opened = opened


class RunReportLoaded(Message):
    """A run's report was read."""

    def __init__(self, run_id: str, text: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.text = text
