"""Widgets of the TUI: thin views over messages; none of them calls the LLM, the graph or a tool."""
