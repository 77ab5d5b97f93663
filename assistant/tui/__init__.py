"""ara's terminal UI: a Textual app over the research loop's events (Chat, Runs, Papers, Review).

Covers the app (``make_app``), its panes, modals, widgets and the messages that carry work results to them.
It is a thin client: widgets post requests, the app runs the graph, the library and review in workers through the
Protocols in ``assistant.tui.backends``. Does not cover the research loop, the library or review themselves.
"""

from assistant.tui.app import AraApp, make_app

__all__ = ["AraApp", "make_app"]
