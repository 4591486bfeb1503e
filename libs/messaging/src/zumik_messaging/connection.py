"""AMQP connections that fail over between the nodes of a RabbitMQ cluster.

aio-pika, aiormq and FastStream each take one URL, and aio-pika's robust connection re-dials that
same URL for as long as its node is down, although the rest of the cluster elected new quorum
leaders within a fraction of a second. Here one logical connection knows every node:

- `parse_amqp_urls` reads `AMQP_URL` in either spelling: one URL with several hosts
  (`amqp://user:pass@h1:5672,h2:5672,h3/vhost?heartbeat=10`, credentials, virtual host and
  options shared) or several full URLs separated by commas or whitespace. It returns one URL per
  host, with the port filled in.
- `FailoverConnection` is an `aio_pika.RobustConnection` whose socket comes from an aiormq
  transport factory that walks the node list: each (re)connection attempt tries every node in
  turn, starting after the one it was last connected to (the first time: a random one, so many
  processes spread over the nodes), with a short TCP connect timeout per node. Only when every
  node refused does the robust connection pause, for `reconnect_interval`, doubling (with jitter)
  up to `max_reconnect_interval` while the whole cluster stays down. Everything else is aio-pika's
  own recovery: on the new node the robust connection reopens its channels and re-declares their
  exchanges, queues and bindings, then restarts their consumers.
- `make_broker` is a FastStream `RabbitBroker` on such a connection; `connect` is the plain
  aio-pika equivalent.

What it relies on, in the installed versions (aio-pika 10.2.1, aiormq 7.2.4, FastStream 0.7.8):
public, aiormq's `Connection(transport_factory=...)` (`aiormq.TransportFactory`) and
`aio_pika.connect_robust(connection_class=...)`; internal, aio-pika's `Connection.kwargs` (handed
to `aiormq.connect` on every attempt, so the factory rides along), its
`RobustConnection._on_connection_close` (runs on every lost connection *and* every failed attempt)
and `_on_connected` (reopens the channels), its `reconnect_interval` attribute (read before each
pause), and FastStream's `RabbitBroker._connection_kwargs` (what `_connect` passes to
`connect_robust`). tests/unit/messaging and tests/integration/cluster break if those change.

Heartbeats and idle timeouts
----------------------------
How fast a dead node is noticed depends on how it died:

- Clean shutdown (`rabbitmqctl stop`, a rolling upgrade, `systemctl stop`): the node closes every
  client connection with `CONNECTION_FORCED` first, so the client switches at once (measured with
  the cluster test: well under a second to the next node).
- The process crashed or was killed, the host is still up: its kernel resets the sockets; also
  immediate.
- The host, VM or network vanished (power loss, partition, a paused VM, a load balancer dropping
  the flow): nothing arrives any more, and only heartbeats tell. aiormq sends a heartbeat frame
  every `heartbeat / 2` seconds and gives up on the connection after `3 * (heartbeat + 1)` seconds
  without any frame from the server (48 s at 15 s); RabbitMQ closes a client it has not heard from
  for two intervals (30 s). Linux TCP keepalive (2 h by default) does not help. Measured with a
  frozen node (SIGSTOP) and `heartbeat=3`: the client gave up after 13 s and connected to the next
  node at once, but the restore of its channels there only completed once the other nodes had
  declared the frozen one down by `net_ticktime` (60 s by default; 64-77 s after the freeze),
  although the quorum queue had a new leader after about 10 s. The restore re-binds its queues,
  and while a member node is frozen but not yet declared down, `queue.bind` (even of an existing
  binding) and declaring a new queue hang; re-declaring existing exchanges and queues, consuming
  and confirmed publishing do not (measured). So for this kind of failure the cluster's
  `net_ticktime`, not the heartbeat, bounds the failover.

aiormq proposes its own heartbeat and ignores the server's (RabbitMQ suggests 60 s), so the URL's
`heartbeat=` is what is used. Without one, `DEFAULT_HEARTBEAT` (15 s) is added here. Going much
lower makes false alarms likely: an event loop blocked by synchronous work, a long GC or a
saturated CPU for about two intervals makes the broker drop a healthy client. Never set 0 (off):
a half-open connection then stays "connected" until the first write fails, which for a consumer
may be never.

Idle timeouts of anything between client and broker (NAT tables, AWS NLB 350 s, ELB/ALB-style
proxies 60 s by default, HAProxy `timeout client`/`timeout server`, Azure LB 4 min) silently drop
flows that carried no bytes for that long; the next write then hangs or is reset. Heartbeat frames
count as traffic, so `heartbeat / 2` must stay well below the smallest idle timeout on the path
(7.5 s at the default); give HAProxy `timeout client`/`timeout server` at least twice the
heartbeat. A load balancer in front of a cluster is an alternative to this module;
with both, list the nodes here and leave the balancer out of the path, or the failover happens
twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import math
import random
import re
from collections.abc import Sequence
from types import TracebackType
from typing import Annotated, Any

import aiormq
from aio_pika import RobustConnection
from aio_pika.abc import AbstractRobustConnection, TimeoutType
from faststream.rabbit import RabbitBroker
from pydantic import AfterValidator
from yarl import URL

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "DEFAULT_HEARTBEAT",
    "DEFAULT_MAX_RECONNECT_INTERVAL",
    "DEFAULT_RECONNECT_INTERVAL",
    "AmqpUrl",
    "FailoverConnection",
    "FailoverRabbitBroker",
    "NodeList",
    "amqp_hosts",
    "check_amqp_url",
    "connect",
    "make_broker",
    "parse_amqp_urls",
]

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT = 15
"""Seconds; added to URLs without `heartbeat=`. See the module docstring."""
DEFAULT_CONNECT_TIMEOUT = 3.0
"""Seconds for the TCP (and TLS) connect to one node before the next node is tried."""
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
"""Seconds for the AMQP handshake after the socket is up (a node that accepts but hangs)."""
DEFAULT_RECONNECT_INTERVAL = 1.0
"""Seconds of the first pause after every node refused; FastStream's own default is 5."""
DEFAULT_MAX_RECONNECT_INTERVAL = 30.0
"""The pause doubles up to this while the whole cluster stays unreachable."""

_DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_URL_START = re.compile(r",(?=[A-Za-z][A-Za-z0-9+.\-]*://)")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?$")
_PORT = re.compile(r"^[0-9]{1,5}$")


# -- parsing ---------------------------------------------------------------------------------


def _redact(piece: str) -> str:
    """`piece` with its user info masked: `user:***@host`, or `***@host` without a password
    (a lone user name may be a token). Used for every URL that goes into an error message."""
    if "@" not in piece:
        return piece
    scheme = _SCHEME.match(piece)
    start = scheme.end() if scheme else 0
    at = piece.rfind("@")
    if at < start:
        return piece
    userinfo = piece[start:at]
    masked = f"{userinfo.split(':', 1)[0]}:***" if ":" in userinfo else "***"
    return piece[:start] + masked + piece[at:]


def _split_host(entry: str, default_port: int, shown: str) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` -> (host, port); IPv6 without brackets."""
    if entry.startswith("["):
        close = entry.find("]")
        if close < 0:
            raise ValueError(f"unclosed '[' in the host list of {shown}")
        host, rest = entry[1:close], entry[close + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} in {shown} is not an IPv6 address") from None
        if rest and not rest.startswith(":"):
            raise ValueError(f"unexpected {rest!r} after [{host}] in {shown}")
        port_text = rest[1:] if rest else ""
        if rest and not port_text:
            raise ValueError(f"empty port after [{host}] in {shown}")
    else:
        if entry.count(":") > 1:
            raise ValueError(f"put IPv6 addresses in brackets ([::1]:5672) in {shown}")
        host, _, port_text = entry.partition(":")
        if entry.endswith(":"):
            raise ValueError(f"empty port after {host!r} in {shown}")
        if not _HOSTNAME.match(host):
            raise ValueError(f"{host!r} in {shown} is not a host name or address")
    if not port_text:
        return host, default_port
    if not _PORT.match(port_text) or not 0 < int(port_text) < 65536:
        raise ValueError(f"port {port_text!r} in {shown} is not a number from 1 to 65535")
    return host, int(port_text)


def _expand(piece: str) -> list[str]:
    """One URL, possibly with a comma-separated host list, as one URL per host."""
    shown = _redact(piece)
    scheme_match = _SCHEME.match(piece)
    if scheme_match is None:
        raise ValueError(f"{shown!r} is not an AMQP URL (expected amqp://... or amqps://...)")
    scheme = scheme_match.group(1).lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"unsupported scheme {scheme!r} in {shown} (use amqp or amqps)")
    rest = piece[scheme_match.end() :]
    # The authority ends at the first '/', '?' or '#'; user info must percent-encode those.
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    userinfo, at, hostlist = authority.rpartition("@")
    prefix = f"{scheme}://{userinfo}{at}"
    if not hostlist:
        raise ValueError(f"no host in {shown}")
    urls = []
    for entry in hostlist.split(","):
        if not entry:
            raise ValueError(f"empty entry in the host list of {shown}")
        host, port = _split_host(entry, _DEFAULT_PORTS[scheme], shown)
        netloc = f"[{host}]" if ":" in host else host
        url = f"{prefix}{netloc}:{port}{tail}"
        try:
            parsed = URL(url)
        except ValueError:
            raise ValueError(f"{_redact(url)!r} is not a valid URL") from None
        if parsed.host is None or parsed.port != port:
            raise ValueError(f"{_redact(url)!r} is not a valid URL")
        urls.append(url)
    return urls


def parse_amqp_urls(value: str) -> list[str]:
    """Single-host AMQP URLs from `value`, in order, without duplicates.

    `value` is either one URL whose authority lists several hosts,
    `amqp://user:pass@h1:5672,h2,[::1]:5673/vhost?heartbeat=10` (everything but host and port is
    shared), or several URLs separated by commas and/or whitespace; both may be mixed. A missing
    port is 5672 for `amqp` and 5671 for `amqps`. Raises ValueError on an empty or malformed
    value; error messages mask passwords.
    """
    if not isinstance(value, str):
        raise TypeError(f"expected a str of AMQP URLs, got {type(value).__name__}")
    urls: list[str] = []
    for token in value.split():
        for piece in _URL_START.split(token):
            piece = piece.strip(",")
            if piece:
                urls.extend(_expand(piece))
    if not urls:
        raise ValueError("no AMQP URL given (expected amqp://user:pass@host:5672/vhost)")
    return list(dict.fromkeys(urls))


def amqp_hosts(urls: str | Sequence[str], *, heartbeat: int = DEFAULT_HEARTBEAT) -> list[URL]:
    """The nodes of one cluster as single-host URLs, checked to differ only in host and port,
    with `heartbeat` added where the URL sets none.

    `urls` is what `parse_amqp_urls` accepts, or a sequence of such strings."""
    items = [urls] if isinstance(urls, str) else list(urls)
    if not items:
        raise ValueError("no AMQP URL given")
    found = parse_amqp_urls(" ".join(items))
    hosts: list[URL] = []
    for text in found:
        url = URL(text)
        if "heartbeat" not in url.query:
            url = url.update_query(heartbeat=heartbeat)
        hosts.append(url)

    def shared(url: URL) -> tuple[Any, ...]:
        return (url.scheme, url.raw_user, url.raw_password, url.raw_path, url.raw_query_string)

    first = shared(hosts[0])
    for url in hosts[1:]:
        if shared(url) != first:
            raise ValueError(
                "the AMQP URLs of one cluster must share scheme, credentials, virtual host and "
                f"options, only host and port may differ: {_redact(str(hosts[0]))!r} vs "
                f"{_redact(str(url))!r}"
            )
    return hosts


def check_amqp_url(value: str) -> str:
    """`value` unchanged if `amqp_hosts` reads it; else ValueError saying what is wrong (with
    passwords masked), so that a service refuses a bad `AMQP_URL` when it reads its settings."""
    amqp_hosts(value)
    return value


AmqpUrl = Annotated[str, AfterValidator(check_amqp_url)]
"""The type of an `AMQP_URL` setting: one node, or every node of a cluster (see
`parse_amqp_urls`)."""


# -- the connection --------------------------------------------------------------------------


class NodeList(aiormq.TransportFactory):
    """An aiormq transport factory that connects to the first node that answers, trying them
    round-robin from the one after the last node it connected to.

    aiormq calls `create` once per connection attempt (with the URL it was given, whose host it
    ignores here); a timeout per node keeps a black-holed address from eating the attempt."""

    def __init__(
        self,
        nodes: Sequence[tuple[str, int]],
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        first: int | None = None,
    ) -> None:
        if not nodes:
            raise ValueError("NodeList needs at least one node")
        self.nodes = list(nodes)
        self.connect_timeout = connect_timeout
        self._next = random.randrange(len(self.nodes)) if first is None else first % len(nodes)
        self.current: int | None = None
        """Index of the node the latest transport went to."""

    async def create(
        self, url: URL, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        provider = kwargs.pop("ssl_context_provider", None)
        ssl = None
        if url.scheme == "amqps" and isinstance(provider, aiormq.SSLContextProvider):
            ssl = await provider.get_context()
        failures = []
        start = self._next
        for step in range(len(self.nodes)):
            index = (start + step) % len(self.nodes)
            host, port = self.nodes[index]
            # Moved on before trying: an attempt that times out as a whole in the middle of
            # this loop (aio-pika's `timeout`) resumes with the next node, not this one.
            self._next = (index + 1) % len(self.nodes)
            try:
                async with asyncio.timeout(self.connect_timeout):
                    streams = await asyncio.open_connection(host=host, port=port, ssl=ssl, **kwargs)
            except (OSError, TimeoutError) as exc:
                reason = (
                    f"no answer in {self.connect_timeout:g} s"
                    if isinstance(exc, TimeoutError)
                    else (exc.strerror or type(exc).__name__)
                )
                failures.append(f"{host}:{port} ({reason})")
                log.info("AMQP node %s:%s unreachable: %s", host, port, reason)
                continue
            self.current = index
            return streams
        self.current = None
        raise aiormq.AMQPConnectionError("no AMQP node reachable: " + ", ".join(failures))


class FailoverConnection(RobustConnection):
    """An `aio_pika.RobustConnection` over several cluster nodes (see the module docstring).

    `url` carries credentials, virtual host and options (FastStream passes the URL it built);
    `hosts` lists the nodes (URLs or "host:port"); only their host and port are used. Without
    `hosts`, `url` is the only node. `first_host` picks the first node tried (default: random).
    With `amqps`, each node's certificate is checked against that node's own host name.
    """

    def __init__(
        self,
        url: URL,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        hosts: Sequence[URL | str] = (),
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
        max_reconnect_interval: float = DEFAULT_MAX_RECONNECT_INTERVAL,
        first_host: int | None = None,
        **kwargs: Any,
    ) -> None:
        self._base_interval: float = DEFAULT_RECONNECT_INTERVAL
        self._failed_attempts = 0
        self.max_reconnect_interval = max_reconnect_interval
        super().__init__(url, loop=loop, **kwargs)
        nodes = [_endpoint(host) for host in hosts] or [_endpoint(self.url)]
        self.nodes = NodeList(nodes, connect_timeout=connect_timeout, first=first_host)
        # aio-pika passes `kwargs` to `aiormq.connect` on every attempt.
        self.kwargs["transport_factory"] = self.nodes
        self.attempt_timeout = connect_timeout * len(nodes) + handshake_timeout
        self.switches = 0
        """How many times the connection came back on a different node than it left."""
        self._last_node: int | None = None
        self._restored = False

    # aio-pika assigns `reconnect_interval` in __init__ and sleeps that long after each attempt;
    # reading it here turns the constant into a capped exponential backoff with jitter.
    @property
    def reconnect_interval(self) -> float:
        base: float = self._base_interval
        if self._failed_attempts == 0:  # the pause aio-pika takes after a successful connect
            return base
        exponent = min(self._failed_attempts - 1, 16)
        pause = min(base * 2.0**exponent, self.max_reconnect_interval)
        return pause * random.uniform(0.8, 1.2)  # so processes that lost a node together spread

    @reconnect_interval.setter
    def reconnect_interval(self, value: TimeoutType) -> None:
        self._base_interval = float(value if value is not None else DEFAULT_RECONNECT_INTERVAL)

    @property
    def restored(self) -> bool:
        """True once connected *and* every channel was reopened (exchanges, queues, bindings
        and consumers declared again), False from the moment the connection is lost.

        aio-pika's `connected` event is set before the channels are restored and also on an
        attempt whose restore then fails (see `_on_connected`), so it flickers while, say, a
        queue cannot be declared; this does not."""
        return self._restored and self.connected.is_set()

    @property
    def current_node(self) -> str | None:
        """`host:port` of the node this connection is attached to, None while disconnected."""
        if not self.connected.is_set() or self.nodes.current is None:
            return None
        host, port = self.nodes.nodes[self.nodes.current]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    async def connect(self, timeout: TimeoutType = None) -> None:  # noqa: ASYNC109 (aio-pika's)
        """As aio-pika's, with a default timeout per attempt: a connect to every node in turn
        plus the AMQP handshake."""
        await super().connect(self.attempt_timeout if timeout is None else timeout)

    async def _on_connected(self) -> None:
        index = self.nodes.current
        if index is not None:
            host, port = self.nodes.nodes[index]
            # Logs and `str(connection)` name the node actually in use.
            self.url = self.url.with_host(host).with_port(port)
        try:
            # aio-pika reopens the channels here; when a re-declaration fails (say a durable
            # classic queue whose home node is the one that went down: 404 NOT_FOUND), it closes
            # the new connection and retries, so that counts as a failed attempt as well.
            await super()._on_connected()
        except Exception:
            self._failed_attempts += 1
            raise
        self._failed_attempts = 0
        self._restored = True
        if index is not None:
            if self._last_node is not None and index != self._last_node:
                self.switches += 1
                log.warning("AMQP connection moved to %s", self)
            self._last_node = index

    async def _on_connection_close(self, closing: asyncio.Future[Any]) -> None:
        # Runs when an open connection is lost and when an attempt fails (aio-pika's
        # UnderlayConnection.connect calls it with the attempt's exception).
        self._restored = False
        if not self._close_called:
            if self.connected.is_set():
                log.warning("AMQP connection to %s lost; trying the other nodes", self)
            else:
                self._failed_attempts += 1
        await super()._on_connection_close(closing)


def _endpoint(host: URL | str) -> tuple[str, int]:
    url = host if isinstance(host, URL) else URL(host if "://" in host else f"amqp://{host}")
    if url.host is None:
        raise ValueError(f"no host in {_redact(str(url))!r}")
    return url.host, url.port or _DEFAULT_PORTS.get(url.scheme, 5672)


# -- entry points ----------------------------------------------------------------------------


class FailoverRabbitBroker(RabbitBroker):
    """A FastStream `RabbitBroker` whose robust connection fails over between `urls`.

    Every other keyword is `RabbitBroker`'s (`default_channel=Channel(publisher_confirms=True)`,
    `reconnect_interval`, `timeout`, `fail_fast`, `on_reconnected`, ...). `url`, `host` and
    `port` are not: the nodes come from `urls`. `reconnect_interval` defaults to
    `DEFAULT_RECONNECT_INTERVAL` (1 s) instead of FastStream's 5 s; it is the first pause after all
    nodes refused, not a delay before switching nodes.
    """

    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
        max_reconnect_interval: float = DEFAULT_MAX_RECONNECT_INTERVAL,
        heartbeat: int = DEFAULT_HEARTBEAT,
        first_host: int | None = None,
        **kwargs: Any,
    ) -> None:
        for name in ("url", "host", "port"):
            if name in kwargs:
                raise TypeError(f"{name}= is not accepted: the nodes come from `urls`")
        hosts = amqp_hosts(urls, heartbeat=heartbeat)
        kwargs.setdefault("reconnect_interval", DEFAULT_RECONNECT_INTERVAL)
        kwargs.setdefault("specification_url", str(hosts[0].with_user(None).with_query(None)))
        super().__init__(str(hosts[0]), **kwargs)
        self.hosts = hosts
        # FastStream's `_connect` is `connect_robust(**self._connection_kwargs)`.
        self._connection_kwargs["connection_class"] = functools.partial(
            FailoverConnection,
            hosts=hosts,
            connect_timeout=connect_timeout,
            handshake_timeout=handshake_timeout,
            max_reconnect_interval=max_reconnect_interval,
            first_host=first_host,
        )

    @property
    def current_node(self) -> str | None:
        """`host:port` of the node the broker is attached to, None while disconnected."""
        connection = self._connection
        return connection.current_node if isinstance(connection, FailoverConnection) else None

    @property
    def node_number(self) -> int | None:
        """The position (from 1) in `hosts` of the node the broker is attached to, None while
        disconnected: says which node without naming a host (for health endpoints)."""
        connection = self._connection
        if not isinstance(connection, FailoverConnection) or connection.current_node is None:
            return None
        index = connection.nodes.current
        return None if index is None else index + 1

    @property
    def failovers(self) -> int:
        """How many times the connection came back on another node than the one it lost."""
        connection = self._connection
        return connection.switches if isinstance(connection, FailoverConnection) else 0

    async def ping(self, timeout: float | None) -> bool:  # noqa: ASYNC109 (FastStream's)
        """True once the connection is up with its channels restored (`FailoverConnection.
        restored`), waiting up to `timeout` seconds for that (None: as long as it takes).
        FastStream's own ping looks at aio-pika's `connected` event, which is set before the
        channels are back and flickers while they cannot be restored."""
        loop = asyncio.get_running_loop()
        deadline = math.inf if timeout is None else loop.time() + timeout
        while True:
            connection = self._connection
            if isinstance(connection, FailoverConnection) and connection.restored:
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.05)

    async def stop(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> None:
        """FastStream's, but the channel and the connection are closed even when a consumer
        fails to cancel (one whose start the shutdown cut short): FastStream raises before it
        closes them, and the connection would linger. The consumers' errors are raised after."""
        try:
            await super().stop(exc_type, exc_val, exc_tb)
        except Exception:
            if self._channel is not None and not self._channel.is_closed:
                with contextlib.suppress(Exception):
                    await self._channel.close()
            self._channel = None
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    await self._connection.close()
                self._connection = None
            raise


