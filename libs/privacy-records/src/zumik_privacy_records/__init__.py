"""Privacy requests and their outcomes: exports and erasure receipts."""
