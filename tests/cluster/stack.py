"""The API and the notifier as their own processes against a test cluster's nodes, tickets
created at a steady rate, and what they lead to: the POSTs, `/readyz` and each ticket's ops
webhook. Used by the services' failover test (tests/integration/cluster) and `make bench`
(benchmarks/cluster.py), which stop nodes under this load and read the figures back.

Times are `time.monotonic()` seconds throughout. The webhook receiver (tests/webhooks.py) runs
its own event loop in a thread, so the load generator and the probes in the caller's loop cannot
delay what it records.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from tests.cluster.nodes import RabbitCluster
from tests.services import UNTHROTTLED
from tests.webhooks import LOOPBACK, WebhookReceiver, webhook_receiver

READY_WITHIN = 120.0  # a loaded two-core machine starts the API in 3-10 s; leave room
STOP_WITHIN = 20.0
# What the service processes must not inherit: a stray key would send real email or webhooks,
# and a developer's AMQP_URL or MONGODB_URL would point them elsewhere.
_SCRUBBED_ENV = (
    "RESEND_API_KEY",
    "RESEND_BASE_URL",
    "OPS_WEBHOOK_URL",
    "OPS_WEBHOOK_SECRET",
    "SUPPORT_TEAM_EMAIL",
    "NOTIFY_FROM_EMAIL",
    "AMQP_URL",
    "MONGODB_URL",
)
RELAY_LOGGER = " zumik_api.relay "


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (`pct` in 0..100); NaN without samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def console_script(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def cluster_amqp_url(cluster: RabbitCluster, name: str) -> str:
    """`AMQP_URL` listing every node of `cluster` in one URL, the connection named `name`
    (`?name=`, so `RabbitCluster.connections()` tells which node it is on)."""
    hosts = ",".join(f"{LOOPBACK}:{node.amqp_port}" for node in cluster.nodes)
    return f"amqp://guest:guest@{hosts}/?name={name}"


def single_amqp_url(cluster: RabbitCluster, index: int, name: str) -> str:
    """The one-node `AMQP_URL` every service had before it could list a cluster."""
    return f"{cluster.url(index)}?name={name}"


# -- the service processes ---------------------------------------------------------------------


class ServiceFailed(RuntimeError):
    pass


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Service:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    log_file: IO[bytes] = field(repr=False)

    def check_running(self) -> None:
        if self.process.returncode is not None:
            raise ServiceFailed(
                f"{self.name} exited with {self.process.returncode}:\n{tail(self.log_path)}"
            )

    async def stop(self) -> None:
        try:
            if self.process.returncode is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(self.process.wait(), STOP_WITHIN)
                except TimeoutError:
                    self.process.kill()
                    await self.process.wait()
        finally:
            self.log_file.close()


async def start_service(name: str, script: str, env: dict[str, str], workdir: Path) -> Service:
    """`script` (a workspace entry point) with `env`, its output in `workdir/<name>.log`, run in
    `workdir` so that no developer `.env` file is read."""
    log_path = workdir / f"{name}.log"
    log_file = log_path.open("ab")
    child_env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    child_env.update(env, PYTHONUNBUFFERED="1")
    process = await asyncio.create_subprocess_exec(
        console_script(script),
        env=child_env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Service(name, process, log_path, log_file)


def webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class Stack:
    """The running API and notifier, and the names of their AMQP connections."""

    api: Service
    notifier: Service
    api_url: str
    api_connection: str
    notifier_connection: str
    receiver: WebhookReceiver

    def relay_lines(self) -> list[str]:
        """The API's log lines from its outbox relay so far."""
        try:
            text = self.api.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if RELAY_LOGGER in line]

    def check_running(self) -> None:
        self.api.check_running()
        self.notifier.check_running()


async def _api_ready(url: str, api: Service) -> None:
    """Until `/readyz` says ready, with RabbitMQ connected (not only the store)."""
    deadline = time.monotonic() + READY_WITHIN
    async with httpx.AsyncClient(base_url=url, timeout=5.0) as http:
        while time.monotonic() < deadline:
            api.check_running()
            with contextlib.suppress(httpx.TransportError, ValueError):
                response = await http.get("/readyz")
                if response.status_code == 200 and response.json().get("status") == "ready":
                    return
            await asyncio.sleep(0.2)
    raise ServiceFailed(f"zumik-api not ready within {READY_WITHIN:.0f} s:\n{tail(api.log_path)}")


