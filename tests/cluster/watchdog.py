"""Stops a test cluster's nodes when the test process dies without closing it (SIGKILL, a CI
timeout): `RabbitCluster` starts this script with a pipe on its stdin and reports each node it
spawns; when the pipe closes without a final "done", the nodes still running are stopped and the
cluster's temp dir is removed.

Protocol, one line each: `node <pgid> <node name>`, `done`. A process group is only signalled if
its leader's environment still names that node (`RABBITMQ_NODENAME`), so a recycled pid is left
alone.
"""

import contextlib
import os
import shutil
import signal
import sys
import time


def ours(pgid: int, name: str) -> bool:
    try:
        with open(f"/proc/{pgid}/environ", "rb") as environ:
            return f"RABBITMQ_NODENAME={name}".encode() in environ.read().split(b"\0")
    except OSError:
        return False


def main() -> None:
    root = sys.argv[1]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the test process
    groups: dict[int, str] = {}
    for line in sys.stdin:
        word, _, rest = line.strip().partition(" ")
        if word == "done":
            return
        if word == "node":
            pgid, name = rest.split(" ", 1)
            groups[int(pgid)] = name
    # The test process is gone and did not say "done".
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        live = [pgid for pgid, name in groups.items() if ours(pgid, name)]
        for pgid in live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        deadline = time.monotonic() + grace
        while live and time.monotonic() < deadline:
            time.sleep(0.2)
            live = [pgid for pgid in live if ours(pgid, groups[pgid])]
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