def make_broker(urls: str | Sequence[str], **kwargs: Any) -> RabbitBroker:
    """A FastStream broker that fails over between the cluster nodes in `urls` (anything
    `parse_amqp_urls` reads, or a sequence of those). See `FailoverRabbitBroker`."""
    return FailoverRabbitBroker(urls, **kwargs)


async def connect(
    urls: str | Sequence[str],
    *,
    timeout: TimeoutType = None,  # noqa: ASYNC109 (per attempt, as in aio_pika.connect_robust)
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
    reconnect_interval: float = DEFAULT_RECONNECT_INTERVAL,
    max_reconnect_interval: float = DEFAULT_MAX_RECONNECT_INTERVAL,
    heartbeat: int = DEFAULT_HEARTBEAT,
    first_host: int | None = None,
    **kwargs: Any,
) -> AbstractRobustConnection:
    """`aio_pika.connect_robust` over the cluster nodes in `urls`. Other keywords
    (`client_properties`, `ssl_context`, `fail_fast`, ...) go to the connection as with
    `connect_robust`. `timeout` bounds each attempt (default: every node's connect timeout plus
    the handshake)."""
    hosts = amqp_hosts(urls, heartbeat=heartbeat)
    connection = FailoverConnection(
        hosts[0],
        hosts=hosts,
        connect_timeout=connect_timeout,
        handshake_timeout=handshake_timeout,
        max_reconnect_interval=max_reconnect_interval,
        first_host=first_host,
        reconnect_interval=reconnect_interval,
        **kwargs,
    )
    await connection.connect(timeout=timeout)
    return connection