@contextlib.asynccontextmanager
async def running_stack(
    cluster: RabbitCluster,
    mongodb_url: str,
    workdir: Path,
    *,
    single_node: int | None = None,
) -> AsyncIterator[Stack]:
    """`zumik-api` and `zumik-notifier` on `mongodb_url` (a database of the caller's) and
    `cluster`, every node listed in their `AMQP_URL` (or, with `single_node`, only that one:
    the single-URL set-up they had before), the webhook channel on a loopback receiver.
    The API is ready (broker connected) when this yields; the notifier has started."""
    token = secrets.token_hex(3)
    api_connection, notifier_connection = f"zumik-api-{token}", f"zumik-notifier-{token}"

    def amqp_url(name: str) -> str:
        if single_node is not None:
            return single_amqp_url(cluster, single_node, name)
        return cluster_amqp_url(cluster, name)

    with webhook_receiver() as receiver:
        notifier = await start_service(
            "notifier",
            "zumik-notifier",
            {
                "MONGODB_URL": mongodb_url,
                "AMQP_URL": amqp_url(notifier_connection),
                "OPS_WEBHOOK_URL": receiver.url,
                "OPS_WEBHOOK_SECRET": webhook_secret(),
                # Unique per run: never the queues of another notifier or test session.
                "NOTIFIER_QUEUE_PREFIX": f"zumik.test.cluster.{token}",
            },
            workdir,
        )
        api: Service | None = None
        try:
            for attempt in itertools.count(1):  # another process may take the free port first
                port = free_port()
                api = await start_service(
                    "api",
                    "zumik-api",
                    {
                        "MONGODB_URL": mongodb_url,
                        "AMQP_URL": amqp_url(api_connection),
                        "API_HOST": LOOPBACK,
                        "API_PORT": str(port),
                        "SLA_SCHEDULER_ENABLED": "false",
                        **UNTHROTTLED,
                    },
                    workdir,
                )
                url = f"http://{LOOPBACK}:{port}"
                try:
                    await _api_ready(url, api)
                    break
                except ServiceFailed:
                    await api.stop()
                    if attempt >= 3 or "address already in use" not in tail(api.log_path):
                        raise
            notifier.check_running()
            assert api is not None
            yield Stack(api, notifier, url, api_connection, notifier_connection, receiver)
        finally:
            if api is not None:
                await api.stop()
            await notifier.stop()


# -- load and probes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    started: float
    returned: float
    status: int | None  # None: no answer (connection error or timeout)
    ticket_id: str | None


class TicketLoad:
    """Open-loop load: a `POST /v2/support/tickets` starts every 1/rate s, whatever the earlier
    ones are doing, until `stop()`."""

    def __init__(self, base_url: str, api_key: str, rate: float) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.rate = rate
        self.posts: list[Post] = []
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _post(self, http: httpx.AsyncClient, n: int) -> None:
        started = time.monotonic()
        body = {"subject": f"Cluster failover {n}", "body": "Does it fail over?"}
        try:
            response = await http.post("/v2/support/tickets", json=body, headers=self.headers)
        except httpx.HTTPError:
            self.posts.append(Post(started, time.monotonic(), None, None))
            return
        returned = time.monotonic()
        ticket_id = response.json().get("id") if response.status_code == 201 else None
        self.posts.append(Post(started, returned, response.status_code, ticket_id))

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30.0, limits=limits) as http:
            pending: set[asyncio.Task[None]] = set()
            began = time.monotonic()
            for n in itertools.count():
                due = began + n / self.rate
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, due - time.monotonic())):
                        await self._stopping.wait()
                if self._stopping.is_set():
                    break
                task = asyncio.create_task(self._post(http, n))
                pending.add(task)
                task.add_done_callback(pending.discard)
            if pending:
                await asyncio.wait(pending)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop starting POSTs and wait for those under way."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    def created(self) -> dict[str, Post]:
        return {p.ticket_id: p for p in self.posts if p.ticket_id is not None}


@dataclass(frozen=True)
class Probe:
    at: float
    status_code: int | None
    status: str | None  # the body's: ready, degraded, unavailable
    broker_state: str | None
    pending_tickets: int | None


class ReadyzProbe:
    """`GET /readyz` every `every` seconds until stopped."""

    def __init__(self, base_url: str, every: float = 0.25) -> None:
        self.base_url = base_url
        self.every = every
        self.probes: list[Probe] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10.0) as http:
            while True:
                at = time.monotonic()
                try:
                    response = await http.get("/readyz")
                    body = response.json()
                    self.probes.append(
                        Probe(
                            at,
                            response.status_code,
                            body.get("status"),
                            (body.get("rabbitmq") or {}).get("state"),
                            (body.get("outbox") or {}).get("pending_tickets"),
                        )
                    )
                except (httpx.HTTPError, ValueError):
                    self.probes.append(Probe(at, None, None, None, None))
                await asyncio.sleep(max(0.0, at + self.every - time.monotonic()))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def failures(self) -> list[Probe]:
        return [p for p in self.probes if p.status_code != 200]

    def degraded_seconds(self, start: float, end: float) -> float:
        """The longest stretch of probes in [start, end] that did not say `ready`."""
        longest, since = 0.0, None
        for probe in self.probes:
            if not start <= probe.at <= end:
                continue
            if probe.status != "ready":
                since = probe.at if since is None else since
                longest = max(longest, probe.at - since + self.every)
            else:
                since = None
        return longest


# -- node stops --------------------------------------------------------------------------------


