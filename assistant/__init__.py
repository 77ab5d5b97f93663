"""ara's assistant side: the research agent, its LLM layer, CLI, TUI and scheduler.

Covers everything that talks to a language model or a person. Does not cover sandboxed execution, the paper
library or the research tools themselves: those live in the ``tools`` package, which never imports this one.
"""

__version__ = "0.1.0"
