"""zumik_messaging.connection without RabbitMQ: reading AMQP_URL, and how the node list behaves
against local sockets (a listener that accepts, and ports nothing listens on)."""

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator

import aiormq
import pytest
from faststream.rabbit import Channel, RabbitBroker
from yarl import URL
from zumik_messaging.connection import (
    DEFAULT_HEARTBEAT,
    FailoverConnection,
    FailoverRabbitBroker,
    NodeList,
    amqp_hosts,
    connect,
    make_broker,
    parse_amqp_urls,
)

SECRET = "s3cr3t-pw"


# -- parse_amqp_urls -------------------------------------------------------------------------


def test_one_url_with_several_hosts_shares_everything_but_host_and_port() -> None:
    value = f"amqp://zumik:{SECRET}@rabbit-1:5672,rabbit-2:5673,rabbit-3/support?heartbeat=10"
    assert parse_amqp_urls(value) == [
        f"amqp://zumik:{SECRET}@rabbit-1:5672/support?heartbeat=10",
        f"amqp://zumik:{SECRET}@rabbit-2:5673/support?heartbeat=10",
        f"amqp://zumik:{SECRET}@rabbit-3:5672/support?heartbeat=10",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("amqp://h", ["amqp://h:5672"]),
        ("amqps://h/", ["amqps://h:5671/"]),
        ("AMQP://h:1234", ["amqp://h:1234"]),
        ("amqps://h1,h2:6000/", ["amqps://h1:5671/", "amqps://h2:6000/"]),
        ("amqp://10.0.0.1,10.0.0.2/%2F", ["amqp://10.0.0.1:5672/%2F", "amqp://10.0.0.2:5672/%2F"]),
    ],
)
def test_default_ports(value: str, expected: list[str]) -> None:
    assert parse_amqp_urls(value) == expected


def test_ipv6_hosts_in_brackets() -> None:
    assert parse_amqp_urls("amqp://u:p@[::1]:5673,[fe80::1],host/vh") == [
        "amqp://u:p@[::1]:5673/vh",
        "amqp://u:p@[fe80::1]:5672/vh",
        "amqp://u:p@host:5672/vh",
    ]
    assert URL(parse_amqp_urls("amqp://[::1]")[0]).host == "::1"


@pytest.mark.parametrize("separator", [",", " ", "\n", ", ", " ,\t"])
def test_several_full_urls(separator: str) -> None:
    value = separator.join(["amqp://u:p@h1/vh", "amqp://u:p@h2:5673/vh", "amqps://h3"])
    assert parse_amqp_urls(value) == [
        "amqp://u:p@h1:5672/vh",
        "amqp://u:p@h2:5673/vh",
        "amqps://h3:5671",
    ]


def test_surrounding_space_trailing_comma_and_duplicates_are_ignored() -> None:
    assert parse_amqp_urls("  amqp://h1,h2 , amqp://h1:5672,\n") == [
        "amqp://h1:5672",
        "amqp://h2:5672",
    ]


