"""The domain model: plain Python, no I/O."""
