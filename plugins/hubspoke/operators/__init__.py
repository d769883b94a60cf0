"""Thin operators: each ``execute`` calls one hubspoke function, logs, returns a small value."""
