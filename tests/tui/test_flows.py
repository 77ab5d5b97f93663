"""Pilot tests of the TUI over the scripted driver and fake backends: keys, panes, modals and bad inputs."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Log, Static
from textual.worker import WorkerFailed

from assistant.llm.testing import HTTPErrorReply, ScriptedLLM
from assistant.settings import Settings
from assistant.tui import make_app
from assistant.tui.app import KEYS_FIRST_S, RUNS_MAX_STALE_S
from assistant.tui.backends import CellOutput
from assistant.tui.history import ChatHistory, InstanceLock
from assistant.tui.messages import ChatAnswered, ChatDeltaReceived, RunEnded, RunPaused
from assistant.tui.screens.chat import ATTACH_LIMIT
from assistant.tui.screens.modals import CommentModal, ErrorModal, HelpScreen, PlanEditModal
from assistant.tui.screens.runs import MAX_LOG_LINES
from assistant.tui.testing import RUN_ID, FakePapers, FakeReview, ScriptedDriver
from assistant.tui.widgets.diff_view import PAGE_CHARS, DiffView
from assistant.tui.widgets.plan_card import PlanCard


async def settle(pilot: Pilot[None]) -> None:
    """Wait for workers (a failed one is the point of some tests) and let messages land."""
    with contextlib.suppress(WorkerFailed):
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def typed(pilot: Pilot[None], text: str) -> None:
    """Put ``text`` into the focused input and press enter (typing key by key is slow and tested once)."""
    focused = pilot.app.focused
    assert isinstance(focused, Input), f"focus is on {focused!r}, not an input"
    focused.value = text
    await pilot.press("enter")


def _text(widget: Static) -> str:
    return str(widget.render())


async def until(pilot: Pilot[None], check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Let the app run until ``check()`` holds (a worker may be scheduled after the last one finished)."""
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        await settle(pilot)


@pytest.mark.anyio
async def test_chat_streams_the_answer_and_keeps_history_per_thread(settings: Settings) -> None:
    script = ScriptedLLM(replies=["Weak-to-strong means a weak supervisor trains a strong student."])
    seen: list[Message] = []
    app = make_app(settings, llm=script.client())
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await pilot.click("#chat-input")
        await pilot.press(*"what is w2s?", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        deltas = [m.text for m in seen if isinstance(m, ChatDeltaReceived)]
        [answered] = [m for m in seen if isinstance(m, ChatAnswered)]
        assert len(deltas) > 1
        assert "".join(deltas) == answered.text == "Weak-to-strong means a weak supervisor trains a strong student."
        shown = [_text(w) for w in app.chat.query(".msg-assistant").results(Static)]
        assert shown == ["ara: Weak-to-strong means a weak supervisor trains a strong student."]
    script.assert_done()
    [request] = script.requests
    assert request["stream"] is True
    assert request["messages"][-1] == {"role": "user", "content": "what is w2s?"}
    assert [(m.role, m.content[:10]) for m in ChatHistory(settings.workspace).load("main")] == [
        ("user", "what is w2"),
        ("assistant", "Weak-to-st"),
    ]
    # a second session on the thread shows the history and sends it as context
    script2 = ScriptedLLM(replies=["Yes."])
    app2 = make_app(settings, llm=script2.client())
    async with app2.run_test(size=(80, 24)) as pilot:
        assert len(list(app2.chat.query(".msg"))) == 2
        await typed(pilot, "and PGR?")
        await app2.workers.wait_for_complete()
    assert [m["role"] for m in script2.requests[0]["messages"]] == ["system", "user", "assistant", "user"]


@pytest.mark.anyio
async def test_plan_card_approve_resumes_and_cells_stream(settings: Settings) -> None:
    driver = ScriptedDriver(cells=3)
    seen: list[Message] = []
    app = make_app(settings, llm=ScriptedLLM().client(), runner=driver, reviewer="ada")
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await typed(pilot, "/run does w2s work?")
        await app.workers.wait_for_complete()
        await pilot.pause()
        [card] = app.query(PlanCard).results(PlanCard)
        assert card.has_focus
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await pilot.pause()
        [approval] = driver.approvals
        assert approval is not None
        assert (approval.decision, approval.reviewer, approval.plan_index) == ("approve", "ada", 0)
        assert card.decided == "approve"
        assert app.runs.cells.option_count == 3
        assert [app.runs.row_text(i) for i in range(3)] == [f"  {i}  ok               1.5s" for i in range(3)]
        log = app.query_one("#run-log", Log)
        assert log.lines[0] == "[cell 0] epoch 0 loss 1.000"
        assert app.run_state.line() == f"{RUN_ID} done node=run_cells #2 tokens=5,120/20,000 cells=3/20 time=42s/3600s"
        await pilot.press("f2")
        await typed(pilot, "/budget")
        assert _text(app.chat.query(".msg-system").results(Static).__iter__().__next__()) != ""
    assert [type(m).__name__ for m in seen if isinstance(m, (RunPaused, RunEnded))] == ["RunPaused", "RunEnded"]


@pytest.mark.anyio
async def test_plan_edit_and_reject_build_the_right_approval(settings: Settings) -> None:
    driver = ScriptedDriver()
    app = make_app(settings, llm=ScriptedLLM().client(), runner=driver, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        await typed(pilot, "/run q one")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, PlanEditModal)
        area = app.screen.query_one("#plan-json")
        area.text = area.text.replace('"n_train": 2000', '"n_train": 500')  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert driver.approvals == [], "saving an edit must not approve it"
        [card] = app.query(PlanCard).results(PlanCard)
        assert str(card.query_one("#approve", Button).label) == "Approve edited plan 1 (a)"
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await pilot.pause()
        [approval] = driver.approvals
        assert approval is not None
        assert approval.decision == "modify"
        assert approval.plan is not None
        assert approval.plan.config == {"n_train": 500}
        # a second run, rejected with a comment
        await pilot.press("f2")
        await typed(pilot, "/run q two")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, CommentModal)
        await typed(pilot, "too costly")
        await app.workers.wait_for_complete()
        await pilot.pause()
    rejected = driver.approvals[-1]
    assert rejected is not None
    assert (rejected.decision, rejected.comment) == ("reject", "too costly")


