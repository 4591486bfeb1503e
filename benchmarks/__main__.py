"""`python -m benchmarks [api|events|staff|privacy|files ...]`: run the benchmarks (all by default),
print each one's tables and target verdicts, and write the figures into docs/benchmarks.md.

The exit status is 1 only when a benchmark could not run to the end; a missed target is a
FAIL in the report, not an error.
"""

import argparse
import asyncio
import logging
import sys
import time
import traceback
from collections.abc import Awaitable, Callable

from benchmarks import api, cluster, docs, events, files, privacy_run, staff
from benchmarks.common import Services, services_from_env
from benchmarks.load import ensure_wrk
from benchmarks.machine import describe
from benchmarks.report import Section, text_section

log = logging.getLogger("benchmarks")

Runner = Callable[[Services], Awaitable[Section]]


async def _privacy(_: Services) -> Section:
    return await privacy_run.run()


RUNNERS: dict[str, Runner] = {
    "api": api.run,
    "events": events.run,
    "staff": staff.run,
    "privacy": _privacy,
    "files": files.run,
    "cluster": cluster.run,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "benchmarks",
        nargs="*",
        help=f"which to run, among {', '.join(docs.ORDER)} (default: all)",
    )
    parser.add_argument(
        "--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.benchmarks) - set(docs.ORDER))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    return args


async def run_one(name: str, services: Services) -> tuple[Section, bool]:
    """The benchmark's section, and whether it ran to the end."""
    log.info("running the %s benchmark", name)
    started = time.monotonic()
    try:
        section = await RUNNERS[name](services)
        completed = True
    except Exception as error:
        traceback.print_exc()
        section = Section(name, docs.TITLES[name])
        section.verdict(f"{name} benchmark", None, f"crashed: {type(error).__name__}: {error}")
        completed = False
    section.seconds = time.monotonic() - started
    return section, completed


def summary(sections: list[Section]) -> str:
    lines = ["== Targets =="]
    for section in sections:
        lines += [f"[{v.label}] {section.key}: {v.target}: {v.detail}" for v in section.verdicts]
    return "\n".join(lines)


async def main_async(names: list[str], write_docs: bool) -> int:
    ensure_wrk()
    services = services_from_env()
    machine = await describe(services)
    log.info("service logs go to %s", services.log_dir)
    sections: list[Section] = []
    all_completed = True
    for name in names:
        section, completed = await run_one(name, services)
        all_completed = all_completed and completed
        sections.append(section)
        print(text_section(section), "\n", flush=True)
    print(summary(sections), flush=True)
    if write_docs:
        print(f"figures written to {docs.write(sections, machine)}")
    return 0 if all_completed else 1


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    args = parse_args(sys.argv[1:] if argv is None else argv)
    names = [name for name in docs.ORDER if name in args.benchmarks] or list(docs.ORDER)
    return asyncio.run(main_async(names, write_docs=not args.no_docs))


if __name__ == "__main__":
    sys.exit(main())
