"""intake: the question becomes a typed ``ResearchBrief``.

Covers the first node. Question length is checked again here (the CLI checks it first) because a checkpointed
state may come from elsewhere. Does not search or plan.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from assistant.errors import AssistantError
from assistant.graph.context import RunContext
from assistant.graph.nodes._common import Update, ask, traced
from assistant.graph.state import GraphState
from assistant.schemas import ResearchBrief

MAX_QUESTION_CHARS = 4000


def validate_question(question: str) -> str:
    """The stripped question.

    Raises:
        AssistantError: empty, or longer than ``MAX_QUESTION_CHARS`` (say what to do instead).
    """
    text = question.strip()
    if not text:
        raise AssistantError(
            'the research question is empty; pass it in quotes, e.g. ara run "Does weak-to-strong '
            'generalization hold on a synthetic task?"',
            title="Empty question",
        )
    if len(text) > MAX_QUESTION_CHARS:
        raise AssistantError(
            f"the research question is {len(text)} characters long (the limit is {MAX_QUESTION_CHARS}); "
            "ask one focused question and add long material to the paper library with 'ara papers add'.",
            title="Question too long",
        )
    return text


@traced("intake")
async def intake(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Clarify the question into a brief."""
    question = validate_question(state["question"])
    brief = await ask(
        runtime.context, state, node="intake", prompt="intake.brief", schema=ResearchBrief, question=question
    )
    return {"brief": brief.model_dump(mode="json")}
