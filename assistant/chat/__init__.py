"""Chat with the configured model like ``llm``: model aliases, a log of every exchange, answers grounded in the
paper library.

Covers the pieces ``ara chat`` and ``ara logs`` use: ``models`` (aliases -> settings), ``log`` (the SQLite log of
exchanges and conversations) and ``grounding`` (library passages quoted with their keys; citations checked).
Does not cover the command line (``assistant.cli.chat``, ``assistant.cli.logs``) or the model client.
"""

from assistant.chat.grounding import RELEVANCE, check_citations, find_passages, grounded_prompt
from assistant.chat.log import ChatLog, Citation, Exchange
from assistant.chat.models import ModelChoice, choose_model, load_aliases

__all__ = [
    "RELEVANCE",
    "ChatLog",
    "Citation",
    "Exchange",
    "ModelChoice",
    "check_citations",
    "choose_model",
    "find_passages",
    "grounded_prompt",
    "load_aliases",
]
