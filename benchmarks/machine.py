"""The machine and the versions a run measured on."""

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from zumik_store import mongo

from benchmarks.broker import rabbitmq_version
from benchmarks.common import Services
from benchmarks.store import store_version


@dataclass(frozen=True)
class Machine:
    cpus: int
    cpu_model: str
    memory_gib: float
    kernel: str
    python: str
    store: str
    broker: str
    wrk: str
    started: datetime
    load_average: tuple[float, float, float]

    def markdown(self) -> str:
        load = ", ".join(f"{value:.2f}" for value in self.load_average)
        return "\n".join(
            [
                f"- Date: {self.started:%Y-%m-%d %H:%M} UTC",
                f"- CPU: {self.cpus} x {self.cpu_model} (`nproc` = {self.cpus})",
                f"- Memory: {self.memory_gib:.1f} GiB",
                f"- Kernel: Linux {self.kernel}",
                f"- Python {self.python}; store: {self.store}; RabbitMQ {self.broker}; {self.wrk}",
                f"- Load average when the run started (1, 5, 15 min): {load}",
            ]
        )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    except OSError:
        pass
    return float("nan")


def _wrk_version() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        return "wrk (not installed yet)"
    result = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
    words = (result.stdout + result.stderr).split()
    return " ".join(words[:2]) if words else "wrk"


async def _store(services: Services) -> str:
    client = mongo.connect(services.mongodb_url)
    try:
        return await store_version(client.get_database("admin"))
    except Exception as error:
        return f"unreachable ({type(error).__name__})"
    finally:
        await client.close()


async def describe(services: Services) -> Machine:
    return Machine(
        cpus=os.cpu_count() or 0,
        cpu_model=_cpu_model(),
        memory_gib=_memory_gib(),
        kernel=platform.release(),
        python=platform.python_version(),
        store=await _store(services),
        broker=await rabbitmq_version(services.amqp_url),
        wrk=_wrk_version(),
        started=datetime.now(UTC),
        load_average=os.getloadavg(),
    )
