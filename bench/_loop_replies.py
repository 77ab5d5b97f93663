"""The scripted model's replies for one normal pass of the research loop, shared by the benches that drive it.

One list, in the loop's order (brief, tool choice, plans with a complete config, analysis, critique), so a change
to the loop's model calls is made here once. Covers replies only; the benches build the plan and the run.
"""

from __future__ import annotations

from typing import Any


def loop_replies(tool: str, plan: dict[str, Any], metric: str) -> list[dict[str, Any]]:
    """Replies that choose ``tool``, propose ``plan`` and describe ``metric`` without a verdict."""
    return [
        {"objective": "o", "key_terms": [tool], "search_queries": [], "success_criteria": f"{metric} written"},
        {"reason": "its metrics are what the question asks about", "tool": tool},
        {"plans": [plan]},
        {"claims": [{"statement": f"{metric} was measured.", "about": [metric], "stance": "describes"}]},
        {"tests_question": "yes", "why": f"{metric} is the quantity asked about", "confounds": [], "follow_ups": []},
    ]
