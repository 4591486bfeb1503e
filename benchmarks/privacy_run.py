"""Runs the privacy benchmark (`benchmarks/privacy.py`, written separately) and turns what it
returns into a report section.

That module exposes `async def run() -> dict` or a `main()`; it is imported only when needed,
so the other benchmarks run while it does not exist yet. Its dict is shown as tables (a dict of
same-shaped dicts, such as figures per size, as one table; the rest flattened), and a bool whose
key mentions "target", "pass" or "met" (`targets_met.erase_under_10_s`) as a target verdict.
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


def _is_verdict(key: str, value: object) -> bool:
    return isinstance(value, bool) and any(w in key.lower() for w in ("pass", "target", "met"))


def _grid(value: object) -> list[tuple[str, dict[str, Any]]] | None:
    """A dict of same-shaped dicts of plain values (say, figures per size), as table rows."""
    if not isinstance(value, dict) or not value:
        return None
    rows = list(value.items())
    if not all(isinstance(row, dict) for _, row in rows):
        return None
    columns = list(rows[0][1])
    if any(
        list(row) != columns or any(isinstance(v, dict | list) for v in row.values())
        for _, row in rows
    ):
        return None
    return [(str(name), row) for name, row in rows]


def _fill(section: Section, result: object) -> None:
    if not isinstance(result, dict):
        section.note(f"privacy benchmark returned {type(result).__name__}; nothing to tabulate.")
        return
    figures: list[list[str]] = []
    for top, value in result.items():
        grid = _grid(value)
        if grid is not None:
            columns = list(grid[0][1])
            section.table(
                f"{top} (from {MODULE})",
                [str(top), *columns],
                [[name, *(_text(row[c]) for c in columns)] for name, row in grid],
            )
            continue
        for key, leaf in _flatten(value, str(top)):
            if _is_verdict(key, leaf):
                section.verdict(key, bool(leaf), f"as reported by {MODULE}")
            else:
                figures.append([key, _text(leaf)])
    if figures:
        section.table(f"Figures (from {MODULE})", ["figure", "value"], figures)


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
