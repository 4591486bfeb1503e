"""Projects, API keys, the Zumik team and their tokens."""
