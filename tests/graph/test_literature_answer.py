"""A question the literature answers and no tool can test gets a cited literature answer instead of an experiment.

A real paper library (two chapters of the RLHF book from the shared corpus, MiniLM + Chroma + BM25) is searched
with queries made from the question without the model; the model only phrases statements and names keys. The
passages quoted under each statement are the library's text under its ``paper#chunk`` key, never the model's; a
statement citing a key that was not retrieved is dropped and listed, and numbers in the model's words are removed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from assistant.events import EvidenceRetrieved, ToolChosen
from assistant.llm.testing import ScriptedLLM
from assistant.report.fill import md_escape
from assistant.runlog import events_of, read_events
from tests.graph.conftest import brief, make_context, start_in_memory
from tools.vcs import Workspace

QUESTION = "What does the literature say about reward model over-optimization in RLHF?"
KEY = re.compile(r"^\[([^\]\s]+#[^\]\s]+)\]", re.MULTILINE)


def _scope_note(body: dict[str, Any]) -> dict[str, Any]:
    """The model's note: a statement on the first two passages it was shown, and one on a key it made up."""
    prompt = body["messages"][-1]["content"]
    keys = KEY.findall(prompt)
    assert len(keys) >= 2, prompt[:2000]
    return {
        "needs": "A policy trained against a learned reward model at several sizes, scored by a gold reward.",
        "would_build": "An RLHF training loop with a proxy and a gold reward model.",
        "answer": [
            {
                "statement": "Optimising a learned reward model too hard lowers the true reward by 37%.",
                "keys": keys[:2],
            },
            {"statement": "Every lab has solved over-optimization.", "keys": ["invented2099#c1"]},
        ],
    }


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_question_the_literature_answers_gets_quoted_passages_under_their_keys(
    workspace: Workspace, tmp_path: Path, shared_dir: Path
) -> None:
    from tools.papers import PaperLibrary

    papers = tmp_path / "papers"
    papers.mkdir()
    for name in ("14-over-optimization.md", "15-regularization.md"):
        (papers / name).write_bytes((shared_dir / "corpus" / "rlhf_book" / name).read_bytes())
    library = PaperLibrary.open(workspace.path / ".ara" / "papers")
    try:
        library.add_paths([papers])
        script = ScriptedLLM(replies=[brief(queries=[]), _scope_note])
        run = workspace.new_run("literature")
        ctx = make_context(script.client(), workspace, run.path, library=library, policy="ask")  # type: ignore[arg-type]
        outcome = await start_in_memory(ctx, run, workspace, QUESTION)
    finally:
        library.close()
    script.assert_done()
    assert (outcome.status, outcome.cells, outcome.plans) == ("out_of_scope", 0, ())
    events = read_events(run.events_path)
    [chosen] = events_of(events, ToolChosen)
    assert (chosen.offered, chosen.chosen) == ([], None), "no tool tests it, so no model was asked to pick one"
    [retrieved] = events_of(events, EvidenceRetrieved)
    assert retrieved.queries[0] == QUESTION, "the queries come from the question, not from the model"
    evidence = {item["key"]: item for item in json.loads((run.path / "evidence.json").read_text())}
    assert len(evidence) >= 2
    assert all(re.fullmatch(r"[^#\s]+#[^#\s]+", key) for key in evidence), "paper#chunk keys"

    report = json.loads((run.path / "report.json").read_text())
    assert report["kind"] == "out_of_scope"
    [answered] = report["answer"]
    assert answered["statement"] == (
        "Optimising a learned reward model too hard lowers the true reward by [number removed]."
    ), "a number in the model's words is removed: it was in no passage the report quotes"
    cited = answered["keys"]
    assert len(cited) == 2
    assert set(cited) <= set(evidence), "every cited key was retrieved from the library"
    by_key = {p["key"]: p for p in report["passages"]}
    for key in cited:
        assert by_key[key]["text"] == evidence[key]["text"], "the quote is the library's text, not the model's"
    assert report["dropped"] == [
        "'Every lab has solved over-optimization.': cites no retrieved passage (invented2099#c1)"
    ]
    assert not (run.path / "results.json").exists(), "no experiment ran"

    markdown = (run.path / "report.md").read_text()
    said = markdown.split("## What the literature says", 1)[1].split("\n## ", 1)[0]
    for key in cited:
        assert f"`{key}`" in said
        opening = md_escape(" ".join(evidence[key]["text"].split())[:80])
        assert f"> {opening}" in said, f"the passage under {key} is quoted verbatim"
    related = markdown.split("## Related work retrieved", 1)[1]
    assert all(f"`{key}`" in related for key in evidence), "every retrieved passage is listed with its key"
    assert "invented2099" not in said
