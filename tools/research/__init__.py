"""Research machinery shared by the research tools (``tools.w2s``, ``tools.probes``, ``tools.evals``).

Covers the content-addressed array cache, frozen features and model activations, heads and their losses, metrics
and bootstrap intervals, held-out scoring (labels on the host, predictions from the kernel) and ``host_config``.
Imports no research tool: ``w2s``, ``probes`` and ``evals`` import this package, never each other's internals.
Modules are imported directly (``tools.research.metrics``), so importing this package loads nothing heavy.
"""
