"""The Chat pane's slash commands and their one-line help (shown by ``/help``, F1 and unknown commands).

Covers only the names and their help text; the app handles each command (``AraApp._command``).
"""

from __future__ import annotations

COMMANDS = {
    "run": "/run QUESTION: start a research run (it proposes a plan for you to approve)",
    "papers": "/papers QUERY: search the paper library",
    "review": "/review: open the proposals waiting for review",
    "budget": "/budget: tokens, cells and time of the current run against its budget",
    "resume": "/resume [RUN_ID]: continue a failed or stopped run from its last checkpoint",
    "campaign": "/campaign [ID]: the morning summary of the newest (or given) overnight campaign",
    "thread": "/thread NAME: switch chat thread (history is kept per thread)",
    "help": "/help: keys and commands",
}
