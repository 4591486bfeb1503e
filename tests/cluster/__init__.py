"""Test helpers that run a throw-away multi-node RabbitMQ cluster on loopback."""

from tests.cluster.nodes import ClusterError, RabbitCluster, find_sbin

__all__ = ["ClusterError", "RabbitCluster", "find_sbin"]
