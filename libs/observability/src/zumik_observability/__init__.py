"""Logs, traces and metrics, done the same way in every Zumik Support process."""
