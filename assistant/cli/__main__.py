"""``python -m assistant.cli`` runs the ``ara`` command."""

from assistant.cli import main

main()
