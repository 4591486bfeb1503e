"""Stopping background tasks: a lost cancellation does not hang the shutdown."""

import asyncio
import contextlib
import itertools
import logging

import pytest
from zumik_store.lifecycle import cancel_and_wait, every, until_done


async def _swallows_first_cancel(log: list[str]) -> None:
    """As a PyMongo call that loses the cancellation, then the loop's next step."""
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        log.append("lost a cancellation")
    await asyncio.sleep(60)


async def test_a_task_that_lost_its_cancellation_is_cancelled_again() -> None:
    log: list[str] = []
    task = asyncio.create_task(_swallows_first_cancel(log))
    await asyncio.sleep(0)

    still_running = await cancel_and_wait([task], round_seconds=0.05)

    assert still_running == set()
    assert task.cancelled()
    assert log == ["lost a cancellation"]


async def test_a_task_that_never_stops_is_reported_not_awaited_forever(
    caplog: pytest.LogCaptureFixture,
) -> None:
    released = asyncio.Event()

    async def stubborn() -> None:
        while not released.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(60)

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)

    async with asyncio.timeout(2):
        still_running = await cancel_and_wait([task], rounds=3, round_seconds=0.05)

    assert still_running == {task}
    assert "1 background tasks did not stop: stubborn" in caplog.text
    released.set()
    task.cancel()
    await asyncio.wait([task])


async def test_a_task_that_had_failed_is_logged_and_the_others_still_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    failed = asyncio.create_task(fails(), name="purge")
    waiting = asyncio.create_task(asyncio.sleep(60))
    await asyncio.sleep(0.01)

    with caplog.at_level(logging.ERROR, logger="zumik_store"):
        assert await cancel_and_wait([failed, waiting]) == set()

    assert waiting.cancelled()
    assert "background task purge had failed: RuntimeError" in caplog.text


async def test_a_periodic_action_that_fails_is_logged_by_type_and_runs_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []
    third_run = asyncio.Event()

    async def purge() -> None:
        runs.append(len(runs))
        if len(runs) == 3:
            third_run.set()
        if len(runs) == 1:
            raise ValueError("customer@example.com")  # its text must stay out of the log

    task = asyncio.create_task(every(0.01, purge, "test purge", logging.getLogger("test")))
    async with asyncio.timeout(2):
        await third_run.wait()
    await cancel_and_wait([task])

    assert len(runs) >= 3
    assert "test purge failed: ValueError; will retry" in caplog.text
    assert "customer@example.com" not in caplog.text


async def test_an_action_is_retried_with_growing_waits_until_it_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = [ConnectionError("store down: secret text"), TimeoutError(), OSError(), None]
    attempts: list[float] = []

    async def action() -> None:
        attempts.append(asyncio.get_running_loop().time())
        failure = failures.pop(0)
        if failure is not None:
            raise failure

    logger = logging.getLogger("tests.until_done")
    with caplog.at_level(logging.WARNING, logger.name):
        await until_done(action, "store not ready", logger, first_delay=0.1, max_delay=0.2)
    assert len(attempts) == 4
    waits = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert waits[0] >= 0.1
    assert min(waits[1:]) >= 0.2
    # Doubled, then capped; logged by type only.
    assert [r.getMessage() for r in caplog.records] == [
        "store not ready (ConnectionError); retrying in 0.1s",
        "store not ready (TimeoutError); retrying in 0.2s",
        "store not ready (OSError); retrying in 0.2s",
    ]
