"""The Papers pane over the real ``tools.papers`` library: add a file through the UI, search it, read the chunk."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from assistant.llm.testing import ScriptedLLM
from assistant.settings import Settings
from assistant.tui import make_app
from assistant.tui.adapters import LibraryBackend

PAPER = """# Weak-to-strong generalization

## Introduction

We study whether a weak supervisor can elicit the capabilities of a much stronger student model. Fine-tuning a
strong pretrained model on labels produced by a weaker model recovers part of the performance gap.

## Method

The performance gap recovered (PGR) is the fraction of the gap between the weak teacher and the strong ceiling
that the student closes. An auxiliary confidence loss improves PGR on NLP tasks.
"""


@pytest.mark.anyio
async def test_add_then_search_through_the_ui(settings: Settings, tmp_path: Path) -> None:
    paper = tmp_path / "w2s.md"
    paper.write_text(PAPER, encoding="utf-8")
    papers = LibraryBackend(settings)
    app = make_app(settings, llm=ScriptedLLM().client(), papers=papers)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f4")
            await app.workers.wait_for_complete()
            await pilot.pause()
            query = app.query_one("#papers-query", Input)
            query.value = f"add {paper}"
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            note = str(app.query_one("#papers-chunk", Static).render())
            assert note.startswith("added 1 paper(s), updated 0, 0 unchanged, 0 duplicate(s), ")
            assert str(app.query_one("#papers-stats", Static).render()).startswith("library: 1 papers, ")
            query.focus()
            query.value = "performance gap recovered by the student"
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.query_one("#papers-hits", DataTable).row_count >= 1
            [hit, *_] = app.papers_pane.hits
            assert hit.title == "Weak-to-strong generalization"
            chunk = str(app.query_one("#papers-chunk", Static).render())
            assert chunk.startswith(f"Weak-to-strong generalization ({hit.key}, ")
            assert hit.text in chunk
    finally:
        papers.close()


def test_backend_adds_papers_by_arxiv_url(settings: Settings, shared_dir: Path) -> None:
    papers = LibraryBackend(settings)
    try:
        line = papers.add(["https://arxiv.org/abs/1805.00899v2", "10.1145/3442188.3445922"])
        assert line.startswith("added 1 paper(s), updated 0, 0 unchanged, 0 duplicate(s), 1 chunks in ")
        assert line.endswith(
            "; failed: 10.1145/3442188.3445922: DOI 10.1145/3442188.3445922 cannot be looked "
            "up offline (the local index holds arXiv ids only, and ara makes no network look-ups); add the paper's "
            "PDF, or a BibTeX or CSV entry with this DOI"
        )
        [hit] = papers.search("AI safety via debate", k=1)
        assert (hit.key, hit.title) == ("arxiv:1805.00899#c0", "AI safety via debate")
    finally:
        papers.close()