def test_an_at_sign_in_the_password_belongs_to_the_password() -> None:
    assert parse_amqp_urls("amqp://u:p@ss@h1,h2/") == [
        "amqp://u:p@ss@h1:5672/",
        "amqp://u:p@ss@h2:5672/",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "no AMQP URL"),
        ("   \n", "no AMQP URL"),
        (",", "no AMQP URL"),
        ("rabbit-1:5672", "not an AMQP URL"),
        (f"zumik:{SECRET}@rabbit-1", "not an AMQP URL"),
        (f"http://zumik:{SECRET}@rabbit-1/", "unsupported scheme 'http'"),
        ("amqp://", "no host"),
        (f"amqp://zumik:{SECRET}@/vh", "no host"),
        (f"amqp://zumik:{SECRET}@h1,,h2/", "empty entry"),
        (f"amqp://zumik:{SECRET}@h1,/", "empty entry"),
        (f"amqp://zumik:{SECRET}@h1:/", "empty port"),
        (f"amqp://zumik:{SECRET}@h1:0/", "port '0'"),
        (f"amqp://zumik:{SECRET}@h1:65536/", "port '65536'"),
        (f"amqp://zumik:{SECRET}@h1:ab/", "port 'ab'"),
        (f"amqp://zumik:{SECRET}@::1/", "brackets"),
        (f"amqp://zumik:{SECRET}@[::1/", "unclosed"),
        (f"amqp://zumik:{SECRET}@[not-v6]:5672/", "not an IPv6 address"),
        (f"amqp://zumik:{SECRET}@[::1]x/", "unexpected"),
        (f"amqp://zumik:{SECRET}@bad_host!/", "not a host name"),
        (f"amqp://zumik:{SECRET}@h1 zumik:{SECRET}@h2", "not an AMQP URL"),
    ],
)
def test_garbage_is_refused_without_echoing_the_password(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_amqp_urls(value)
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None


def test_errors_keep_the_user_name_but_mask_the_password() -> None:
    with pytest.raises(ValueError, match=r"zumik:\*\*\*@h1:ab") as caught:
        parse_amqp_urls(f"amqp://zumik:{SECRET}@h1:ab/")
    assert SECRET not in str(caught.value)


def test_a_user_name_without_password_is_masked_too() -> None:
    token = "eyJhbGciOi-token"
    with pytest.raises(ValueError, match=r"\*\*\*@h1:99999") as caught:
        parse_amqp_urls(f"amqp://{token}@h1:99999/")
    assert token not in str(caught.value)


def test_not_a_string() -> None:
    with pytest.raises(TypeError):
        parse_amqp_urls(["amqp://h1"])  # type: ignore[arg-type]


# -- amqp_hosts ------------------------------------------------------------------------------


def test_hosts_get_a_default_heartbeat_unless_the_url_sets_one() -> None:
    hosts = amqp_hosts("amqp://h1,h2/vh?name=api")
    assert [h.query["heartbeat"] for h in hosts] == [str(DEFAULT_HEARTBEAT)] * 2
    assert [h.query["name"] for h in hosts] == ["api", "api"]
    assert amqp_hosts("amqp://h1?heartbeat=5")[0].query["heartbeat"] == "5"
    assert amqp_hosts("amqp://h1", heartbeat=30)[0].query["heartbeat"] == "30"


def test_hosts_from_a_sequence_of_strings() -> None:
    hosts = amqp_hosts(["amqp://u:p@h1:5672/vh", "amqp://u:p@h2,h3/vh"])
    assert [(h.host, h.port) for h in hosts] == [("h1", 5672), ("h2", 5672), ("h3", 5672)]


@pytest.mark.parametrize(
    "second",
    [
        f"amqp://other:{SECRET}@h2/vh",
        f"amqp://zumik:{SECRET}x@h2/vh",
        f"amqp://zumik:{SECRET}@h2/other",
        f"amqps://zumik:{SECRET}@h2/vh",
        f"amqp://zumik:{SECRET}@h2/vh?heartbeat=5",
    ],
)
def test_nodes_of_one_cluster_differ_only_in_host_and_port(second: str) -> None:
    with pytest.raises(ValueError, match="only host and port may differ") as caught:
        amqp_hosts([f"amqp://zumik:{SECRET}@h1/vh", second])
    assert SECRET not in str(caught.value)


def test_no_urls() -> None:
    with pytest.raises(ValueError, match="no AMQP URL"):
        amqp_hosts([])


# -- the node list against local sockets -------------------------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on (connecting is refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A loopback port whose connects hang, like a host that vanished: a listener with a
    backlog of 0 that never accepts, its queue filled by a few connects of our own."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port: int = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.05)
    yield port
    for sock in [*fillers, server]:
        sock.close()


@pytest.fixture
async def listener() -> AsyncIterator[int]:
    """A loopback port that accepts connections (and says nothing)."""
    writers: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_node_list_skips_refusing_nodes_and_continues_round_robin(listener: int) -> None:
    down = closed_port()
    nodes = NodeList([("127.0.0.1", down), ("127.0.0.1", listener)], first=0)
    _, writer = await nodes.create(URL("amqp://ignored-host:1/"))
    assert nodes.current == 1
    assert writer.get_extra_info("peername")[1] == listener
    writer.close()
    # The next attempt starts after the node last used, i.e. with the refusing one again.
    _, writer = await nodes.create(URL("amqp://ignored-host:1/"))
    assert nodes.current == 1
    writer.close()


async def test_node_list_gives_up_after_one_round_naming_every_node() -> None:
    ports = [closed_port(), closed_port()]
    nodes = NodeList([("127.0.0.1", port) for port in ports])
    with pytest.raises(aiormq.AMQPConnectionError) as caught:
        await nodes.create(URL("amqp://ignored/"))
    assert all(f"127.0.0.1:{port}" in str(caught.value) for port in ports)
    assert nodes.current is None


async def test_node_list_times_out_per_node(black_hole: int, listener: int) -> None:
    nodes = NodeList(
        [("127.0.0.1", black_hole), ("127.0.0.1", listener)], connect_timeout=0.3, first=0
    )
    began = time.monotonic()
    _, writer = await nodes.create(URL("amqp://ignored/"))
    assert 0.3 <= time.monotonic() - began < 2
    assert nodes.current == 1
    writer.close()
    with pytest.raises(aiormq.AMQPConnectionError, match=r"no answer in 0\.3 s"):
        await NodeList([("127.0.0.1", black_hole)], connect_timeout=0.3).create(URL("amqp://x/"))


async def test_an_attempt_cut_short_resumes_with_the_next_node(
    black_hole: int, listener: int
) -> None:
    # aio-pika's `timeout` ends the attempt while a black-holed node is still being tried.
    nodes = NodeList(
        [("127.0.0.1", black_hole), ("127.0.0.1", listener)], connect_timeout=5, first=0
    )
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await nodes.create(URL("amqp://ignored/"))
    began = time.monotonic()
    _, writer = await nodes.create(URL("amqp://ignored/"))
    assert nodes.current == 1
    assert time.monotonic() - began < 1
    writer.close()


async def test_first_node_is_random_unless_given() -> None:
    firsts = {NodeList([("a", 1), ("b", 2), ("c", 3)])._next for _ in range(200)}
    assert firsts == {0, 1, 2}
    assert NodeList([("a", 1), ("b", 2)], first=3)._next == 1


async def test_connect_fails_fast_when_no_node_answers_without_leaking_the_password() -> None:
    ports = [closed_port(), closed_port(), closed_port()]
    urls = ",".join(f"127.0.0.1:{port}" for port in ports)
    began = time.monotonic()
    with pytest.raises(aiormq.AMQPConnectionError) as caught:
        await connect(f"amqp://zumik:{SECRET}@{urls}/")
    assert time.monotonic() - began < 2
    assert SECRET not in str(caught.value)
    assert all(str(port) in str(caught.value) for port in ports)


async def test_reconnect_pause_backs_off_while_every_node_refuses() -> None:
    connection = FailoverConnection(
        URL("amqp://h1/"), reconnect_interval=0.5, max_reconnect_interval=4
    )
    pauses = []
    for failures in range(7):
        connection._failed_attempts = failures
        pauses.append(connection.reconnect_interval)
    assert pauses[0] == 0.5
    assert 0.4 <= pauses[1] <= 0.6
    assert 0.8 <= pauses[2] <= 1.2
    assert all(3.2 <= pause <= 4.8 for pause in pauses[5:])
    await connection.close()


# -- the FastStream broker ---------------------------------------------------------------------


async def test_make_broker_keeps_faststream_arguments_and_uses_the_node_list() -> None:
    ports = [closed_port(), closed_port()]
    broker = make_broker(
        [f"amqp://zumik:{SECRET}@127.0.0.1:{port}/" for port in ports],
        default_channel=Channel(publisher_confirms=True),
        reconnect_interval=2.0,
        logger=None,
    )
    assert isinstance(broker, RabbitBroker)
    assert isinstance(broker, FailoverRabbitBroker)
    assert broker.current_node is None
    assert not await broker.ping(timeout=0.05)
    assert SECRET not in str(broker.specification.url)
    with pytest.raises(aiormq.AMQPConnectionError, match="no AMQP node reachable") as caught:
        await broker.start()
    assert all(str(port) in str(caught.value) for port in ports)
    await broker.stop()


def test_make_broker_refuses_a_second_source_of_hosts() -> None:
    with pytest.raises(TypeError, match="url="):
        make_broker("amqp://h1", url="amqp://h2")
