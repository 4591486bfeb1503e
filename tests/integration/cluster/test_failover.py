"""Failover of FastStream brokers between the nodes of a three-node RabbitMQ cluster.

Each test publishes with publisher confirms (and `mandatory`, through a declared exchange, as the
API's outbox relay does) in a loop, about 50 messages a second, and a subscriber on a quorum
queue records what arrives. Measured, all in `time.monotonic()` seconds:
- the gap: from the moment the client saw its connection close to the first message *published
  after that* which is confirmed, and the first such message the subscriber receives (so the
  consumer is back too, on the new node);
- loss: every confirmed message must reach the subscriber (duplicates are allowed: a delivery
  in flight when a node stops is redelivered).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import math
import secrets
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)
from zumik_messaging.connection import (
    FailoverConnection,
    FailoverRabbitBroker,
    connect,
    make_broker,
)

from tests.cluster import RabbitCluster

pytestmark = pytest.mark.slow

PUBLISH_PAUSE = 0.02
PUBLISH_TIMEOUT = 3.0  # the confirm wait of one publish; a blocked publish gives up after it
FAILOVER_WITHIN = 5.0  # the gap the failover broker must stay under (measured: well under 1 s)


def report(text: str) -> None:
    print(text, file=sys.stderr)


class Flow:
    """One broker publishing `{"seq": n}` in a loop to `exchange`/`routing_key` and consuming
    them from `queue`, with the times of everything. `make_broker` gets the connection
    callbacks (FastStream's `on_close`/`on_reconnected`) as keywords."""

    def __init__(
        self,
        make_broker: Callable[..., RabbitBroker],
        exchange: RabbitExchange,
        queue: RabbitQueue,
    ) -> None:
        self.exchange = exchange
        self.queue = queue
        self.sent: dict[int, float] = {}
        self.confirmed: dict[int, float] = {}
        self.received: dict[int, float] = {}
        self.deliveries: Counter[int] = Counter()
        self.failures: list[tuple[float, str]] = []
        self.closed_at: list[float] = []
        self.reconnected_at: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self.broker = make_broker(on_close=[self.on_close], on_reconnected=[self.on_reconnected])

        @self.broker.subscriber(queue, exchange)
        async def consume(body: dict[str, int]) -> None:
            seq = body["seq"]
            self.deliveries[seq] += 1
            self.received.setdefault(seq, time.monotonic())

    def on_close(self, *_: Any) -> None:
        self.closed_at.append(time.monotonic())

    def on_reconnected(self, *_: Any) -> None:
        self.reconnected_at.append(time.monotonic())

    async def start(self) -> None:
        await self.broker.start()
        self._task = asyncio.create_task(self._publish_forever())
        await self.wait_for(lambda: len(self.received) >= 20, within=15, what="warm-up traffic")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.broker.stop()

    async def _publish_forever(self) -> None:
        for seq in range(10**9):
            self.sent[seq] = time.monotonic()
            try:
                async with asyncio.timeout(PUBLISH_TIMEOUT + 1):
                    await self.broker.publish(
                        {"seq": seq},
                        exchange=self.exchange,
                        routing_key=self.queue.routing_key,
                        persist=True,
                        mandatory=True,
                        timeout=PUBLISH_TIMEOUT,
                    )
            except (Exception, asyncio.CancelledError) as exc:  # unconfirmed: to be retried
                # aiormq fails the futures of a connection it drops (a missed heartbeat) with
                # CancelledError; only a cancellation of this task is one.
                task = asyncio.current_task()
                if isinstance(exc, asyncio.CancelledError) and task and task.cancelling():
                    raise
                self.failures.append((time.monotonic(), type(exc).__name__))
            else:
                self.confirmed[seq] = time.monotonic()
            await asyncio.sleep(PUBLISH_PAUSE)

    # -- measurements ------------------------------------------------------------------------

    def first_confirm_sent_after(self, moment: float) -> float | None:
        return min((t for s, t in self.confirmed.items() if self.sent[s] > moment), default=None)

    def first_receipt_sent_after(self, moment: float) -> float | None:
        return min((t for s, t in self.received.items() if self.sent[s] > moment), default=None)

    def max_confirm_gap(self, start: float, end: float) -> float:
        """The longest stretch in [start, end] without a confirm."""
        times = sorted(t for t in self.confirmed.values() if start <= t <= end)
        edges = [start, *times, end]
        return max(b - a for a, b in itertools.pairwise(edges))

    def lost(self) -> list[int]:
        return sorted(set(self.confirmed) - set(self.received))

    async def wait_for(self, condition: Any, *, within: float, what: str) -> float:
        began = time.monotonic()
        while not condition():
            if time.monotonic() - began > within:
                raise AssertionError(f"{what}: not within {within} s")
            await asyncio.sleep(0.01)
        return time.monotonic() - began

    async def settle(self, within: float = 15.0) -> None:
        """Until everything confirmed so far has been received."""
        target = set(self.confirmed)
        await self.wait_for(
            lambda: target <= set(self.received), within=within, what="confirmed messages arrive"
        )


def topology(token: str, name: str) -> tuple[RabbitExchange, RabbitQueue]:
    exchange = RabbitExchange(f"failover.{token}", type=ExchangeType.DIRECT, durable=True)
    queue = RabbitQueue(
        f"failover.{token}.{name}",
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=name,
        arguments={"x-delivery-limit": 5},
    )
    return exchange, queue


def channel() -> Channel:
    return Channel(publisher_confirms=True, on_return_raises=True)


def node_of(broker: FailoverRabbitBroker, cluster: RabbitCluster) -> int:
    node = broker.current_node
    assert node is not None, "the broker is not connected"
    index = cluster.index_of_port(int(node.rsplit(":", 1)[1]))
    assert index is not None
    return index


@contextlib.asynccontextmanager
async def running(flow: Flow) -> AsyncIterator[Flow]:
    await flow.start()
    try:
        yield flow
    finally:
        await flow.stop()


async def test_stopping_the_connected_node_moves_publisher_and_consumer(
    full_cluster: RabbitCluster,
) -> None:
    cluster = full_cluster
    token = secrets.token_hex(3)
    name = f"failover-{token}"
    urls = [f"{url}?name={name}" for url in cluster.urls()]
    exchange, queue = topology(token, "multi")
    multi = Flow(
        functools.partial(make_broker, urls, default_channel=channel(), logger=None),
        exchange,
        queue,
    )
    multi_broker = multi.broker
    assert isinstance(multi_broker, FailoverRabbitBroker)
    # An exclusive queue lives and dies with its connection's node: receiving on it after the
    # switch shows the robust connection declared it, bound it and consumed from it anew there.
    exclusive = RabbitQueue(
        f"failover.{token}.exclusive",
        durable=False,
        exclusive=True,
        auto_delete=True,
        routing_key=queue.routing_key,
    )
    echoed: dict[int, float] = {}

    @multi_broker.subscriber(exclusive, exchange)
    async def echo(body: dict[str, int]) -> None:
        echoed.setdefault(body["seq"], time.monotonic())

    async with running(multi):
        victim = node_of(multi_broker, cluster)
        # The broker's own view agrees with the cluster's.
        assert await asyncio.to_thread(cluster.which_node_serves, name) == victim
        # The quorum queue's leader is where it was declared (leader locator `client-local`).
        assert await asyncio.to_thread(cluster.leader_of, queue.name) == victim

        # The same traffic through a plain single-URL FastStream broker on the same node.
        _, single_queue = topology(token, "single")
        single = Flow(
            functools.partial(
                RabbitBroker,
                f"{cluster.url(victim)}?name=single-{token}",
                default_channel=channel(),
                reconnect_interval=1.0,
                logger=None,
            ),
            exchange,
            single_queue,
        )
        async with running(single):
            began = time.monotonic()
            stop_took = await asyncio.to_thread(cluster.stop, victim)
            assert multi.closed_at, "the failover broker never saw its connection close"
            lost_at = multi.closed_at[0]
            await multi.wait_for(
                lambda: multi.first_receipt_sent_after(lost_at) is not None,
                within=FAILOVER_WITHIN + 5,
                what="the failover broker publishes and consumes again",
            )
            await multi.wait_for(
                lambda: any(multi.sent[seq] > lost_at for seq in echoed),
                within=FAILOVER_WITHIN,
                what="the exclusive queue is back on the new node",
            )
            echo_gap = min(t for seq, t in echoed.items() if multi.sent[seq] > lost_at) - lost_at
            confirm_gap = (multi.first_confirm_sent_after(lost_at) or math.nan) - lost_at
            receive_gap = (multi.first_receipt_sent_after(lost_at) or math.nan) - lost_at
            restored_gap = multi.reconnected_at[0] - lost_at
            new_node = node_of(multi_broker, cluster)
            report(
                f"\nstop of node {victim}: rabbitmqctl stop took {stop_took:.2f} s; connection "
                f"closed {lost_at - began:.2f} s after the stop began; failover broker on node "
                f"{new_node}: channels/queues/consumers restored after "
                f"{restored_gap * 1000:.0f} ms, first confirm after {confirm_gap * 1000:.0f} ms, "
                f"first receipt after {receive_gap * 1000:.0f} ms (on the re-declared exclusive "
                f"queue: {echo_gap * 1000:.0f} ms; unconfirmed publishes: "
                f"{len(multi.failures)}: {sorted({kind for _, kind in multi.failures})})"
            )
            assert new_node != victim
            assert await multi_broker.ping(timeout=0)
            assert confirm_gap < FAILOVER_WITHIN
            assert receive_gap < FAILOVER_WITHIN
            assert await asyncio.to_thread(cluster.which_node_serves, name) == new_node

            # Meanwhile the single-URL broker re-dials its dead node: nothing gets through
            # for as long as the node is down.
            outage = 5.0
            await asyncio.sleep(max(0.0, lost_at + outage - time.monotonic()))
            single_lost_at = single.closed_at[0]
            assert single.first_confirm_sent_after(single_lost_at) is None
            assert single.first_receipt_sent_after(single_lost_at) is None
            assert multi.max_confirm_gap(lost_at + FAILOVER_WITHIN, time.monotonic()) < 2.0

            restart_began = time.monotonic()
            await asyncio.to_thread(cluster.start, victim)
            await single.wait_for(
                lambda: single.first_confirm_sent_after(restart_began) is not None,
                within=20,
                what="the single-URL broker publishes again once its node is back",
            )
            single_gap = (single.first_confirm_sent_after(single_lost_at) or math.nan) - (
                single_lost_at
            )
            report(
                f"single-URL broker: no confirm for {single_gap:.1f} s, until its node was back "
                f"(down {restart_began - lost_at:.1f} s, then booting "
                f"{time.monotonic() - restart_began:.1f} s); the failover broker's longest gap "
                "while that node rebooted and rejoined: "
                f"{multi.max_confirm_gap(restart_began, time.monotonic()) * 1000:.0f} ms"
            )
            assert single_gap > outage
            await single.settle()
        await multi.settle()
    assert multi.lost() == []
    assert single.lost() == []
    redelivered = sum(1 for n in multi.deliveries.values() if n > 1)
    report(
        f"failover broker: {len(multi.confirmed)} confirmed, none lost, {redelivered} "
        f"delivered more than once; single-URL broker: {len(single.confirmed)} confirmed, "
        "none lost"
    )
    queues = await asyncio.to_thread(cluster.quorum_queues)
    assert queues[queue.name]["online"] == [0, 1, 2]


async def test_losing_a_follower_and_rebalancing_leaders(full_cluster: RabbitCluster) -> None:
    cluster = full_cluster
    token = secrets.token_hex(3)
    urls = cluster.urls()
    exchange, queue = topology(token, "main")
    flow = Flow(
        functools.partial(make_broker, urls, default_channel=channel(), logger=None),
        exchange,
        queue,
    )
    broker = flow.broker
    assert isinstance(broker, FailoverRabbitBroker)
    async with running(flow):
        serving = node_of(broker, cluster)
        leader = await asyncio.to_thread(cluster.leader_of, queue.name)
        follower = next(i for i in range(3) if i not in {serving, leader})

        stop_began = time.monotonic()
        await asyncio.to_thread(cluster.stop, follower)
        await asyncio.sleep(2)
        follower_gap = flow.max_confirm_gap(stop_began, time.monotonic())
        report(
            f"\nstop of follower node {follower} (connection on {serving}, leader on {leader}): "
            f"longest gap between confirms {follower_gap * 1000:.0f} ms, no reconnect"
        )
        assert node_of(broker, cluster) == serving
        assert flow.closed_at == []
        assert follower_gap < 2.0

        # A new connection whose first pick is the stopped node goes on to the next one.
        began = time.monotonic()
        extra = await connect([f"{url}?name=extra-{token}" for url in urls], first_host=follower)
        more = [f"failover.{token}.more{i}" for i in range(5)]
        try:
            took = time.monotonic() - began
            assert isinstance(extra, FailoverConnection)
            assert extra.current_node is not None
            extra_node = cluster.index_of_port(int(extra.current_node.rsplit(":", 1)[1]))
            assert extra_node != follower
            assert await asyncio.to_thread(cluster.which_node_serves, extra) == extra_node
            report(f"connect() with its first node down: on another node after {took:.2f} s")
            assert took < 2.0

            # Quorum queues declared while a member is down: where do they live?
            extra_channel = await extra.channel()
            for name in more:
                await extra_channel.declare_queue(
                    name, durable=True, arguments={"x-queue-type": "quorum"}
                )
        finally:
            await extra.close()
        declared = (await asyncio.to_thread(cluster.quorum_queues))[more[0]]
        report(
            f"a quorum queue declared with node {follower} down: members {declared['members']},"
            f" online {declared['online']}"
        )

        await asyncio.to_thread(cluster.start, follower)
        before = await asyncio.to_thread(cluster.quorum_queues)
        rebalance_began = time.monotonic()
        await asyncio.to_thread(cluster.rebalance)
        await asyncio.sleep(1)
        after = await asyncio.to_thread(cluster.quorum_queues)
        ours = [queue.name, *more]
        leaders_before = Counter(before[q]["leader"] for q in ours)
        leaders_after = Counter(after[q]["leader"] for q in ours)
        rebalance_gap = flow.max_confirm_gap(rebalance_began, time.monotonic())
        report(
            f"rebalance: leaders per node {dict(leaders_before)} -> {dict(leaders_after)}; "
            f"longest gap between confirms {rebalance_gap * 1000:.0f} ms"
        )
        assert max(leaders_after.values()) < max(leaders_before.values())
        assert len(leaders_after) == 3
        assert rebalance_gap < 2.0
        await flow.settle()
    assert flow.lost() == []
