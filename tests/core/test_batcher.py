"""service.batcher: batching, admission control, timeouts and dropped work, without a server.

The scoring function is a real function that records its calls and can be held on an event,
so the tests decide exactly when a batch is "running".
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from core.batcher import Batcher, BatcherConfig
from core.errors import ErrorKind, SentimentError


class Scorer:
    """Scores text -> {"text": text}; records every call; blocks while ``gate`` is clear."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.delay_s = delay_s

    def __call__(self, texts: list[str]) -> list[dict]:
        self.calls.append(list(texts))
        self.gate.wait(10)
        time.sleep(self.delay_s)
        return [{"text": t} for t in texts]

    @property
    def scored(self) -> int:
        return sum(len(c) for c in self.calls)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_idle_request_runs_at_once_alone():
    scorer = Scorer()
    batcher = Batcher(scorer, BatcherConfig(inline_max_texts=2))  # scored on the loop itself

    async def go():
        task = asyncio.create_task(batcher.submit(["a", "b"]))
        for _ in range(20):  # a few loop turns, never a timer: the batch starts at once
            await asyncio.sleep(0)
            if task.done():
                break
        return task.done(), await task

    started_at_once, out = run(go())
    assert started_at_once and out == [{"text": "a"}, {"text": "b"}]
    assert scorer.calls == [["a", "b"]]
    assert batcher.in_flight == 0


def test_requests_queued_while_busy_share_one_batch_in_order():
    scorer = Scorer()
    batcher = Batcher(scorer, BatcherConfig(max_batch_texts=8))

    async def go():
        scorer.gate.clear()
        first = asyncio.create_task(batcher.submit(["first"]))
        await asyncio.sleep(0.05)  # "first" is running and blocked
        rest = [asyncio.create_task(batcher.submit([f"r{i}a", f"r{i}b"])) for i in range(5)]
        await asyncio.sleep(0.05)
        scorer.gate.set()
        return await first, await asyncio.gather(*rest)

    first, rest = run(go())
    assert first == [{"text": "first"}]
    assert rest == [[{"text": f"r{i}a"}, {"text": f"r{i}b"}] for i in range(5)]
    # 10 queued texts, batches of at most 8 whole requests: 8 then 2
    assert scorer.calls[1:] == [["r0a", "r0b", "r1a", "r1b", "r2a", "r2b", "r3a", "r3b"],
                                ["r4a", "r4b"]]


def test_cap_gives_429_and_timed_out_running_work_keeps_its_slot():
    scorer = Scorer()
    batcher = Batcher(scorer, BatcherConfig(timeout_s=0.2, max_in_flight=2))

    async def go():
        scorer.gate.clear()
        slow = [asyncio.create_task(batcher.submit(["s0"]))]
        await asyncio.sleep(0.05)  # s0 is running (blocked); s1 queues behind it
        slow.append(asyncio.create_task(batcher.submit(["s1"])))
        await asyncio.sleep(0.01)
        with pytest.raises(SentimentError) as full:
            await batcher.submit(["extra"])
        results = await asyncio.gather(*slow, return_exceptions=True)
        # both timed out: s0 is still running, s1 was queued and is dropped
        assert batcher.in_flight == 1
        with pytest.raises(SentimentError):  # s0's slot is held until its work ends
            await asyncio.gather(*(batcher.submit(["more"]) for _ in range(2)))
        scorer.gate.set()
        await asyncio.sleep(0.1)
        after = await batcher.submit(["after"])
        return full.value, results, after

    full, results, after = run(go())
    assert full.kind is ErrorKind.TOO_BUSY
    assert [r.kind for r in results] == [ErrorKind.TIMED_OUT] * 2
    assert after == [{"text": "after"}]
    scored = [t for call in scorer.calls for t in call]
    assert "s1" not in scored and "extra" not in scored  # dropped and refused work never ran
    assert batcher.in_flight == 0


def test_oversized_request_is_chunked_and_stops_after_timeout():
    scorer = Scorer(delay_s=0.05)
    batcher = Batcher(scorer, BatcherConfig(max_batch_texts=10, timeout_s=0.12))

    async def go():
        with pytest.raises(SentimentError) as late:
            await batcher.submit([str(i) for i in range(200)])
        await asyncio.sleep(0.3)
        return late.value

    late = run(go())
    assert late.kind is ErrorKind.TIMED_OUT
    assert all(len(c) <= 10 for c in scorer.calls)
    assert scorer.scored < 100  # stopped early: 20 chunks would take 1 s
    assert batcher.in_flight == 0


def test_sheds_with_503_while_the_queue_is_not_draining():
    scorer = Scorer()
    batcher = Batcher(scorer, BatcherConfig(max_wait_s=0.05))

    async def go():
        scorer.gate.clear()
        running = asyncio.create_task(batcher.submit(["running"]))
        await asyncio.sleep(0.02)
        queued = asyncio.create_task(batcher.submit(["queued"]))
        await asyncio.sleep(0.1)  # "queued" has now waited > max_wait_s
        with pytest.raises(SentimentError) as shed:
            await batcher.submit(["shed"])
        answered_while_blocked = not running.done()  # refused at once, not after the queue
        scorer.gate.set()
        return shed.value, answered_while_blocked, await running, await queued

    shed, answered_while_blocked, running, queued = run(go())
    assert shed.kind is ErrorKind.OVERLOADED and shed.retry_after == 1
    assert answered_while_blocked
    assert (running, queued) == ([{"text": "running"}], [{"text": "queued"}])


