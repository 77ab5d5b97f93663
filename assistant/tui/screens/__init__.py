"""The TUI's views: four panes (Chat, Runs, Papers, Review) switched with F2-F5, and the modal screens."""
