"""Runs the privacy benchmark (`benchmarks/privacy.py`, written separately) and turns what it
returns into a report section.

That module exposes `async def run() -> dict` or a `main()`; it is imported only when needed,
so the other benchmarks run while it does not exist yet. Its dict is shown flattened; a bool
whose key mentions "pass" (`passed`, `target_passed`, ...) is read as a target verdict.
"""

import asyncio
import importlib
import inspect
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from benchmarks.report import Section

MODULE = "benchmarks.privacy"
TITLE = "Privacy (benchmarks/privacy.py)"


def _load() -> ModuleType | None:
    try:
        return importlib.import_module(MODULE)
    except ModuleNotFoundError as error:
        if error.name == MODULE:
            return None
        raise


async def _call(module: ModuleType) -> object:
    run = getattr(module, "run", None)
    if run is not None and inspect.iscoroutinefunction(run):
        return await run()
    main = getattr(module, "main", None)
    if main is None:
        raise AttributeError(f"{MODULE} has neither `async def run()` nor `main()`")
    if inspect.iscoroutinefunction(main):
        return await main()
    # A synchronous main() may start its own event loop (asyncio.run): give it a thread.
    return await asyncio.to_thread(main)


def _flatten(value: object, prefix: str = "") -> Iterator[tuple[str, object]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list | tuple) and any(isinstance(v, dict) for v in value):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix or "result", value


def _fill(section: Section, result: object) -> None:
    if not isinstance(result, dict):
        section.note(f"privacy benchmark returned {type(result).__name__}; nothing to tabulate.")
        return
    rows: list[list[str]] = []
    for key, value in _flatten(result):
        if isinstance(value, bool) and "pass" in key.lower():
            section.verdict(key, value, f"reported by {MODULE}")
        else:
            rows.append([key, _text(value)])
    if rows:
        section.table("Figures reported by the privacy benchmark", ["figure", "value"], rows)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}"
    return str(value)


async def run() -> Section:
    section = Section("privacy", TITLE)
    started = time.monotonic()
    module = _load()
    if module is None:
        section.verdict("privacy benchmark", None, "benchmarks/privacy.py is missing: not run")
        return section
    _fill(section, await _call(module))
    section.seconds = time.monotonic() - started
    return section