def test_scoring_error_reaches_every_request_of_the_batch():
    def broken(texts: list[str]) -> list[dict]:
        raise RuntimeError("boom")

    batcher = Batcher(broken, BatcherConfig())

    async def go():
        return await asyncio.gather(batcher.submit(["a"]), batcher.submit(["b"]),
                                    return_exceptions=True)

    results = run(go())
    assert all(isinstance(r, SentimentError) and r.kind is ErrorKind.INTERNAL for r in results)
    assert batcher.in_flight == 0


def test_a_request_that_cannot_be_scored_fails_alone():
    scorer = Scorer()

    def picky(texts: list[str]) -> list[dict]:
        if "bad" in texts:
            raise ValueError("cannot score 'bad'")
        return scorer(texts)

    batcher = Batcher(picky, BatcherConfig())

    async def go():
        scorer.gate.clear()  # hold the first batch so the next three queue into one batch
        first = asyncio.create_task(batcher.submit(["first"]))
        await asyncio.sleep(0.02)
        rest = [asyncio.create_task(batcher.submit(t)) for t in (["a"], ["bad"], ["b", "c"])]
        await asyncio.sleep(0.02)
        scorer.gate.set()
        return await first, await asyncio.gather(*rest, return_exceptions=True)

    first, (a, bad, bc) = run(go())
    assert first == [{"text": "first"}]
    assert a == [{"text": "a"}] and bc == [{"text": "b"}, {"text": "c"}]
    assert isinstance(bad, SentimentError) and bad.kind is ErrorKind.INTERNAL
    assert batcher.in_flight == 0


def test_failing_metrics_hooks_do_not_break_serving():
    def broken(*args):
        raise RuntimeError("metrics down")

    batcher = Batcher(Scorer(), BatcherConfig(), on_batch=broken, on_load=broken)

    async def go():
        return await asyncio.gather(*(batcher.submit([f"t{i}"]) for i in range(5)))

    assert run(go()) == [[{"text": f"t{i}"}] for i in range(5)]
    assert batcher.in_flight == 0


@pytest.mark.parametrize("inline", [0, 2])
def test_small_batches_run_on_the_event_loop_large_ones_on_the_thread(inline: int):
    threads: list[tuple[int, int]] = []

    def score(texts: list[str]) -> list[dict]:
        threads.append((len(texts), threading.get_ident()))
        return [{"text": t} for t in texts]

    batcher = Batcher(score, BatcherConfig(inline_max_texts=inline))

    async def go():
        loop_thread = threading.get_ident()
        assert await batcher.submit(["a", "b"]) == [{"text": "a"}, {"text": "b"}]
        assert await batcher.submit(["c", "d", "e"]) == [{"text": t} for t in "cde"]
        broken = Batcher(lambda texts: [1 / 0], BatcherConfig(inline_max_texts=1))
        with pytest.raises(SentimentError):  # an inline failure still reaches its request
            await broken.submit(["x"])
        assert broken.in_flight == 0
        return loop_thread

    loop_thread = run(go())
    assert [n for n, _ in threads] == [2, 3]
    assert (threads[0][1] == loop_thread) == (inline >= 2)
    assert threads[1][1] != loop_thread
    assert batcher.in_flight == 0


def test_inference_thread_is_niced_and_the_caller_is_not():
    import os

    def my_nice(texts: list[str]) -> list[dict]:
        tid = threading.get_native_id()
        return [{"nice": os.getpriority(os.PRIO_PROCESS, tid)} for _ in texts]

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    batcher = Batcher(my_nice, BatcherConfig(inference_nice=2, inline_max_texts=1))
    inline, threaded = asyncio.run(_both(batcher, ["a"], ["a", "b"]))
    assert inline[0]["nice"] == base  # scored on the loop: untouched
    assert threaded[0]["nice"] == min(base + 2, 19)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base


async def _both(batcher: Batcher, first: list[str], second: list[str]):
    return await batcher.submit(first), await batcher.submit(second)


def test_costly_requests_count_their_units():
    """A request submitted with units (an explanation) fills a batch and the backlog estimate by
    its cost, not by its number of items."""
    scorer = Scorer()
    batcher = Batcher(scorer, BatcherConfig(max_batch_texts=8, max_wait_s=0.05,
                                            cost_per_text_s=0.001))

    async def go():
        scorer.gate.clear()
        first = asyncio.create_task(batcher.submit(["first"]))
        await asyncio.sleep(0.05)  # "first" is running and blocked
        costly = asyncio.create_task(batcher.submit(["explain-me"], units=6))
        plain = [asyncio.create_task(batcher.submit([f"p{i}"])) for i in range(3)]
        await asyncio.sleep(0.01)
        backlog = batcher.backlog_s()  # 9 units x 1 ms: under the 50 ms budget, admitted
        big = asyncio.create_task(batcher.submit(["big"], units=60))
        await asyncio.sleep(0.01)
        with pytest.raises(SentimentError) as shed:  # 69 ms of queued work: shed
            await batcher.submit(["one more"])
        scorer.gate.set()
        await first, await costly, await asyncio.gather(*plain), await big
        return backlog, shed.value

    backlog, shed = run(go())
    assert backlog == pytest.approx(0.009)
    assert shed.kind is ErrorKind.OVERLOADED
    # 6 + 1 + 1 units fill the batch of 8; the third plain request waits for the next one, and
    # the 60-unit request goes alone
    assert scorer.calls[1:] == [["explain-me", "p0", "p1"], ["p2"], ["big"]]
    assert batcher.queued_texts == 0 and batcher.in_flight == 0
