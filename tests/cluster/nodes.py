"""A throw-away RabbitMQ cluster on loopback, for tests: N nodes of the machine's own
`rabbitmq-server`, each with its own node name, ports, data, logs and config, joined into one
cluster.

Isolation from the machine's default node (`rabbit@<hostname>` on 5672, started by
`scripts/services`):
- The scripts are run directly from RabbitMQ's `sbin` directory (Debian:
  `/usr/lib/rabbitmq/bin/*`), not through Debian's `/usr/sbin` wrapper, which would `su` to the
  `rabbitmq` user and so use that user's home and its Erlang cookie.
- Every node and every CLI call gets `HOME=<tmp>/home`, which holds this cluster's own
  `.erlang.cookie`. Erlang reads the cookie from `$HOME`, so neither the default node's cookie
  (`/var/lib/rabbitmq/.erlang.cookie`) nor the caller's `~/.erlang.cookie` is read, created or
  changed, and a mistaken command cannot reach the default node (its cookie differs).
- `RABBITMQ_CONF_ENV_FILE`, `RABBITMQ_CONFIG_FILE`, `RABBITMQ_ADVANCED_CONFIG_FILE` and
  `RABBITMQ_ENABLED_PLUGINS_FILE` point into the temp dir, so nothing under `/etc/rabbitmq` is read
  and no plugin (management on 15672, ...) starts.
- Node names carry a random token, so two test sessions on one machine do not collide in epmd,
  which all nodes share (that is fine: epmd only maps names to ports).
- AMQP and distribution ports are free ports picked at run time; both listen on 127.0.0.1 only.

Only nodes this object started are ever stopped; every CLI call names its node with `-n`. If the
test process dies without `close()` (SIGKILL, a CI timeout), a small watchdog process
(watchdog.py) stops the nodes and removes the temp dir.
The API is synchronous; from asyncio use `await asyncio.to_thread(cluster.stop, 0)`.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# Debian/Ubuntu keep the real scripts here; /usr/sbin/rabbitmq-* are wrappers that `su rabbitmq`.
_SBIN_CANDIDATES = (Path("/usr/lib/rabbitmq/bin"),)
_DEBIAN_WRAPPER_MARK = b"su rabbitmq"


def find_sbin() -> Path | None:
    """The directory of RabbitMQ's own `rabbitmq-server`/`rabbitmqctl` scripts, or None when
    RabbitMQ is not installed. `ZUMIK_RABBITMQ_SBIN` overrides the search."""
    override = os.environ.get("ZUMIK_RABBITMQ_SBIN")
    candidates = [Path(override)] if override else list(_SBIN_CANDIDATES)
    on_path = shutil.which("rabbitmq-server")
    if on_path and not override:
        script = Path(on_path)
        with contextlib.suppress(OSError):
            if _DEBIAN_WRAPPER_MARK not in script.read_bytes():
                candidates.append(script.parent)
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in ("rabbitmq-server", "rabbitmqctl")):
            return directory
    return None


class ClusterError(RuntimeError):
    """A node did not start, stop or join as asked; the message ends with its log's tail."""


def _free_ports(count: int, avoid: set[int]) -> list[int]:
    """Ports nothing listens on right now (the kernel's pick), none in `avoid`.

    There is a window between choosing and RabbitMQ binding; a node that loses that race fails
    to start and `start` reports it with the log."""
    ports: list[int] = []
    sockets: list[socket.socket] = []
    try:
        while len(ports) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
            # The CLI tools' own distribution range is 35672-35682; keep clear of it and of the
            # default node's 5672/25672 and epmd's 4369 (the kernel never picks those anyway).
            if port in avoid or 35672 <= port <= 35682 or port in ports:
                continue
            ports.append(port)
    finally:
        for sock in sockets:
            sock.close()
    return ports


@dataclass
class Node:
    index: int
    name: str  # e.g. zumik-cluster-3f9a-1@localhost
    amqp_port: int
    dist_port: int
    base: Path
    process: subprocess.Popen[bytes] | None = None
    log_file: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


_live: set[RabbitCluster] = set()


@atexit.register
def _kill_leftovers() -> None:
    """Last resort when a test run dies without `close()`: kill the nodes it started."""
    for cluster in list(_live):
        cluster.close(graceful=False)


