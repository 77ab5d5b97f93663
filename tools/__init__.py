"""ara's tools: the kernel sandbox, the paper library, version control and the research tools.

Importable inside sandboxed kernels. Never imports ``assistant``, ``langgraph``, ``openai`` or ``textual``
(an import-linter contract and a subprocess test hold this line).
"""

__version__ = "0.1.0"
