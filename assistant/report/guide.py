"""What the model is shown before it writes a ``ReportDraft``: the placeholders it may use and their values.

Covers a plain-text menu of every ``{{ metric:... }}``, ``{{ table:... }}``, ``{{ figure:... }}`` and
``{{ cite:... }}`` the run supports, with the current values so the model can interpret them (it still may not
type them). Does not cover the prompt around it (``prompts/`` in the research loop) or the LLM call.
"""

from __future__ import annotations

from collections.abc import Iterable

from assistant.report.fill import metric_text
from assistant.report.results import ResultsDocument

NO_CITATIONS = "(none: cite nothing)"
"""What the guide lists when the evidence has no keys (a model sometimes echoes it back as a key)."""


def placeholder_guide(results: ResultsDocument, citation_keys: Iterable[str] = (), figures: Iterable[str] = ()) -> str:
    """A menu of valid placeholders for this run, one per line, with the value each would show.

    Args:
        results: The run's results.json.
        citation_keys: Keys from the evidence the model may cite (``paper_id#chunk_id``).
        figures: Extra figure names (e.g. ``metrics_ci``, which ``build_report`` draws).
    """
    lines = ["Metrics (write the placeholder, never the number):"]
    for name, metric in results.metrics.items():
        fields = [f for f in ("value", "mean", "ci_low", "ci_high", "n") if metric.field(f) is not None]
        if metric.has_ci:
            fields.append("ci")
        choices = ", ".join(f"{{{{ metric:{name}.{f} }}}}" for f in fields)
        lines.append(f"- {{{{ metric:{name} }}}} = {metric_text(metric, None)}; fields: {choices or 'none'}")
    if len(lines) == 1:
        lines.append("- (none: the run recorded no metrics)")
    lines.append("Tables: " + (", ".join(f"{{{{ table:{t} }}}}" for t in results.tables) or "(none)"))
    names = [*results.figures, *figures]
    lines.append("Figures: " + (", ".join(f"{{{{ figure:{f} }}}}" for f in names) or "(none)"))
    keys = list(citation_keys)
    lines.append("Citations: " + (", ".join(f"{{{{ cite:{k} }}}}" for k in keys) or NO_CITATIONS))
    return "\n".join(lines)
