"""Load generators: `wrk` against the running API, and the same operation straight on the driver.

wrk's Lua `done()` prints the run's exact figures (requests, duration, p50/p99 from its
latency histogram, errors) as one JSON line, so nothing is scraped from its human summary.
"""

import asyncio
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.stats import LoadResult

log = logging.getLogger("benchmarks")

WRK_MARKER = "WRKJSON "

Operation = Callable[[int], Awaitable[object]]

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
    .. '"status_errors":%d,"socket_errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""

_SEED = """
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
init = function(args)
  math.randomseed(os.time() * 100 + thread_number)
end
"""


def _lua_string(text: str) -> str:
    if "]==]" in text or not text.isascii():
        raise ValueError("wrk scripts carry ASCII text only")
    return f"[==[{text}]==]"


@dataclass(frozen=True)
class WrkRequest:
    """One request shape: a method, paths picked at random per request, headers and a body."""

    method: str
    paths: Sequence[str]
    headers: dict[str, str]
    body: str | None = None

    def lua(self) -> str:
        lines = [f"wrk.method = {_lua_string(self.method)}"]
        lines += [
            f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in self.headers.items()
        ]
        if self.body is not None:
            lines.append(f"wrk.body = {_lua_string(self.body)}")
        if len(self.paths) == 1:
            lines.append(f"wrk.path = {_lua_string(self.paths[0])}")
        else:
            lines.append("local paths = {" + ",".join(map(_lua_string, self.paths)) + "}")
            lines.append(_SEED)
            lines.append(
                "request = function() return wrk.format(nil, paths[math.random(#paths)]) end"
            )
        return "\n".join(lines) + "\n" + _DONE


@dataclass(frozen=True)
class WrkPlan:
    seconds: float = 10.0
    threads: int = 2
    connections: int = 16
    timeout_s: float = 30.0


def sized_plan(
    latency_s: float,
    *,
    connections: int,
    samples: int = 12,
    min_s: float = 8.0,
    max_s: float = 40.0,
) -> WrkPlan:
    """A plan for slow requests: long enough for about `samples` of them (within bounds), with a
    timeout well above one request's time, so no slow request is dropped as a timeout."""
    seconds = min(max_s, max(min_s, samples * latency_s / connections))
    return WrkPlan(
        seconds=seconds,
        threads=min(2, connections),
        connections=connections,
        timeout_s=max(30.0, 4 * latency_s),
    )


async def time_once(operation: Operation) -> float:
    started = time.perf_counter()
    await operation(0)
    return time.perf_counter() - started


def ensure_wrk() -> str:
    """wrk's path, installing Debian's package first when it is missing (the bench box is root)."""
    found = shutil.which("wrk")
    if found:
        return found
    log.info("installing wrk from Debian")
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, "apt-get", "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, env=env, timeout=600, check=False).returncode != 0:
        # A fresh machine may have no package lists yet.
        subprocess.run([*prefix, "apt-get", "update", "-qq"], env=env, timeout=600, check=True)
        subprocess.run(install, env=env, timeout=600, check=True)
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed and could not be installed")
    return found


def _parse_wrk(label: str, output: str, connections: int) -> LoadResult:
    lines = [line for line in output.splitlines() if line.startswith(WRK_MARKER)]
    if not lines:
        raise RuntimeError(f"wrk printed no figures for {label}:\n{output[-2000:]}")
    figures = json.loads(lines[-1].removeprefix(WRK_MARKER))
    requests = int(figures["requests"])
    return LoadResult(
        label=label,
        requests=requests,
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000 if requests else float("nan"),
        p99_ms=figures["p99_us"] / 1000 if requests else float("nan"),
        errors=int(figures["status_errors"]) + int(figures["socket_errors"]),
        concurrency=connections,
    )


async def run_wrk(label: str, base_url: str, request: WrkRequest, plan: WrkPlan) -> LoadResult:
    """Run wrk for `plan.seconds` against `base_url` (loopback only), bounded by a hard timeout."""
    if not base_url.startswith("http://127.0.0.1:"):
        raise ValueError("the benchmark only sends traffic to 127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="zumik_wrk_") as directory:
        script = write_script(directory, request)
        output = await _wrk(label, base_url, script, plan)
    return _parse_wrk(label, output, plan.connections)


def write_script(directory: str, request: WrkRequest) -> str:
    path = Path(directory) / "request.lua"
    path.write_text(request.lua())
    return str(path)


async def _wrk(label: str, base_url: str, script: str, plan: WrkPlan) -> str:
    command = [
        ensure_wrk(),
        f"-t{plan.threads}",
        f"-c{plan.connections}",
        f"-d{max(1, round(plan.seconds))}s",
        f"--timeout={max(1, round(plan.timeout_s))}s",
        "-s",
        script,
        base_url,
    ]
    log.info("wrk %s: %s", label, " ".join(command[1:5]))
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with asyncio.timeout(plan.seconds + plan.timeout_s + 30):
            output, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return output.decode(errors="replace")


async def run_driver(
    label: str,
    operation: Operation,
    *,
    concurrency: int,
    seconds: float,
    max_ops: int = 1_000_000,
) -> LoadResult:
    """Run `operation(i)` from `concurrency` workers of this one process, for `seconds` or
    `max_ops` operations, whichever comes first; a failed operation counts as an error."""
    log.info("driver %s: %d concurrent, %.0f s", label, concurrency, seconds)
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal errors, issued
        while time.monotonic() < deadline and issued < max_ops:
            index = issued
            issued += 1
            started = time.perf_counter()
            try:
                await operation(index)
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    return LoadResult.from_samples(
        label, latencies, elapsed, errors=errors, concurrency=concurrency
    )
