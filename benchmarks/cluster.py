"""Issue 15: a RabbitMQ cluster losing one node at a time. Three nodes of the machine's own
`rabbitmq-server` on loopback (tests/cluster/nodes.py: their own names, ports, data and cookie;
the default node is never touched), the API and the notifier as their own processes with every
node in `AMQP_URL`, tickets at a steady 20 a second, and each node in turn stopped cleanly, kept
down, started again. Reported per stopped node: the webhook lag (POST returned to ops webhook
received) of the tickets created meanwhile, p50/p99/max, and what the services went through.
"""

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from zumik_accounts.projects import Projects

from benchmarks.common import Services, bench_database
from benchmarks.report import Section
from tests.cluster import RabbitCluster, find_sbin
from tests.cluster.stack import (
    Lag,
    Outage,
    ReadyzProbe,
    Stack,
    TicketLoad,
    lag_in,
    node_of,
    relay_pauses,
    role_of,
    running_stack,
    stop_and_restore,
)
from tests.webhooks import wait_for_webhooks

log = logging.getLogger("benchmarks")

RATE = 20.0  # tickets a second
BASELINE_SECONDS = 10.0
DOWN_FOR = 10.0  # seconds a stopped node stays down before it is started again
SETTLE = 5.0
DELIVERY_WITHIN = 120.0
LAG_P99_TARGET_S = 5.0
TITLE = "RabbitMQ cluster failover (issue 15)"


@dataclass(frozen=True)
class Stopped:
    outage: Outage
    lag: Lag
    degraded_s: float


@contextlib.asynccontextmanager
async def three_nodes() -> AsyncIterator[RabbitCluster]:
    cluster = RabbitCluster(3, prefix="zumik-bench-cluster")
    try:
        await asyncio.to_thread(cluster.start_all)
        yield cluster
    finally:
        await asyncio.to_thread(cluster.close)


async def _connected(cluster: RabbitCluster, stack: Stack) -> tuple[int, int]:
    api = await node_of(cluster, stack.api_connection)
    notifier = await node_of(cluster, stack.notifier_connection)
    if api is None or notifier is None:
        raise RuntimeError("the API or the notifier has no AMQP connection")
    return api, notifier


async def measure(services: Services, section: Section) -> None:
    async with (
        three_nodes() as cluster,
        bench_database(services, "cluster") as bench,
    ):
        log.info(
            "cluster of 3 up in %.1f s; stopping each node in turn under %.0f tickets/s",
            cluster.timings["start_all"],
            RATE,
        )
        projects = Projects(bench.db)
        project = await projects.create("bench cluster", "enterprise")
        api_key = (await projects.new_api_key(project.id)).api_key
        workdir = services.log_dir / f"cluster_{secrets.token_hex(3)}"
        workdir.mkdir(parents=True, exist_ok=True)
        async with running_stack(cluster, bench.url, workdir) as stack:
            load = TicketLoad(stack.api_url, api_key, RATE)
            probe = ReadyzProbe(stack.api_url)
            probe.start()
            load.start()
            outages: list[Outage] = []
            try:
                began = time.monotonic()
                await asyncio.sleep(BASELINE_SECONDS)
                baseline = (began + 2.0, time.monotonic())  # past the first requests' warm-up
                for node in range(len(cluster.nodes)):
                    api_node, notifier_node = await _connected(cluster, stack)
                    role = role_of(node, api_node, notifier_node)
                    log.info("stopping node %d (%s)", node, role)
                    outages.append(
                        await stop_and_restore(
                            cluster, stack, node, role, down_for=DOWN_FOR, settle=SETTLE
                        )
                    )
            finally:
                await load.stop()
            missing = await wait_for_webhooks(stack.receiver, set(load.created()), DELIVERY_WITHIN)
            await asyncio.sleep(2.0)
            await probe.stop()
            duplicates = stack.receiver.duplicates()
            stopped = [
                Stopped(
                    outage,
                    lag_in(load, stack.receiver, *outage.window),
                    probe.degraded_seconds(*outage.window),
                )
                for outage in outages
            ]
            steady = lag_in(load, stack.receiver, *baseline)
        report(section, steady, stopped, load, probe, missing, duplicates)