async def node_of(cluster: RabbitCluster, connection: str, within: float = 30.0) -> int | None:
    """The node a named connection is on, waiting up to `within` s while it is on none
    (between nodes, or its only node is down)."""
    deadline = time.monotonic() + within
    while True:
        node = await asyncio.to_thread(cluster.which_node_serves, connection)
        if node is not None or time.monotonic() > deadline:
            return node
        await asyncio.sleep(0.5)


async def nodes_of(cluster: RabbitCluster, stack: Stack) -> tuple[int, int]:
    """The nodes the API and the notifier are connected to now."""
    api = await node_of(cluster, stack.api_connection)
    notifier = await node_of(cluster, stack.notifier_connection)
    assert api is not None, "the API has no AMQP connection"
    assert notifier is not None, "the notifier has no AMQP connection"
    return api, notifier


@dataclass
class Outage:
    """One node stopped under load and brought back."""

    node: int
    role: str  # what the services had on it: "api", "notifier", "api+notifier" or "follower"
    began: float = 0.0  # `rabbitmqctl stop` issued
    stopped: float = 0.0  # the node's process ended
    restarted: float = 0.0  # running and a member again
    relay_lines: list[str] = field(default_factory=list)
    api_node_after: int | None = None
    notifier_node_after: int | None = None

    @property
    def window(self) -> tuple[float, float]:
        return self.began, self.restarted


async def stop_and_restore(
    cluster: RabbitCluster,
    stack: Stack,
    node: int,
    role: str,
    *,
    down_for: float,
    settle: float,
) -> Outage:
    """Stop `node` cleanly, keep it down `down_for` s after its process ended, start it again,
    then `settle` s more (its quorum queue members catch up before anything else stops). The
    API's relay log lines from the stop until then are kept."""
    outage = Outage(node, role)
    lines_before = len(stack.relay_lines())
    outage.began = time.monotonic()
    await asyncio.to_thread(cluster.stop, node)
    outage.stopped = time.monotonic()
    stack.check_running()
    # Where they went (None: nowhere yet, as with a single URL whose node is down).
    outage.api_node_after = await node_of(cluster, stack.api_connection, within=down_for / 2)
    outage.notifier_node_after = await node_of(
        cluster, stack.notifier_connection, within=down_for / 2
    )
    await asyncio.sleep(max(0.0, outage.stopped + down_for - time.monotonic()))
    await asyncio.to_thread(cluster.start, node)
    outage.restarted = time.monotonic()
    await asyncio.sleep(settle)
    stack.check_running()
    outage.relay_lines = stack.relay_lines()[lines_before:]
    return outage


def role_of(node: int, api_node: int, notifier_node: int) -> str:
    roles = [name for name, on in (("api", api_node), ("notifier", notifier_node)) if on == node]
    return "+".join(roles) or "follower"


# -- figures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lag:
    """Webhook lag (POST returned -> webhook arrived) of the tickets created in a window."""

    tickets: int
    arrived: int
    p50: float
    p99: float
    max: float
    longest_gap: float  # between webhook arrivals in the window (at 20/s: about 0.05 s)

    def describe(self) -> str:
        return (
            f"{self.arrived}/{self.tickets} webhooks, lag p50 {self.p50:.2f} s, p99 "
            f"{self.p99:.2f} s, max {self.max:.2f} s; longest gap between webhooks "
            f"{self.longest_gap:.2f} s"
        )


def lag_in(load: TicketLoad, receiver: WebhookReceiver, start: float, end: float) -> Lag:
    arrivals = receiver.first_arrivals()
    window = [p for p in load.created().values() if start <= p.returned <= end]
    lags = [
        max(0.0, arrivals[p.ticket_id] - p.returned)
        for p in window
        if p.ticket_id is not None and p.ticket_id in arrivals
    ]
    times = sorted(t for t in arrivals.values() if start <= t <= end)
    gaps = [b - a for a, b in itertools.pairwise([start, *times, end])]
    return Lag(
        tickets=len(window),
        arrived=len(lags),
        p50=percentile(lags, 50),
        p99=percentile(lags, 99),
        max=max(lags, default=math.nan),
        longest_gap=max(gaps, default=math.nan),
    )


_RESUMED = re.compile(r"reachable again after ([0-9.]+) s")


def relay_pauses(lines: Sequence[str]) -> list[float]:
    """The pauses the relay's "resumed" lines report, in seconds."""
    return [float(m.group(1)) for line in lines if (m := _RESUMED.search(line))]


def queue_types(cluster: RabbitCluster) -> dict[str, str]:
    """Every queue on the cluster's default vhost, by name, with its type."""
    index = cluster.running()[0]
    rows = json.loads(
        cluster.ctl(index, "list_queues", "name", "type", "--formatter", "json") or "[]"
    )
    return {str(row["name"]): str(row["type"]) for row in rows}


def report(text: str, out: Callable[[str], Any] | None = None) -> None:
    (out or (lambda line: print(line, file=sys.stderr)))(text)
