"""search_literature: hybrid retrieval for the question; evidence is kept in the run directory.

Covers the queries (``question_queries``: the question itself and its content words, extracted without the model,
then up to three the brief suggested), running them, de-duplicating hits by citation key and writing
``evidence.json`` (with the text, which is untrusted) beside the run's other files; state keeps keys, titles and
anchors only. With no paper library the evidence is empty and the report says so. Does not call the model.
"""

from __future__ import annotations

import json
import re

from langgraph.runtime import Runtime

from assistant.events import EvidenceRetrieved
from assistant.graph.context import HitLike, RunContext
from assistant.graph.nodes._common import Update, run_dir, traced, write_atomic
from assistant.graph.state import GraphState, brief_of
from assistant.schemas import EvidenceRef
from tools.papers.sparse import STOP_WORDS

MAX_EVIDENCE = 8
MAX_QUERY_CHARS = 300
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'+-]*[A-Za-z0-9]|[A-Za-z]")


def question_queries(question: str) -> list[str]:
    """Queries made from the question without the model: the question itself and its content words."""
    text = " ".join(question.split())[:MAX_QUERY_CHARS]
    words = [w for w in _WORD.findall(text) if w.casefold() not in STOP_WORDS]
    keywords = " ".join(dict.fromkeys(words))
    return [q for q in dict.fromkeys([text, keywords]) if q.strip()]


@traced("search_literature")
async def search_literature(state: GraphState, *, runtime: Runtime[RunContext]) -> Update:
    """Retrieve evidence for the brief's queries."""
    ctx = runtime.context
    brief = brief_of(state)
    queries = list(
        dict.fromkeys([*question_queries(state["question"]), *(q for q in brief.search_queries if q.strip())])
    )
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
