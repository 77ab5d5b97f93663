"""The research loop: a LangGraph agent from a question to a proposal a human reviews.

Covers the graph (``build_graph``), its state (``GraphState``, ``SCHEMA_VERSION``), its runtime context
(``RunContext`` and the Protocols of its dependencies) and running it (``start_run``, ``resume_run``,
``open_checkpointer``). Importing this package builds nothing and connects nothing. It never imports
``assistant.review``: nothing in the loop can approve or merge a proposal.
"""

from assistant.graph.builder import NODE_ORDER, build_graph
from assistant.graph.context import RunContext
from assistant.graph.runner import (
    RunNotFoundError,
    compile_graph,
    load_state,
    open_checkpointer,
    resume_run,
    start_run,
)
from assistant.graph.state import SCHEMA_VERSION, CheckpointVersionError, GraphState
from assistant.schemas import RunOutcome

__all__ = [
    "NODE_ORDER",
    "SCHEMA_VERSION",
    "CheckpointVersionError",
    "GraphState",
    "RunContext",
    "RunNotFoundError",
    "RunOutcome",
    "build_graph",
    "compile_graph",
    "load_state",
    "open_checkpointer",
    "resume_run",
    "start_run",
]
