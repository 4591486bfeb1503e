"""Background tasks whose work is PyMongo calls: running one periodically, and stopping them.

A cancellation can be lost inside a PyMongo call: the call returns as if nothing happened and
the task goes on to its next step. Seen when a process stops right after starting (the API's
port already taken): its SLA scheduler was in its first query, kept running, and the shutdown
that awaited it after one `cancel()` hung for good. So each task is cancelled again until it
ends, within a bound. The price: clean-up in a task's `finally` that takes longer than a round
(a second) is cut short by the next cancellation.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger("zumik_store")

CANCEL_ROUNDS = 5
ROUND_SECONDS = 1.0


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[None]],
    *,
    rounds: int = CANCEL_ROUNDS,
    round_seconds: float = ROUND_SECONDS,
) -> set[asyncio.Task[None]]:
    """Cancel `tasks` and wait for them to end, cancelling again every `round_seconds`; the
    ones still running after `rounds` rounds, logged. What then becomes of them is the event
    loop's: `asyncio.run` cancels what is left once more when it ends."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    for _ in range(rounds):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=round_seconds)
    for task in tasks:
        if task.done() and not task.cancelled() and (error := task.exception()) is not None:
            log.error("background task %s had failed: %s", task.get_name(), type(error).__name__)
    if pending:
        log.warning("%d background tasks did not stop: %s", len(pending), _names(pending))
    return pending


def _names(tasks: set[asyncio.Task[None]]) -> str:
    return ", ".join(sorted(task.get_name() for task in tasks))


async def every(
    seconds: float,
    action: Callable[[], Awaitable[object]],
    what: str,
    logger: logging.Logger,
    *,
    start_after: float = 0.0,
) -> None:
    """Run `action` every `seconds` until cancelled. A failure is logged by its type only (its
    text may quote data) and the action runs again at the next round."""
    await asyncio.sleep(start_after)
    while True:
        try:
            await action()
        except Exception as error:
            logger.warning("%s failed: %s; will retry", what, type(error).__name__)
        await asyncio.sleep(seconds)


async def until_done(
    action: Callable[[], Awaitable[object]],
    unready: str,
    logger: logging.Logger,
    *,
    first_delay: float = 0.5,
    max_delay: float = 10.0,
) -> None:
    """Run `action` until it succeeds, waiting twice as long after each failure (up to
    `max_delay`). A failure is logged as "<unready> (<error type>); retrying in <delay>s"."""
    delay = first_delay
    while True:
        try:
            await action()
            return
        except Exception as error:
            logger.warning("%s (%s); retrying in %.1fs", unready, type(error).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
