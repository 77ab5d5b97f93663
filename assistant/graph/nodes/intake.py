"""intake: the question becomes a typed ``ResearchBrief``.

Covers the first node. The question was validated once, when the run was made (``RunSession.new_run``). Does not
search or plan.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from assistant.graph.context import RunContext
from assistant.graph.nodes._common import Update, ask, traced
from assistant.graph.state import GraphState
from assistant.schemas import ResearchBrief


@traced("intake")
async def intake(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Clarify the question into a brief."""
    brief = await ask(
        runtime.context, state, node="intake", prompt="intake.brief", schema=ResearchBrief, question=state["question"]
    )
    return {"brief": brief.model_dump(mode="json")}
