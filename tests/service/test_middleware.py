"""service.middleware: reading and draining request bodies (pure ASGI, no server)."""

from __future__ import annotations

import asyncio

import pytest

from service.middleware import DRAIN_IDLE_S, drain, read_body
from service.schema import RequestError


def receiver(chunks: list[bytes], stall_after: int | None = None):
    """An ASGI receive yielding ``chunks`` (more_body until the last); it stalls (never returns)
    after ``stall_after`` chunks. Records how many chunks were taken."""
    taken = [0]

    async def receive() -> dict:
        if stall_after is not None and taken[0] >= stall_after:
            await asyncio.sleep(3600)
        i = taken[0]
        taken[0] += 1
        return {"type": "http.request", "body": chunks[i], "more_body": i < len(chunks) - 1}

    return receive, taken


def test_oversized_streamed_body_is_drained_before_the_413():
    receive, taken = receiver([b"x" * 1000] * 50)
    with pytest.raises(RequestError) as exc:
        asyncio.run(read_body({"headers": []}, receive, limit=4000))
    assert exc.value.status == 413
    assert taken[0] == 50  # the whole body was read, so closing sends no reset


def test_drain_is_bounded_by_budget_and_by_a_stalled_client():
    receive, taken = receiver([b"x" * 1000] * 50)
    asyncio.run(drain(receive, budget=10_000))
    assert taken[0] == 10

    receive, taken = receiver([b"x" * 1000] * 50, stall_after=3)

    async def timed() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await drain(receive, budget=10**9)
        return loop.time() - start

    seconds = asyncio.run(timed())
    assert taken[0] == 3 and DRAIN_IDLE_S <= seconds < DRAIN_IDLE_S + 0.5


def test_declared_oversize_body_never_sent_is_answered_after_the_idle_gap():
    receive, taken = receiver([b"x"], stall_after=0)
    headers = [(b"content-length", b"5000")]
    with pytest.raises(RequestError) as exc:
        asyncio.run(read_body({"headers": headers}, receive, limit=4000))
    assert exc.value.status == 413 and taken[0] == 0
