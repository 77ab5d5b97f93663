"""``ara chat`` grounded in the paper library: relevant passages are quoted as data with their keys, the model is
asked to cite them, the answer's citations are checked and listed with titles (unknown keys marked), and prompts
about nothing in the library (or ``--no-library``) go out as typed. Real library (seed papers from the shared
corpus plus a note on CCS), scripted model over loopback HTTP."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from assistant.chat.grounding import INSTRUCTIONS
from assistant.cli.chat import SYSTEM
from assistant.llm.testing import ScriptedLLM
from tests.foundation.scripted_http import serve
from tests.foundation.test_chat import ara
from tools.papers.evidence import CLOSE, PREAMBLE

CCS_TEXT = (
    "Contrast-Consistent Search (CCS) finds a direction in a language model's activations that satisfies logical "
    "consistency: a statement and its negation get opposite truth values. It needs no labels and recovers latent "
    "knowledge even when the model's outputs are misleading."
)
TITLE = "Discovering Latent Knowledge in Language Models Without Supervision"


@pytest.fixture
def workspace(tmp_path: Path, shared_dir: Path) -> Path:
    path = tmp_path / "workspace"
    note = tmp_path / "ccs.md"
    note.write_text(f"---\ntitle: {TITLE}\narxiv: 2212.03827\ndate: 2022-12-07\n---\n# Method\n\n{CCS_TEXT}\n")
    env = {"ARA_WORKSPACE": str(path)}
    code, out, err = ara("papers", "add", str(shared_dir / "corpus" / "alignment_seed_papers.jsonl"), env=env)
    assert code == 0, err
    code, out, err = ara("papers", "add", str(note), env=env)
    assert code == 0, err
    assert "updated   arxiv:2212.03827" in out
    return path


def test_relevant_passages_are_quoted_and_citations_checked(workspace: Path) -> None:
    answer = (
        "CCS finds a direction in activation space that is logically consistent [arxiv:2212.03827#c0]; it needs "
        "no labels [arxiv:9999.99999#c1]."
    )
    script = ScriptedLLM(replies=[answer, "Mix flour and bananas.", "CCS is a probing method.", "No citation here."])
    with serve(script) as url:
        env = {"ARA_LLM_BASE_URL": url, "ARA_WORKSPACE": str(workspace)}
        code, grounded, err = ara("chat", "What is CCS?", env=env)
        assert code == 0, err
        code, plain, _ = ara("chat", "What is a good recipe for banana bread?", env=env)
        code, off, _ = ara("chat", "--no-library", "What is CCS?", env=env)
        code, uncited, _ = ara("chat", "How does contrast consistent search work?", env=env)
    script.assert_done()
    quoted = (
        f"{PREAMBLE}\n\n"
        f'<<<EVIDENCE key="arxiv:2212.03827#c0" title="{TITLE}" year="2022" anchor="Method">>>\n'
        f"{CCS_TEXT}\n{CLOSE}"
    )
    assert script.requests[0]["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"{quoted}\n\n{INSTRUCTIONS}\n\nQuestion: What is CCS?"},
    ]
    assert grounded == (
        f"{answer}\n\nSources:\n  [arxiv:2212.03827#c0] {TITLE} (2022), Method\n"
        "  [arxiv:9999.99999#c1] UNKNOWN: not one of the passages given; do not rely on it\n"
    )
    assert script.requests[1]["messages"][-1] == {"role": "user", "content": "What is a good recipe for banana bread?"}
    assert plain == "Mix flour and bananas.\n"
    assert script.requests[2]["messages"][-1] == {"role": "user", "content": "What is CCS?"}
    assert off == "CCS is a probing method.\n"
    assert script.requests[3]["messages"][-1]["content"].endswith(
        f"{CLOSE}\n\n{INSTRUCTIONS}\n\nQuestion: How does contrast consistent search work?"
    )
    assert uncited == f"No citation here.\n\nRetrieved from the library:\n  [arxiv:2212.03827#c0] {TITLE} (2022)\n"

    db = sqlite3.connect(workspace / ".ara" / "logs.sqlite")
    rows = db.execute("SELECT prompt, passages, citations FROM exchanges ORDER BY created, id").fetchall()
    db.close()
    assert [(p, json.loads(g), json.loads(c)) for p, g, c in rows] == [
        (
            "What is CCS?",
            ["arxiv:2212.03827#c0"],
            [{"key": "arxiv:2212.03827#c0", "known": True}, {"key": "arxiv:9999.99999#c1", "known": False}],
        ),
        ("What is a good recipe for banana bread?", [], []),
        ("What is CCS?", [], []),
        ("How does contrast consistent search work?", ["arxiv:2212.03827#c0"], []),
    ]
    code, logs, _ = ara("logs", "-n", "4", env={"ARA_WORKSPACE": str(workspace)})
    assert "\nCited: arxiv:2212.03827#c0, arxiv:9999.99999#c1 (UNKNOWN)\nPassages given: arxiv:2212.03827#c0\n" in logs
