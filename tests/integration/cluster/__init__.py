"""Tests against a throw-away three-node RabbitMQ cluster (tests/cluster)."""
