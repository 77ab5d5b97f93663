"""The model-written report draft (``report_draft="model"``): used when it passes the checks, else the analysis
draft with a note, never a report with an untraced number."""

from __future__ import annotations

import json
from typing import Any

import pytest

from assistant.events import ReportWritten
from assistant.graph.nodes.report import REJECTED_DRAFT
from assistant.graph.session import report_draft_for
from assistant.llm.testing import ScriptedLLM
from assistant.runlog import events_of, read_events
from assistant.settings import Settings, load_settings
from tests.graph.conftest import (
    FakeHit,
    FakeLibrary,
    analysis,
    brief,
    critique,
    make_context,
    plans,
    start_in_memory,
    tool_choice,
)
from tools.vcs import Workspace

QUESTION = "Does dividing by two halve one?"
KEY = "arxiv:2312.09390#c1"
HITS = [FakeHit(KEY, "Weak-to-strong generalization", "Weak supervisors elicit strong models.")]


def model_draft(**changes: Any) -> dict[str, Any]:
    draft = {
        "claims": [
            {
                "statement": "Dividing one by two gave {{ metric:ratio.value }}, as the plan expected.",
                "about": ["ratio"],
                "stance": "describes",
            }
        ],
        "rationale": "One cell of the divide recipe tests the arithmetic directly {{ cite:" + KEY + " }}.",
        "limitations": "A single deterministic cell; no seeds, no interval.",
        "next_steps": "Try other denominators.",
        "cited_keys": [KEY],
    }
    return {**draft, **changes}


async def _run(
    workspace: Workspace, draft_replies: list[Any], *, stale_rejection: bool = False
) -> tuple[ScriptedLLM, Any, str]:
    script = ScriptedLLM(
        replies=[
            brief(),
            tool_choice(),
            plans(config={"denominator": 2}, citations=[KEY]),
            analysis(),
            critique(),
            *draft_replies,
        ]
    )
    run = workspace.new_run("draft")
    ctx = make_context(script.client(), workspace, run.path, library=FakeLibrary(HITS))
    ctx.report_draft = "model"
    if stale_rejection:  # as if an earlier attempt of write_report had set a draft aside, then crashed
        (run.path / REJECTED_DRAFT).write_text("{}", encoding="utf-8")
    outcome = await start_in_memory(ctx, run, workspace, QUESTION)
    assert outcome.status == "done", outcome
    script.assert_done()
    return script, run, (run.path / "report.md").read_text(encoding="utf-8")


@pytest.mark.anyio
async def test_a_draft_that_passes_the_checks_is_the_report(workspace: Workspace) -> None:
    script, run, report = await _run(workspace, [model_draft()], stale_rejection=True)
    assert "Dividing one by two gave 0.5, as the plan expected." in report
    assert "tests the arithmetic directly" in report
    assert not (run.path / REJECTED_DRAFT).exists()
    [written] = events_of(read_events(run.events_path), ReportWritten)
    assert written.verified is True
    prompt = script.requests[-1]["messages"][-1]["content"]
    assert "- {{ metric:ratio }} = 0.5; fields: {{ metric:ratio.value }}" in prompt
    assert "Figures: (none)" in prompt  # no metric has an interval, so no metrics_ci figure is offered
    assert f"Citations: {{{{ cite:{KEY} }}}}" in prompt
    assert "Placeholders valid for this run:\n<<<DATA" in prompt


@pytest.mark.anyio
async def test_a_draft_with_a_typed_number_is_set_aside_for_the_analysis_draft(workspace: Workspace) -> None:
    typed = {"statement": "The ratio was 0.93, far above chance.", "about": ["ratio"]}
    _, run, report = await _run(workspace, [model_draft(claims=[typed])])
    assert "0.93, far above" not in report  # "0.93" alone may be the measured run time
    assert "The ratio is what the plan expected." in report  # the analysis draft's claim
    assert f"The model's own draft failed the report checks (its text and what failed are in `{REJECTED_DRAFT}`)" in (
        report
    )
    rejected = json.loads((run.path / REJECTED_DRAFT).read_text(encoding="utf-8"))
    assert rejected["draft"]["claims"][0]["statement"] == "The ratio was 0.93, far above chance."
    assert [(o["kind"], o["location"], o["text"]) for o in rejected["offenders"]] == [
        ("numeral", "claims[0].statement:1:15", "0.93")
    ]
    [written] = events_of(read_events(run.events_path), ReportWritten)
    assert (written.verified, written.problems) == (True, [])


@pytest.mark.anyio
async def test_no_valid_draft_falls_back_with_a_note(workspace: Workspace) -> None:
    _, run, report = await _run(workspace, ["not json", "still not json", '{"claims": 3}'])
    assert "The model returned no valid report draft; this report was assembled from its analysis." in report
    [written] = events_of(read_events(run.events_path), ReportWritten)
    assert written.verified is True


@pytest.mark.anyio
async def test_an_unretrieved_citation_sets_the_draft_aside(workspace: Workspace) -> None:
    draft = model_draft(rationale="As shown before {{ cite:arxiv:9999.00001#c1 }}.", cited_keys=["arxiv:9999.00001#c1"])
    _, run, report = await _run(workspace, [draft])
    assert "9999.00001" not in report
    assert (run.path / REJECTED_DRAFT).is_file()


def test_auto_means_analysis_for_the_embedded_model_and_model_for_an_endpoint(tmp_path: Any) -> None:
    embedded: Settings = load_settings(tmp_path / "ws")
    assert embedded.uses_embedded_llm
    assert report_draft_for(embedded) == "analysis"
    remote = embedded.model_copy(update={"llm": embedded.llm.model_copy(update={"base_url": "https://api.example/v1"})})
    assert not remote.uses_embedded_llm
    assert report_draft_for(remote) == "model"
    forced = embedded.model_copy(update={"run": embedded.run.model_copy(update={"report_draft": "model"})})
    assert report_draft_for(forced) == "model"


@pytest.mark.anyio
async def test_a_draft_that_leaves_sections_empty_is_set_aside(workspace: Workspace) -> None:
    """A small model's draft can pass the number and citation checks while saying almost nothing."""
    _, run, report = await _run(workspace, [model_draft(rationale="", limitations="  ")])
    assert "The model's own draft left rationale, limitations empty (its text and what failed are in" in report
    assert "**Rationale** (the model's words): Run the recipe." in report  # the analysis draft's rationale
    rejected = json.loads((run.path / REJECTED_DRAFT).read_text(encoding="utf-8"))
    assert rejected["offenders"] == [
        {"kind": "empty_section", "location": "rationale"},
        {"kind": "empty_section", "location": "limitations"},
    ]
