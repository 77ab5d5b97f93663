"""The research loop's nodes, one small async function each (``async def node(state, runtime) -> update``)."""

from assistant.graph.nodes.analysis import analyse_results, critique
from assistant.graph.nodes.cells import run_cells
from assistant.graph.nodes.code import debug, write_code
from assistant.graph.nodes.followup import approve_followup, plan_followup
from assistant.graph.nodes.intake import intake
from assistant.graph.nodes.literature import search_literature
from assistant.graph.nodes.planning import approve_plan, propose_experiments
from assistant.graph.nodes.report import propose_change, write_report
from assistant.graph.nodes.scope import answer_out_of_scope, choose_tool

__all__ = [
    "analyse_results",
    "answer_out_of_scope",
    "approve_followup",
    "approve_plan",
    "choose_tool",
    "critique",
    "debug",
    "intake",
    "plan_followup",
    "propose_change",
    "propose_experiments",
    "run_cells",
    "search_literature",
    "write_code",
    "write_report",
]