@pytest.mark.anyio
async def test_worker_crash_opens_error_modal_and_resume_continues(settings: Settings) -> None:
    class CrashingOnce(ScriptedDriver):
        crashed = False

        def resume(self, run_id, approval, emit):  # type: ignore[no-untyped-def]
            if not self.crashed:
                self.crashed = True
                raise RuntimeError("kernel vanished")
            return super().resume(run_id, approval, emit)

    driver = CrashingOnce(cells=1)
    app = make_app(settings, llm=ScriptedLLM().client(), runner=driver, reviewer="ada")
    async with app.run_test(size=(80, 24)) as pilot:
        await typed(pilot, "/run q")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ErrorModal)
        assert app.screen.title_text == "Unexpected RuntimeError"
        assert "RuntimeError: kernel vanished" in app.screen.message
        assert f"Run {RUN_ID} keeps its checkpoint: press r on Runs (F3) to resume." in app.screen.message
        await pilot.press("enter")
        assert not isinstance(app.screen, ErrorModal)
        assert app.run_state.status == "failed"
        await pilot.press("f3", "r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.run_state.status == "done"
        assert app.runs.cells.option_count == 1
    assert driver.approvals == [None]


@pytest.mark.anyio
async def test_llm_endpoint_down_at_start_shows_modal_and_app_stays_usable(settings: Settings) -> None:
    down = settings.with_overrides(**{"llm.base_url": "http://127.0.0.1:9/v1", "llm.max_retries": 0})
    papers = FakePapers()
    app = make_app(down, papers=papers)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert app.screen.title_text == "LLM endpoint unreachable"
        assert "http://127.0.0.1:9/v1 did not answer GET /models" in app.screen.message
        assert "Papers (F4) and Review (F5) still work" in app.screen.message
        await pilot.press("enter")
        await pilot.press("f4")
        await typed(pilot, "weak supervision")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert papers.queries == ["weak supervision"]
        assert app.query_one("#papers-hits", DataTable).row_count == 2
        # chatting without a model explains what to do instead of failing
        await pilot.press("f2")
        await typed(pilot, "hello")
        await pilot.pause()
        assert isinstance(app.screen, ErrorModal)
        assert app.screen.title_text == "No language model"


@pytest.mark.anyio
async def test_chat_answer_that_fails_opens_modal_and_pane_keeps_working(settings: Settings) -> None:
    script = ScriptedLLM(
        replies=[HTTPErrorReply(status=500, body="upstream exploded", content_type="text/plain"), "Second try works."]
    )
    app = make_app(settings, llm=script.client(max_retries=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await typed(pilot, "what is w2s?")
        await until(pilot, lambda: isinstance(app.screen, ErrorModal))
        assert isinstance(app.screen, ErrorModal)
        assert "500" in app.screen.title_text + app.screen.message
        await pilot.press("enter")
        await pilot.click("#chat-input")
        await typed(pilot, "and now?")
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = [_text(w) for w in app.chat.query(".msg-assistant").results(Static)]
        assert shown[-1] == "ara: Second try works."
    script.assert_done()
    # the failed exchange keeps the question; the answer that came is stored once
    assert [(m.role, m.content) for m in ChatHistory(settings.workspace).load("main")] == [
        ("user", "what is w2s?"),
        ("user", "and now?"),
        ("assistant", "Second try works."),
    ]


@pytest.mark.anyio
async def test_papers_search_shows_chunk_text_add_and_stats(settings: Settings) -> None:
    papers = FakePapers()
    app = make_app(settings, llm=ScriptedLLM().client(), papers=papers)
    async with app.run_test(size=(80, 24)) as pilot:
        await typed(pilot, "/papers latent knowledge")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert papers.queries == ["latent knowledge"]
        stats = app.query_one("#papers-stats", Static)
        await until(pilot, lambda: _text(stats) != "library: not loaded yet")
        assert _text(stats) == "library: 2 papers, 17 chunks (bibtex 1, pdf 1)"
        await pilot.press("down")
        await pilot.pause()
        chunk = _text(app.query_one("#papers-chunk", Static))
        assert chunk.startswith("Discovering latent knowledge (arxiv:2212.03827#c4, Method)")
        assert "Contrast-consistent search" in chunk
        await pilot.click("#papers-query")
        app.query_one("#papers-query").value = ""  # type: ignore[attr-defined]
        await typed(pilot, "add refs.bib 'my papers/'")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert papers.added == [["refs.bib", "my papers/"]]
        assert _text(app.query_one("#papers-chunk", Static)) == "added 2 paper(s)"


@pytest.mark.anyio
async def test_review_pane_decisions_go_to_the_backend(settings: Settings) -> None:
    review = FakeReview()
    app = make_app(settings, llm=ScriptedLLM().client(), review=review)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, CommentModal)
        await pilot.press("enter")
        await pilot.pause()
        assert "a comment is required here" in _text(app.screen.query_one("#comment-error", Static))
        await typed(pilot, "use three seeds")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert review.decisions == [(1, "reject", "use three seeds")]


@pytest.mark.anyio
async def test_five_megabyte_diff_is_read_a_page_at_a_time(settings: Settings) -> None:
    review = FakeReview(diff_chars=5_000_000)
    app = make_app(settings, llm=ScriptedLLM().client(), review=review)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        view = app.query_one(DiffView)
        assert PAGE_CHARS <= view.shown_chars < 2 * PAGE_CHARS
        assert review.chunks_read == 1
        assert "press m for more" in _text(view.query_one("#diff-note", Static))
        await pilot.press("m")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert review.chunks_read == 2
        assert 2 * PAGE_CHARS <= view.shown_chars < 3 * PAGE_CHARS


@pytest.mark.anyio
async def test_ten_thousand_output_lines_stay_bounded(settings: Settings) -> None:
    driver = ScriptedDriver(cells=1, lines_per_cell=10_000)
    app = make_app(settings, llm=ScriptedLLM().client(), runner=driver)
    async with app.run_test(size=(80, 24)) as pilot:
        await typed(pilot, "/run q")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await pilot.pause()
        log = app.query_one("#run-log", Log)
        assert log.line_count == MAX_LOG_LINES
        assert log.lines[-1] == "[cell 0] epoch 9999 loss 0.000"


@pytest.mark.anyio
async def test_periodic_runs_flush_lets_keys_go_first_but_never_lags_long(settings: Settings) -> None:
    app = make_app(settings, llm=ScriptedLLM().client(), runner=ScriptedDriver())
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one("#run-log", Log)
        # no await between setting the clock and asserting: the app's own 10 Hz tick could run there
        now = time.monotonic()
        app._queue_for_runs(CellOutput(run_id=RUN_ID, index=0, text="epoch 0"))
        app._last_key, app._backlog_since = now - 0.05, now - 0.1  # a key 50 ms ago, output 100 ms old: wait
        app._flush_runs_tick()
        assert len(app._runs_backlog) == 1
        assert log.line_count == 0
        app._backlog_since = now - (RUNS_MAX_STALE_S + 0.1)  # the same output, now too old to hold back
        app._flush_runs_tick()
        assert app._runs_backlog == []
        assert log.lines == ["[cell 0] epoch 0"]
        app._queue_for_runs(CellOutput(run_id=RUN_ID, index=0, text="epoch 1"))
        app._last_key = time.monotonic() - (KEYS_FIRST_S + 0.05)  # no key lately: flush at once
        app._flush_runs_tick()
        assert log.lines[-1] == "[cell 0] epoch 1"
        app._last_key = 0.0
        await pilot.press("x")  # a real key press is what sets the clock
        assert time.monotonic() - app._last_key < 1.0


@pytest.mark.anyio
async def test_megabyte_paste_becomes_a_capped_attachment(settings: Settings) -> None:
    script = ScriptedLLM(replies=["Read it."])
    app = make_app(settings, llm=script.client())
    async with app.run_test(size=(80, 24)) as pilot:
        big = "x" * 1_000_000
        app.query_one("#chat-input").post_message(__import__("textual.events").events.Paste(big))
        await pilot.pause()
        assert app.query_one("#chat-input").value == ""  # type: ignore[attr-defined]
        await typed(pilot, "summarise")
        await app.workers.wait_for_complete()
    content = script.requests[0]["messages"][-1]["content"]
    assert content.startswith("summarise\n\n<attachment>\n")
    assert f"[... {1_000_000 - ATTACH_LIMIT:,} more characters cut by ara ...]" in content
    assert len(content) < ATTACH_LIMIT + 200


@pytest.mark.anyio
async def test_tiny_terminal_and_help_screen(settings: Settings) -> None:
    app = make_app(
        settings, llm=ScriptedLLM().client(), runner=ScriptedDriver(), papers=FakePapers(), review=FakeReview()
    )
    async with app.run_test(size=(40, 10)) as pilot:
        for key in ("f3", "f4", "f5", "f2"):
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        help_text = _text(app.screen.query_one("#help-text", Static))
        assert "F2 / F3 / F4 / F5" in help_text
        assert "/resume [RUN_ID]" in help_text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.anyio
async def test_second_tui_on_the_workspace_is_told(settings: Settings) -> None:
    holder = InstanceLock(settings.workspace)
    assert holder.acquire()
    try:
        app = make_app(settings, llm=ScriptedLLM().client())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert not app.instance_lock.acquire()
            [note] = list(app._notifications)
            assert note.message.startswith("another ara tui is open on this workspace (pid ")
    finally:
        holder.release()


@pytest.mark.anyio
async def test_no_color_is_respected(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(settings, llm=ScriptedLLM().client(), review=FakeReview())
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.query_one(DiffView).no_color


@pytest.mark.anyio
async def test_quitting_during_a_run_cancels_it(settings: Settings) -> None:
    gate = threading.Event()
    driver = ScriptedDriver(cells=2, gate=gate)
    app = make_app(settings, llm=ScriptedLLM().client(), runner=driver)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await typed(pilot, "/run q")
            await settle(pilot)
            await pilot.press("a")
            await pilot.pause()
            assert driver.cancelled == []
            await pilot.press("ctrl+q")
        assert driver.cancelled == [RUN_ID]
    finally:
        gate.set()


@pytest.mark.anyio
async def test_campaign_command_shows_the_morning_summary(settings: Settings, tmp_path: Path) -> None:
    from assistant.campaign.queue import CampaignQueue, EntryOutcome
    from assistant.campaign.runner import CampaignRunner, EntryContext
    from assistant.campaign.spec import load_campaign

    path = tmp_path / "night.toml"
    path.write_text('name = "night"\n[[entries]]\nid = "gap"\nquestion = "Does aux-conf help?"\n', encoding="utf-8")
    queue = CampaignQueue(settings.workspace)
    cid = queue.create(load_campaign(path), path)

    def run_entry(ctx: EntryContext) -> EntryOutcome:
        return EntryOutcome(status="done", proposal_id="7", key_metrics={"pgr.mean": 0.31}, tokens=900)

    CampaignRunner(queue, cid, run_entry, poll_s=0.01).run()
    app = make_app(settings, llm=ScriptedLLM().client())
    async with app.run_test(size=(100, 40)) as pilot:
        await typed(pilot, "/campaign")
        await pilot.pause()
        [summary] = [_text(w) for w in app.chat.query(".msg-system").results(Static) if "Campaign night" in _text(w)]
    assert f"# Campaign night ({cid})" in summary
    assert "| gap | question | done | 1 | 7 | pgr.mean=0.31 |  |" in summary
    assert "`ara review show 7`" in summary
