"""The one definition of every message, event and public object the Zumik Support services share."""
