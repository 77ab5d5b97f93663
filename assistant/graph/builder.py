"""The research loop's topology: ``build_graph()`` returns an uncompiled ``StateGraph``.

``intake → search_literature → choose_tool → propose_experiments → approve_plan → write_code → run_cells ⇄ debug →
analyse_results → critique → plan_followup → write_report → propose_change``; ``choose_tool`` routes a question no
tool tests to ``answer_out_of_scope`` (a report, no experiment). ``run_cells`` returns to ``write_code`` while an
experiment of the tree is pending; ``plan_followup`` routes a chosen follow-up through ``approve_followup`` back to
``write_code``. Routing reads only typed state (``tool``, ``status``, the last
cell's status), never model text. Nothing is compiled or connected at import. Does not cover checkpointers or running
(``assistant.graph.runner``).
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph

from assistant.graph import nodes
from assistant.graph.context import RunContext
from assistant.graph.state import GraphState
from assistant.graph.tree import active_node, nodes_of

NODE_ORDER = (
    "intake",
    "search_literature",
    "choose_tool",
    "answer_out_of_scope",
    "propose_experiments",
    "approve_plan",
    "write_code",
    "run_cells",
    "debug",
    "analyse_results",
    "critique",
    "plan_followup",
    "approve_followup",
    "write_report",
    "propose_change",
)


def after_choice(state: GraphState) -> Literal["propose_experiments", "answer_out_of_scope"]:
    """No tool tests the question: the run ends out of scope, never with an unrelated experiment."""
    return "propose_experiments" if state.get("tool") else "answer_out_of_scope"


def after_debug(state: GraphState) -> Literal["run_cells", "__end__"]:
    """A recipe whose approved config failed with no field open ends the run."""
    return "__end__" if state.get("status") == "failed" else "run_cells"


def after_approval(state: GraphState) -> Literal["write_code", "__end__"]:
    """Rejected plans end the run."""
    return "__end__" if state.get("status") == "rejected" else "write_code"


def after_cells(state: GraphState) -> Literal["write_code", "analyse_results", "debug", "write_report", "__end__"]:
    """Success goes to the next experiment of the tree, then to analysis; a stop (repeated error) ends; a failed
    follow-up goes to the report of what ran; any other failure goes to debug."""
    if state.get("status") == "failed":
        return "__end__"
    cells = state.get("cells", [])
    if cells and cells[-1]["status"] == "ok":
        return "write_code" if active_node(state) is not None else "analyse_results"
    if any(n.role == "follow_up" and n.status == "failed" for n in nodes_of(state)):
        return "write_report"
    return "debug"


def after_followup(state: GraphState) -> Literal["approve_followup", "write_report"]:
    """A chosen follow-up waits for approval; with none, the report is written."""
    return "approve_followup" if active_node(state) is not None else "write_report"


def after_followup_approval(state: GraphState) -> Literal["write_code", "write_report"]:
    """An approved follow-up runs; a declined one ends the search."""
    return "write_code" if active_node(state) is not None else "write_report"


def build_graph() -> StateGraph[GraphState, RunContext, GraphState, GraphState]:
    """The uncompiled research-loop graph (compile it with a checkpointer)."""
    graph: StateGraph[GraphState, RunContext, GraphState, GraphState] = StateGraph(
        GraphState, context_schema=RunContext
    )
    graph.add_node("intake", nodes.intake)
    graph.add_node("search_literature", nodes.search_literature)
    graph.add_node("choose_tool", nodes.choose_tool)
    graph.add_node("answer_out_of_scope", nodes.answer_out_of_scope)
    graph.add_node("propose_experiments", nodes.propose_experiments)
    graph.add_node("approve_plan", nodes.approve_plan)
    graph.add_node("write_code", nodes.write_code)
    graph.add_node("run_cells", nodes.run_cells)
    graph.add_node("debug", nodes.debug)
    graph.add_node("analyse_results", nodes.analyse_results)
    graph.add_node("critique", nodes.critique)
    graph.add_node("plan_followup", nodes.plan_followup)
    graph.add_node("approve_followup", nodes.approve_followup)
    graph.add_node("write_report", nodes.write_report)
    graph.add_node("propose_change", nodes.propose_change)
    graph.add_edge(START, "intake")
    graph.add_edge("intake", "search_literature")
    graph.add_edge("search_literature", "choose_tool")
    graph.add_conditional_edges("choose_tool", after_choice, ["propose_experiments", "answer_out_of_scope"])
    graph.add_edge("answer_out_of_scope", END)
    graph.add_edge("propose_experiments", "approve_plan")
    graph.add_conditional_edges("approve_plan", after_approval, ["write_code", END])
    graph.add_edge("write_code", "run_cells")
    graph.add_conditional_edges(
        "run_cells", after_cells, ["write_code", "analyse_results", "debug", "write_report", END]
    )
    graph.add_conditional_edges("debug", after_debug, ["run_cells", END])
    graph.add_edge("analyse_results", "critique")
    graph.add_edge("critique", "plan_followup")
    graph.add_conditional_edges("plan_followup", after_followup, ["approve_followup", "write_report"])
    graph.add_conditional_edges("approve_followup", after_followup_approval, ["write_code", "write_report"])
    graph.add_edge("write_report", "propose_change")
    graph.add_edge("propose_change", END)
    return graph