def _ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:,.0f}"


def report(
    section: Section,
    steady: Lag,
    stopped: list[Stopped],
    load: TicketLoad,
    probe: ReadyzProbe,
    missing: set[str],
    duplicates: dict[str, int],
) -> None:
    rows = [
        [
            "none (steady state)",
            "-",
            "-",
            "-",
            f"{steady.tickets:,}",
            f"{steady.arrived:,}",
            _ms(steady.p50),
            _ms(steady.p99),
            _ms(steady.max),
            _ms(steady.longest_gap),
            "-",
            "-",
            "-",
        ]
    ]
    for s in stopped:
        outage = s.outage
        pauses = relay_pauses(outage.relay_lines)
        rows.append(
            [
                f"node {outage.node}",
                outage.role,
                f"{outage.stopped - outage.began:.1f}",
                f"{outage.restarted - outage.began:.1f}",
                f"{s.lag.tickets:,}",
                f"{s.lag.arrived:,}",
                _ms(s.lag.p50),
                _ms(s.lag.p99),
                _ms(s.lag.max),
                _ms(s.lag.longest_gap),
                ", ".join(f"{p:.2f} s" for p in pauses) or "none",
                f"{s.degraded_s:.2f}",
                str(len(outage.relay_lines)),
            ]
        )
    section.table(
        f"Webhook lag (POST returned -> webhook received) at {RATE:.0f} tickets/s, each node "
        f"stopped in turn for {DOWN_FOR:.0f} s, then started again",
        [
            "node stopped",
            "services on it",
            "stop took s",
            "back after s",
            "tickets",
            "webhooks",
            "lag p50 ms",
            "lag p99 ms",
            "lag max ms",
            "longest webhook gap ms",
            "relay paused",
            "/readyz degraded s",
            "relay log lines",
        ],
        rows,
    )
    worst = max((s.lag.p99 for s in stopped), default=math.nan)
    section.verdict(
        f"webhook lag p99 < {LAG_P99_TARGET_S:.0f} s while any one node is down",
        bool(stopped) and worst < LAG_P99_TARGET_S and all(s.lag.arrived for s in stopped),
        "p99 per stopped node: "
        + ", ".join(f"node {s.outage.node} {s.lag.p99:.2f} s" for s in stopped),
    )
    answered = sum(p.status == 201 for p in load.posts)
    section.verdict(
        "every POST 201, every webhook once, /readyz 200 throughout",
        answered == len(load.posts) and not missing and not duplicates and not probe.failures(),
        f"{answered:,}/{len(load.posts):,} POSTs 201; {len(missing)} webhooks missing, "
        f"{len(duplicates)} delivered twice; {len(probe.failures())} of {len(probe.probes)} "
        "/readyz probes not 200",
    )
    section.note(
        "Each node is stopped cleanly (`rabbitmqctl stop`: it closes its client connections "
        "with CONNECTION_FORCED and hands its quorum leaderships over), as in a rolling "
        "upgrade; `services on it` says whose AMQP connection it had. `back after` runs from the "
        "stop to the node running and rejoined. The lag rows cover the tickets whose POST "
        "returned in that window; `longest webhook gap` is the longest stretch without a webhook "
        f"(about {1000 / RATE:.0f} ms at this rate when nothing is in the way). `relay paused` is "
        "what the API's relay reported when it resumed; `/readyz degraded` the longest stretch "
        "of probes (every 250 ms) that did not say `ready` (they all answered 200)."
    )
    section.note(
        "The figures are from the API's and the notifier's own processes on this two-core "
        "machine, with three RabbitMQ nodes, FerretDB and the load generator beside them: a node "
        "booting takes most of a core for several seconds, which is what the lag of the tickets "
        "created while it rejoins shows."
    )


async def run(services: Services) -> Section:
    section = Section("cluster", TITLE)
    if find_sbin() is None:
        section.verdict(
            f"webhook lag p99 < {LAG_P99_TARGET_S:.0f} s while any one node is down",
            None,
            "rabbitmq-server is not installed (Debian: apt-get install rabbitmq-server)",
        )
        return section
    await measure(services, section)
    return section
