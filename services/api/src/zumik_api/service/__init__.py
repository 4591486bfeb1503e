"""Use cases: each one loads the aggregate, applies the domain, and writes one document."""
