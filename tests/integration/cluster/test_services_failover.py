"""The API and the notifier, as their own processes, keep notifications flowing while the nodes of
a three-node RabbitMQ cluster stop and come back (issue 15).

Both get every node in `AMQP_URL`. Tickets are created at a steady 20 a second; meanwhile the
node the API is connected to is stopped (cleanly: a rolling upgrade, a node drained) and brought
back, then the notifier's if it was on another one, then a follower (a node neither is connected
to). Asserted: every POST answers 201; every ticket's ops webhook arrives exactly once (by
`webhook-id`); the webhook lag (POST returned to webhook received) stays under 5 s at p99 for the
tickets created while a node was down or rebooting; `/readyz` answers 200 throughout; the relay
writes a handful of log lines per outage at most; and every queue on the cluster is a quorum
queue.

`ZUMIK_CLUSTER_SINGLE_URL=1` gives both services only the first node's URL, as before they could
list a cluster: the test then fails (its lag assertion), which is what it is there to catch.

The cluster is the module's own (tests/cluster/nodes.py): nodes it did not start are never
touched. The measured figures go to stderr (`pytest -s` shows them).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from zumik_accounts.projects import Projects
from zumik_store import mongo

from tests import services as service_resolution
from tests.cluster import RabbitCluster
from tests.cluster.stack import (
    Lag,
    Outage,
    ReadyzProbe,
    TicketLoad,
    lag_in,
    nodes_of,
    queue_types,
    relay_pauses,
    report,
    role_of,
    running_stack,
    stop_and_restore,
)
from tests.webhooks import wait_for_webhooks

pytestmark = pytest.mark.slow

RATE = 20.0  # tickets a second
DOWN_FOR = 6.0  # seconds each stopped node stays down before it is started again
SETTLE = 3.0  # seconds after a node is back before the next one stops
WARM_UP_TICKETS = 10
LAG_P99_LIMIT = 5.0
RELAY_LINES_PER_OUTAGE = 4  # "a handful": a pause and a resume line are expected
DELIVERY_WITHIN = 90.0
SINGLE_URL = os.environ.get("ZUMIK_CLUSTER_SINGLE_URL") == "1"


@dataclass(frozen=True)
class ClusterProject:
    mongodb_url: str
    api_key: str


@pytest.fixture
async def test_project(
    services: service_resolution.Services,
) -> AsyncIterator[ClusterProject]:
    """A throw-away database on the shared store, with one enterprise project in it."""
    url = service_resolution.with_database(
        services.mongodb_url, f"zumik_test_cluster_{secrets.token_hex(4)}"
    )
    client = mongo.connect(url)
    db = mongo.database(client)
    try:
        projects = Projects(db)
        project = await projects.create("Cluster failover", "enterprise")
        issued = await projects.new_api_key(project.id)
        yield ClusterProject(url, issued.api_key)
    finally:
        with contextlib.suppress(Exception):
            await client.drop_database(db.name)
        await client.close()


async def test_api_and_notifier_survive_the_loss_of_any_node(
    full_cluster: RabbitCluster, test_project: ClusterProject, tmp_path: Path
) -> None:
    cluster = full_cluster
    outages: list[Outage] = []
    async with running_stack(
        cluster, test_project.mongodb_url, tmp_path, single_node=0 if SINGLE_URL else None
    ) as stack:
        receiver = stack.receiver
        load = TicketLoad(stack.api_url, test_project.api_key, RATE)
        probe = ReadyzProbe(stack.api_url)
        probe.start()
        load.start()
        try:
            # The whole path works before anything stops.
            while len(load.created()) < WARM_UP_TICKETS:
                stack.check_running()
                await asyncio.sleep(0.2)
            warm = set(list(load.created())[:WARM_UP_TICKETS])
            assert not await wait_for_webhooks(receiver, warm, DELIVERY_WITHIN), (
                "no webhooks before any node stopped"
            )

            # 1. The node the API is connected to (the notifier's too, if it is the same).
            api_node, notifier_node = await nodes_of(cluster, stack)
            outages.append(
                await stop_and_restore(
                    cluster,
                    stack,
                    api_node,
                    role_of(api_node, api_node, notifier_node),
                    down_for=DOWN_FOR,
                    settle=SETTLE,
                )
            )
            # 2. The notifier's node, if it was connected elsewhere.
            if notifier_node != api_node:
                api_node, notifier_node = await nodes_of(cluster, stack)
                outages.append(
                    await stop_and_restore(
                        cluster,
                        stack,
                        notifier_node,
                        role_of(notifier_node, api_node, notifier_node),
                        down_for=DOWN_FOR,
                        settle=SETTLE,
                    )
                )
            # 3. A follower: a node neither of them is connected to.
            api_node, notifier_node = await nodes_of(cluster, stack)
            follower = next(
                i for i in range(len(cluster.nodes)) if i not in {api_node, notifier_node}
            )
            outages.append(
                await stop_and_restore(
                    cluster, stack, follower, "follower", down_for=DOWN_FOR, settle=SETTLE
                )
            )
        finally:
            await load.stop()
        created = load.created()
        missing = await wait_for_webhooks(receiver, set(created), DELIVERY_WITHIN)
        await asyncio.sleep(2.0)  # a duplicate would come right behind
        await probe.stop()
        stack.check_running()
        duplicates = receiver.duplicates()
        queues = queue_types(cluster)

    failed_posts = [p for p in load.posts if p.status != 201]
    lags = [lag_in(load, receiver, *outage.window) for outage in outages]
    _report(outages, lags, load, probe, missing, duplicates)

    assert failed_posts == [], f"{len(failed_posts)} POSTs did not answer 201: {failed_posts[:5]}"
    assert probe.failures() == [], f"/readyz did not answer 200: {probe.failures()[:5]}"
    assert missing == set(), f"{len(missing)} tickets' webhooks never arrived"
    assert duplicates == {}, f"webhooks delivered more than once: {duplicates}"
    for outage, lag in zip(outages, lags, strict=True):
        assert lag.arrived == lag.tickets > 0
        assert lag.p99 < LAG_P99_LIMIT, f"node {outage.node} ({outage.role}): {lag.describe()}"
        assert len(outage.relay_lines) <= RELAY_LINES_PER_OUTAGE, "\n".join(outage.relay_lines)
    assert outages[0].role != "follower"
    assert outages[0].api_node_after not in {None, outages[0].node}
    assert {name: kind for name, kind in queues.items() if kind != "quorum"} == {}
    assert any(name.startswith("zumik.api.billing") for name in queues)
    assert any(name.startswith("zumik.test.cluster.") for name in queues)


def _report(
    outages: list[Outage],
    lags: list[Lag],
    load: TicketLoad,
    probe: ReadyzProbe,
    missing: set[str],
    duplicates: dict[str, int],
) -> None:
    mode = "single-URL (first node only)" if SINGLE_URL else "every node in AMQP_URL"
    report(
        f"\n{mode}: {len(load.posts)} POSTs at {RATE:.0f}/s, "
        f"{sum(p.status == 201 for p in load.posts)} answered 201; {len(missing)} webhooks "
        f"missing, {len(duplicates)} duplicated; /readyz {len(probe.probes)} probes, "
        f"{len(probe.failures())} not 200"
    )
    for outage, lag in zip(outages, lags, strict=True):
        pauses = ", ".join(f"{p:.2f} s" for p in relay_pauses(outage.relay_lines)) or "none"
        report(
            f"node {outage.node} ({outage.role}) stopped: stop took "
            f"{outage.stopped - outage.began:.1f} s, back after "
            f"{outage.restarted - outage.began:.1f} s; API then on node {outage.api_node_after},"
            f" notifier on node {outage.notifier_node_after}; {lag.describe()}; /readyz not "
            "`ready` for "
            f"{probe.degraded_seconds(outage.began, outage.restarted):.2f} s at most; "
            f"{len(outage.relay_lines)} relay log lines (pauses: {pauses})"
        )
        for line in outage.relay_lines:
            report(f"    {line}")
