"""Bridges between tui-bench and the world outside: data sets in, tracking and serving out."""