class RabbitCluster:
    """N RabbitMQ nodes on 127.0.0.1 joined into one cluster. `start_all()` (or `with`) starts
    them; `close()` stops them and removes their files."""

    def __init__(
        self,
        size: int = 3,
        *,
        prefix: str = "zumik-cluster",
        base_dir: str | Path | None = None,
        boot_timeout: float = 60.0,
        join: Literal["discovery", "cli"] = "cli",
    ) -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        sbin = find_sbin()
        if sbin is None:
            raise ClusterError("rabbitmq-server is not installed (no RabbitMQ sbin directory)")
        self.sbin = sbin
        self.boot_timeout = boot_timeout
        self.join = join
        token = secrets.token_hex(3)
        self.root = Path(tempfile.mkdtemp(prefix=f"{prefix}-{token}-", dir=base_dir))
        self.home = self.root / "home"
        self.home.mkdir()
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq-env.conf").write_text("")
        ports = _free_ports(2 * size, avoid={4369, 5672, 5671, 25672, 15672})
        self.nodes = [
            Node(
                index=i,
                name=f"{prefix}-{token}-{i + 1}@localhost",
                amqp_port=ports[2 * i],
                dist_port=ports[2 * i + 1],
                base=self.root / f"node{i + 1}",
            )
            for i in range(size)
        ]
        for node in self.nodes:
            node.base.mkdir()
            (node.base / "rabbitmq.conf").write_text(
                "\n".join(
                    [
                        "loopback_users.guest = true",
                        "log.console = false",
                        "log.file.level = info",
                        # Room for three nodes next to the default one on a small machine.
                        "vm_memory_high_watermark.relative = 0.2",
                        "disk_free_limit.absolute = 50MB",
                        *(
                            [
                                "cluster_formation.peer_discovery_backend = classic_config",
                                f"cluster_formation.classic_config.nodes.1 = {self.nodes[0].name}",
                            ]
                            if join == "discovery" and node.index > 0
                            else []
                        ),
                        "",
                    ]
                )
            )
        self._lock = threading.Lock()
        self.timings: dict[str, float] = {}
        # Cleans up if this process dies without `close()` (see watchdog.py).
        self._watchdog = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("watchdog.py")), str(self.root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
        )
        _live.add(self)

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> RabbitCluster:
        try:
            self.start_all()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start_all(self) -> None:
        """Start every node and form the cluster, by `self.join`:

        - "cli" (default): all nodes boot together as separate clusters; then nodes 2..N are
          joined to node 1, one at a time, with `rabbitmqctl stop_app` / `join_cluster` /
          `start_app`, which boots the `rabbit` app a second time on each of them.
        - "discovery": node 1 boots alone, then the others boot together and join it during
          their first boot (peer discovery `classic_config` naming node 1), so each node boots
          once. Any node that still ends up on its own is joined as above.

        Measured on a 2-CPU machine that other test runs kept busy (load average 5-10): 14-25 s
        with "cli" (9-16 s of it booting), 16-17 s with "discovery"; a single node alone took
        5-6 s. Booting is CPU-bound, so it shrinks on a quieter or bigger machine.
        """
        began = time.monotonic()
        first, rest = self.nodes[0], self.nodes[1:]
        if self.join == "discovery":
            self._spawn(first)
            self._await_boot(first)
        else:
            rest = self.nodes
        for node in rest:
            self._spawn(node)
        with ThreadPoolExecutor(max_workers=len(rest)) as pool:
            list(pool.map(self._await_boot, rest))
        self.timings["boot"] = time.monotonic() - began
        members = set(
            json.loads(self.ctl(0, "cluster_status", "--formatter", "json"))["running_nodes"]
        )
        for node in self.nodes[1:]:
            if node.name not in members:
                self.ctl(node.index, "stop_app")
                self.ctl(node.index, "join_cluster", first.name)
                self.ctl(node.index, "start_app")
        self._await_members(len(self.nodes))
        self.timings["start_all"] = time.monotonic() - began

    def stop(self, index: int, *, timeout: float = 30.0) -> float:
        """A clean shutdown of node `index` (`rabbitmqctl stop`: the node closes its client
        connections with `CONNECTION_FORCED`, hands over quorum leadership and halts). Returns the
        seconds it took until its process ended."""
        node = self.nodes[index]
        if not node.running:
            return 0.0
        began = time.monotonic()
        self.ctl(index, "stop", check=False)
        assert node.process is not None
        try:
            node.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(node)
            raise ClusterError(f"{node.name} did not stop within {timeout} s") from None
        finally:
            self._close_log(node)
        return time.monotonic() - began

    def start(self, index: int) -> float:
        """Bring node `index` back. It still knows its cluster (its data dir is kept), so it
        rejoins on boot; returns once it runs and all started nodes are members again."""
        node = self.nodes[index]
        if node.running:
            return 0.0
        began = time.monotonic()
        self._spawn(node)
        self._await_boot(node)
        self._await_members(sum(n.running for n in self.nodes))
        return time.monotonic() - began

    def close(self, *, graceful: bool = True) -> None:
        """Stop every node this object started (cleanly when `graceful`, else by signal) and
        remove the temp dir. Safe to call twice."""
        with self._lock:
            if graceful:
                running = [n for n in self.nodes if n.running]
                with ThreadPoolExecutor(max_workers=max(1, len(running))) as pool:
                    list(pool.map(self._stop_quietly, running))
            for node in self.nodes:
                if node.running:
                    self._kill(node)
                self._close_log(node)
            shutil.rmtree(self.root, ignore_errors=True)
            self._tell_watchdog("done")
            if self._watchdog.stdin is not None:
                with contextlib.suppress(OSError):
                    self._watchdog.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._watchdog.wait(timeout=5)
            _live.discard(self)

    # -- facts -------------------------------------------------------------------------------

    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def url(self, index: int) -> str:
        return self.nodes[index].url

    def running(self) -> list[int]:
        return [node.index for node in self.nodes if node.running]

    def index_of_port(self, port: int) -> int | None:
        return next((n.index for n in self.nodes if n.amqp_port == port), None)

    def index_of_name(self, name: str) -> int | None:
        return next((n.index for n in self.nodes if n.name == name), None)

    def connections(self) -> list[dict[str, Any]]:
        """Every client connection of the cluster (`list_connections` answers for all nodes):
        `name` ("client-ip:port -> server-ip:port"), `port` (the server's AMQP port, so the
        node), `node` (its index) and `connection_name` (what the client set as
        `client_properties={"connection_name": ...}` or `?name=` in its URL, else None)."""
        out = self.ctl(
            self._any_running(),
            "list_connections",
            "name",
            "port",
            "client_properties",
            "--formatter",
            "json",
        )
        rows: list[dict[str, Any]] = []
        for row in json.loads(out or "[]"):
            properties = {item[0]: item[-1] for item in row.get("client_properties") or ()}
            rows.append(
                {
                    "name": row["name"],
                    "port": row["port"],
                    "node": self.index_of_port(int(row["port"])),
                    "connection_name": properties.get("connection_name"),
                }
            )
        return rows

    def which_node_serves(self, connection: Any) -> int | None:
        """The index of the node a client connection is attached to, according to the broker;
        None when no node has it.

        `connection` is a connection name (what the client set as
        `client_properties={"connection_name": ...}` or `?name=` in its URL), or an aio-pika
        connection whose URL carries `?name=`."""
        if isinstance(connection, str):
            name: str | None = connection
        else:
            url = getattr(connection, "url", None)
            name = None if url is None else url.query.get("name")
            if name is None:
                raise ClusterError("name the connection (?name= in its URL) to find it")
        nodes = {row["node"] for row in self.connections() if row["connection_name"] == name}
        if len(nodes) > 1:
            raise ClusterError(f"{name!r} is open on several nodes: {sorted(nodes)}")
        return nodes.pop() if nodes else None

    def quorum_queues(self, vhost: str = "/") -> dict[str, dict[str, Any]]:
        """Quorum queues by name: `leader` (node index), `members` and `online` (node indexes)."""
        out = self.ctl(
            self._any_running(),
            "list_queues",
            "-p",
            vhost,
            "name",
            "type",
            "leader",
            "members",
            "online",
            "--formatter",
            "json",
        )
        result: dict[str, dict[str, Any]] = {}
        for row in json.loads(out or "[]"):
            if row.get("type") != "quorum":
                continue
            result[row["name"]] = {
                "leader": self.index_of_name(row["leader"]) if row.get("leader") else None,
                "members": sorted(self._indexes(row.get("members"))),
                "online": sorted(self._indexes(row.get("online"))),
            }
        return result

    def leader_of(self, queue: str, vhost: str = "/") -> int | None:
        info = self.quorum_queues(vhost).get(queue)
        return None if info is None else info["leader"]

    def rebalance(self) -> str:
        """`rabbitmq-queues rebalance quorum`: move quorum leaders so each running node leads
        about the same number of queues. Returns the tool's report."""
        return self._run("rabbitmq-queues", self._any_running(), "rebalance", "quorum")

    # -- the CLI -----------------------------------------------------------------------------

    def ctl(self, index: int, *args: str, check: bool = True, timeout: float = 60.0) -> str:
        """`rabbitmqctl -n <node index> -q <args>`; returns stdout."""
        return self._run("rabbitmqctl", index, *args, check=check, timeout=timeout)

    def diagnostics(self, index: int, *args: str, check: bool = True) -> str:
        return self._run("rabbitmq-diagnostics", index, *args, check=check)

    def _run(
        self, tool: str, index: int, *args: str, check: bool = True, timeout: float = 60.0
    ) -> str:
        node = self.nodes[index]
        done = subprocess.run(
            [str(self.sbin / tool), "-n", node.name, "-q", *args],
            env=self._cli_env(),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise ClusterError(
                f"{tool} -n {node.name} {' '.join(args)} exited {done.returncode}: "
                f"{(done.stderr or done.stdout).strip()}"
            )
        return done.stdout

    # -- internals ---------------------------------------------------------------------------

    def _cli_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env["HOME"] = str(self.home)
        env["RABBITMQ_CONF_ENV_FILE"] = str(self.root / "rabbitmq-env.conf")
        env["LC_ALL"] = env["LANG"] = "C.UTF-8"
        return env

    def _node_env(self, node: Node) -> dict[str, str]:
        env = self._cli_env()
        env.update(
            RABBITMQ_NODENAME=node.name,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(node.amqp_port),
            RABBITMQ_DIST_PORT=str(node.dist_port),
            RABBITMQ_MNESIA_BASE=str(node.base / "mnesia"),
            RABBITMQ_LOG_BASE=str(node.base / "log"),
            RABBITMQ_CONFIG_FILE=str(node.base / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(node.base / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.root / "enabled_plugins"),
            RABBITMQ_PLUGINS_EXPAND_DIR=str(node.base / "plugins-expand"),
            RABBITMQ_PID_FILE=str(node.base / "rabbitmq.pid"),
            # Distribution on loopback only (it listens on every interface otherwise).
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            ERL_CRASH_DUMP=str(node.base / "erl_crash.dump"),
        )
        return env

    def _spawn(self, node: Node) -> None:
        self._close_log(node)
        node.log_file = (node.base / "stdout.log").open("ab")
        # Foreground, in its own session: the script traps SIGTERM into a clean stop, and the
        # process group lets `_kill` reach the VM if it ever has to.
        node.process = subprocess.Popen(
            [str(self.sbin / "rabbitmq-server")],
            env=self._node_env(node),
            cwd=node.base,
            stdin=subprocess.DEVNULL,
            stdout=node.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._tell_watchdog(f"node {node.process.pid} {node.name}")

    def _tell_watchdog(self, line: str) -> None:
        if self._watchdog.stdin is None or self._watchdog.stdin.closed:
            return
        with contextlib.suppress(OSError):
            self._watchdog.stdin.write(line + "\n")
            self._watchdog.stdin.flush()

    def _await_boot(self, node: Node) -> None:
        """Until the `rabbit` app runs on `node` and its AMQP port accepts connections.

        The AMQP listener opens near the end of the boot, so this polls that port (cheap) and
        asks the CLI (an Erlang VM of its own, ~0.3 s of CPU a call) only once it is open: on a
        two-CPU machine, polling with the CLI slowed a three-node boot from ~6 s to ~15 s."""
        deadline = time.monotonic() + self.boot_timeout
        while True:
            if not node.running:
                raise ClusterError(f"{node.name} exited while booting\n{self.log_tail(node)}")
            if _port_open(node.amqp_port):
                done = subprocess.run(
                    [str(self.sbin / "rabbitmqctl"), "-n", node.name, "-q", "await_startup"],
                    env=self._cli_env(),
                    cwd=self.root,
                    capture_output=True,
                    timeout=max(5.0, deadline - time.monotonic()),
                    check=False,
                )
                if done.returncode == 0:
                    return
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{node.name} not running after {self.boot_timeout} s\n{self.log_tail(node)}"
                )
            time.sleep(0.1)

    def _await_members(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            status = json.loads(
                self.ctl(self._any_running(), "cluster_status", "--formatter", "json")
            )
            running = set(status.get("running_nodes", []))
            if len(running) >= count and running <= {n.name for n in self.nodes}:
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"only {sorted(running)} of {count} nodes joined")
            time.sleep(0.2)

    def _any_running(self) -> int:
        for node in self.nodes:
            if node.running:
                return node.index
        raise ClusterError("no node of the cluster is running")

    def _indexes(self, names: Sequence[str] | None) -> Iterator[int]:
        for name in names or ():
            index = self.index_of_name(name)
            if index is not None:
                yield index

    def _stop_quietly(self, node: Node) -> None:
        with contextlib.suppress(Exception):
            self.stop(node.index, timeout=20)

    def _kill(self, node: Node) -> None:
        if node.process is None or node.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.process.pid, sig)
            try:
                node.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def _close_log(self, node: Node) -> None:
        if node.log_file is not None:
            node.log_file.close()
            node.log_file = None

    def log_tail(self, node: Node, lines: int = 30) -> str:
        texts = []
        for path in [node.base / "stdout.log", *sorted((node.base / "log").glob("*.log"))]:
            with contextlib.suppress(OSError):
                texts.append(
                    f"--- {path.name}\n" + "\n".join(path.read_text().splitlines()[-lines:])
                )
        return "\n".join(texts)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0
