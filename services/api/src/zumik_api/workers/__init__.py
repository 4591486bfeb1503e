"""Background work a running API process does on its own clock."""
