"""run_until_suspended: inline when nothing waits, a faithful continuation otherwise."""

from __future__ import annotations

import asyncio

import pytest

from hub.server.eager import run_until_suspended


async def test_a_coroutine_that_never_waits_runs_inline() -> None:
    done: list[int] = []

    async def quick() -> None:
        event = asyncio.Event()
        event.set()
        await event.wait()  # set: returns without suspending
        done.append(1)

    assert run_until_suspended(quick()) is None
    assert done == [1]


async def test_a_suspended_coroutine_is_finished_by_its_continuation() -> None:
    event = asyncio.Event()
    steps: list[str] = []

    async def slow() -> str:
        steps.append("before")
        await event.wait()
        await asyncio.sleep(0)
        steps.append("after")
        return "result"

    rest = run_until_suspended(slow())
    assert rest is not None and steps == ["before"]
    task = asyncio.create_task(rest)
    await asyncio.sleep(0.01)
    assert not task.done()
    event.set()
    assert await task == "result"
    assert steps == ["before", "after"]


async def test_exceptions_reach_the_caller_before_and_after_suspending() -> None:
    async def fails_now() -> None:
        raise OSError("gone")

    with pytest.raises(OSError):
        run_until_suspended(fails_now())

    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def fails_later() -> None:
        await future

    rest = run_until_suspended(fails_later())
    assert rest is not None
    future.set_exception(ConnectionResetError())
    with pytest.raises(ConnectionResetError):
        await rest


async def test_cancelling_the_continuation_cancels_what_it_awaits() -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def waits() -> None:
        await future

    rest = run_until_suspended(waits())
    assert rest is not None
    task = asyncio.create_task(rest)
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert future.cancelled()
