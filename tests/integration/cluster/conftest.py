"""A three-node RabbitMQ cluster of the test module's own (see tests/cluster/nodes.py), next to
and apart from the default node on 5672."""

import sys
from collections.abc import Iterator

import pytest

from tests.cluster import RabbitCluster, find_sbin


@pytest.fixture(scope="module")
def cluster() -> Iterator[RabbitCluster]:
    if find_sbin() is None:
        pytest.skip(
            "rabbitmq-server is not installed; these tests start a 3-node cluster of their own "
            "(Debian: apt-get install rabbitmq-server, or set ZUMIK_RABBITMQ_SBIN)"
        )
    with RabbitCluster(3) as started:
        print(
            f"\ncluster of 3 up in {started.timings['start_all']:.1f} s "
            f"(boot {started.timings['boot']:.1f} s, then joins)",
            file=sys.stderr,
        )
        yield started


@pytest.fixture
def full_cluster(cluster: RabbitCluster) -> Iterator[RabbitCluster]:
    """The module's cluster with every node running before the test and again after it."""
    for index in range(len(cluster.nodes)):
        cluster.start(index)
    yield cluster
    for index in range(len(cluster.nodes)):
        cluster.start(index)
