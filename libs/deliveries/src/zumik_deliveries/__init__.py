"""The notification delivery log."""
