"""choose_tool and answer_out_of_scope: a tool that can test the question, or an honest "cannot test".

``choose_tool`` ranks the recipes' cards against the question (``assistant.toolchoice``); the model chooses one
tool from the shortlist, or ``none``, with a reason. An empty shortlist skips the model, and so does a question
that asks for a smoke test when the smoke-test card is ranked first (it is chosen). A choice outside the
shortlist is refused (logged) and counts as ``none``: the loop never runs an unrelated experiment instead.
``answer_out_of_scope`` ends such a run with a typed ``ScopeReport`` (what the question needs, the closest tools,
what would have to be built, and a literature answer whose statements cite retrieved passages) and no experiment.
Does not plan experiments (``planning``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime
from pydantic import ConfigDict

from assistant.errors import StructuredOutputError
from assistant.events import ReportWritten, ToolChosen
from assistant.graph.context import RunContext
from assistant.graph.guard import numbers_in_text, strip_numbers
from assistant.graph.nodes._common import Update, ask, log_blocked, run_dir, traced
from assistant.graph.nodes.planning import evidence_block
from assistant.graph.state import GraphState
from assistant.report.scope import AnsweredStatement, Passage, ScopeReport, ToolNearness, write_scope_report
from assistant.schemas import ScopeNote, ToolChoice
from assistant.toolchoice import SMOKE, Shortlist

NONE = "none"
_ChoiceBase = ToolChoice


def _choice_schema(names: list[str]) -> type[_ChoiceBase]:
    """``ToolChoice`` whose ``tool`` is an enum of ``names`` in the JSON schema (constrained decoding)."""

    def constrain(schema: dict[str, Any]) -> None:
        schema["properties"]["tool"]["enum"] = list(names)

    class ToolChoice(_ChoiceBase):
        model_config = ConfigDict(extra="forbid", json_schema_extra=constrain)

    return ToolChoice


def shortlist_of(state: GraphState) -> Shortlist | None:
    """The run's ranked shortlist (None before ``choose_tool``)."""
    data = state.get("shortlist")
    return Shortlist.model_validate(data) if data else None


@traced("choose_tool")
async def choose_tool(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Rank the tools against the question; the model chooses one from the shortlist, or none."""
    ctx = runtime.context
    shortlist = ctx.tool_ranker().rank(state["question"])
    chosen: str | None = None
    reason = shortlist.reason
    first = ctx.recipes.get(shortlist.offered[0]).card if shortlist.offered else None
    if first is not None and first.smoke_test and SMOKE.search(state["question"]):
        # a smoke test asked for by name, with the smoke-test card ranked first: nothing for a model to weigh
        chosen = first.name
        reason = f"{reason}; the question asks for a smoke test, which {first.name} is"
    elif shortlist.offered:
        cards = [ctx.recipes.get(name).card for name in shortlist.offered]
        names = [*shortlist.offered, NONE]
        try:
            choice: ToolChoice | None = await ask(
                ctx,
                state,
                node="choose_tool",
                prompt="choose_tool.choice",
                schema=_choice_schema(names),
                question=state["question"],
                cards="\n".join(card.choice_text() for card in cards if card is not None),
                names=", ".join(names),
            )
        except StructuredOutputError as err:
            # A model that cannot answer the choice does not get a tool picked for it (never run an experiment
            # nobody chose): the run ends out of scope and says why.
            log_blocked(ctx, state, "choose_tool", "tool_choice_invalid", str(err))
            choice = None
            reason = f"{reason}; the model gave no valid choice after its retries, so no tool was run"
        if choice is not None:  # None: no valid choice, said in the reason above
            picked = choice.tool.strip()
            if picked == NONE:
                reason = f"{reason}; the model chose none: {strip_numbers(choice.reason)}"
            elif picked not in shortlist.offered:
                log_blocked(
                    ctx, state, "choose_tool", "tool_not_offered", f"{picked!r} is not one of {shortlist.offered}"
                )
                reason = f"{reason}; the model named {picked!r}, which is not on the shortlist"
            else:
                chosen = picked
                reason = f"{reason}; chosen: {strip_numbers(choice.reason)}"
    ctx.runlog.append(
        ToolChosen(
            run_id=state["run_id"],
            offered=shortlist.offered,
            scores={s.name: s.score for s in shortlist.scores},
            chosen=chosen,
            reason=reason[:1000],
        )
    )
    return {"shortlist": shortlist.model_dump(mode="json"), "tool": chosen, "tool_reason": reason}


def _passages(state: GraphState) -> list[Passage]:
    path = run_dir(state) / "evidence.json"
    items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    return [
        Passage(key=str(i["key"]), title=str(i["title"]), anchor=str(i.get("anchor") or ""), text=str(i["text"]))
        for i in items
    ]


def _clean(ctx: RunContext, state: GraphState, text: str, where: str) -> str:
    found = numbers_in_text(text)
    if found:
        log_blocked(ctx, state, "answer_out_of_scope", "number_in_model_text", f"{where}: {found[:5]}")
        return strip_numbers(text, "[number removed]")  # no experiment ran: there is no metrics table to point to
    return text


@traced("answer_out_of_scope")
async def answer_out_of_scope(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """End the run without an experiment: a scope report, with a literature answer when passages support one."""
    ctx = runtime.context
    shortlist = shortlist_of(state)
    scores = shortlist.scores if shortlist is not None else []
    closest = []
    for score in scores:
        card = ctx.recipes.get(score.name).card
        closest.append(ToolNearness(name=score.name, family=card.family if card else "", score=score.score))
    passages = _passages(state)
    note = await ask(
        ctx,
        state,
        node="answer_out_of_scope",
        prompt="answer_out_of_scope.note",
        schema=ScopeNote,
        question=state["question"],
        tools="\n".join(f"- {t.name}: {t.family}" for t in closest) or "(none)",
        evidence=evidence_block(ctx, state),
    )
    known = {p.key for p in passages}
    answer, dropped = [], []
    for item in note.answer:
        keys = [k for k in item.keys if k in known]
        unknown = [k for k in item.keys if k not in known]
        for key in unknown:
            log_blocked(ctx, state, "answer_out_of_scope", "citation_not_retrieved", key)
        if not keys:
            dropped.append(f"{item.statement[:200]!r}: cites no retrieved passage ({', '.join(unknown) or 'none'})")
            continue
        answer.append(AnsweredStatement(statement=_clean(ctx, state, item.statement, "answer"), keys=keys))
    report = ScopeReport(
        run_id=state["run_id"],
        question=state["question"],
        reason=str(state.get("tool_reason") or "no tool fits"),
        closest=closest,
        needs=_clean(ctx, state, note.needs, "needs"),
        would_build=_clean(ctx, state, note.would_build, "would_build"),
        answer=answer,
        passages=passages,
        dropped=dropped,
        created_at=datetime.now(UTC),
    )
    path = write_scope_report(run_dir(state), report)
    workspace = Path(state["workspace"])
    rel = str(path.relative_to(workspace)) if path.is_relative_to(workspace) else str(path)
    ctx.runlog.append(ReportWritten(run_id=state["run_id"], path=rel, verified=None, problems=[]))
    reason = str(state.get("tool_reason") or "no tool of ara tests this question")
    return {"report_path": rel, "status": "out_of_scope", "failure": f"out of scope: {reason}"[:1000]}
