"""search_literature: hybrid retrieval for the brief's queries; evidence is kept in the run directory.

Covers running the queries, de-duplicating hits by citation key and writing ``evidence.json`` (with the text, which
is untrusted) beside the run's other files; state keeps keys, titles and anchors only. With no paper library the
evidence is empty and the report says so. Does not call the model.
"""

from __future__ import annotations

import json

from langgraph.runtime import Runtime

from assistant.events import EvidenceRetrieved
from assistant.graph.context import HitLike, RunContext
from assistant.graph.nodes._common import Update, run_dir, traced, write_atomic
from assistant.graph.state import GraphState, brief_of
from assistant.schemas import EvidenceRef

MAX_EVIDENCE = 8


@traced("search_literature")
async def search_literature(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Retrieve evidence for the brief's queries."""
    ctx = runtime.context
    brief = brief_of(state)
    queries = [q for q in brief.search_queries if q.strip()] or [state["question"][:300]]
    hits: dict[str, HitLike] = {}
    if ctx.library is not None:
        for query in queries:
            for hit in ctx.library.search(query, k=ctx.top_k):
                if hit.key not in hits or hit.score > hits[hit.key].score:
                    hits[hit.key] = hit
    ranked = sorted(hits.values(), key=lambda h: -h.score)[:MAX_EVIDENCE]
    refs = [EvidenceRef(key=h.key, title=h.title, anchor=h.anchor, score=float(h.score)) for h in ranked]
    stored = [{**r.model_dump(mode="json"), "text": h.text} for r, h in zip(refs, ranked, strict=True)]
    write_atomic(run_dir(state) / "evidence.json", json.dumps(stored, indent=1))
    ctx.runlog.append(EvidenceRetrieved(run_id=state["run_id"], queries=queries, keys=[r.key for r in refs]))
    return {"evidence": [r.model_dump(mode="json") for r in refs]}
