"""In-process adaptive batcher with admission control, in front of one onnxruntime session.

Unlike BentoML's dispatcher (docs/decisions: the batching sweep) it never waits on purpose:
when the model is free the next batch starts at once with every request that queued meanwhile
(up to ``max_batch_texts``). Admission happens here too:

- a request is *in flight* from admission until its work has finished or been dropped, so the
  work running or queued never exceeds ``max_in_flight`` requests (429 beyond), even after
  timeouts;
- a new request is shed with 503 at once while the oldest queued one has waited longer than
  ``max_wait_s`` (measured), or when the texts queued ahead of it would take longer than that
  (estimated from the measured cost per text of recent full batches);
- a request still unanswered after ``timeout_s`` gets 504; if its work has not started it is
  dropped from the queue, and a large request being scored stops at the next chunk.

Batches run on one onnxruntime thread, niced by INFERENCE_NICE so that the event loop wins
the CPU when the cores are oversubscribed, and keeps reading requests meanwhile; except batches
of at most INLINE_MAX_TEXTS texts, which are scored on the loop itself: for a one-text batch
(~0.3 ms of work) the hop to the thread and back costs more CPU than it frees. The two threads
overlap only with a short GIL switch interval (GIL_SWITCH_INTERVAL_S, set by the process that
owns the batcher).

If scoring a batch raises, each request in it is scored alone, so one request that cannot be
scored fails only itself (an INTERNAL error) and never the others it was batched with.
Every refusal is a :class:`core.errors.SentimentError` (TOO_BUSY, OVERLOADED, TIMED_OUT,
INTERNAL); the caller maps it to its transport.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from core.errors import ErrorKind, SentimentError

log = logging.getLogger("bentoml.sentiment")
EMA_WEIGHT = 0.2  # weight of the newest full batch in the cost-per-text estimate
# Batches of at most this many texts are scored on the event loop (no thread hop): measured in
# the settings sweep (docs/decisions), 8 gave the most 1-text capacity of 0, 1, 8 and 32.
INLINE_MAX_TEXTS = 8
# Niceness added to the inference thread: under CPU contention the event loop (admission,
# 429/503, health checks) runs first; overload /livez p99 26-35 vs 33-73 ms without it, no
# capacity loss measured (docs/decisions).
INFERENCE_NICE = 2
# The owning process's sys.setswitchinterval while the inference thread runs beside a busy event
# loop. onnxruntime and the tokenizer release the GIL, but each time the thread wants it back
# it waits for the loop to drop it, by default after 5 ms: a GIL convoy that serializes the two
# threads. Measured here (32-text predict in a loop beside a pure-Python loop): 67 batches/s at
# the 5 ms default, 343 at 0.5 ms, 541 at 0.1 ms, 641 alone; the Python loop kept 92% of its
# own speed at 0.1 ms.
GIL_SWITCH_INTERVAL_S = 0.0001


@dataclass(frozen=True)
class BatcherConfig:
    """Limits of one worker's batcher (the service fills them from its settings)."""

    max_batch_texts: int = 32
    max_wait_s: float = 0.1
    timeout_s: float = 30.0
    max_in_flight: int | None = None
    cost_per_text_s: float = 0.0005  # seed of the estimate (the service measures it at warm-up)
    inline_max_texts: int = 0  # batches this small are scored on the event loop (serving: 8)
    inference_nice: int = 0  # niceness added to the inference thread (serving: 2)


@dataclass(eq=False)
class Job:
    """One request's texts and the future its handler awaits."""

    texts: list[Any]  # texts, or other items the score function knows (e.g. ExplainItem)
    future: asyncio.Future[list[dict[str, Any]]]
    units: int = 1  # its cost in plain texts (admission, batch filling); set by submit
    queued_at: float = field(default_factory=time.perf_counter)
    deadline: float = float("inf")
    state: str = "queued"  # queued -> running -> done, or queued -> dropped
    abandoned: bool = False  # its client got a 504 (or went away): stop at the next chunk


def lower_thread_priority(increment: int) -> None:
    """Add ``increment`` to the calling thread's niceness (Linux: per thread), so that under CPU
    contention the event loop, which admits, sheds and answers health checks, runs first."""
    if increment <= 0:
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + increment)
    except (OSError, AttributeError) as exc:  # not Linux, or not allowed: keep the default
        log.warning("could not lower the inference thread's priority: %s", exc)


def _call_hook(hook: Callable[..., object] | None, *args: object) -> None:
    """Run a metrics hook; a failing one is logged, never allowed to break serving."""
    if hook is None:
        return
    try:
        hook(*args)
    except Exception:  # noqa: BLE001
        log.exception("batcher metrics hook %r failed", hook)


def internal_error() -> SentimentError:
    """What a request whose scoring raised gets (the traceback goes to the server log)."""
    return SentimentError(ErrorKind.INTERNAL, "internal error while scoring; see the server log")


class Batcher:
    """Batches concurrent requests' texts into ``score`` calls run on one worker thread."""

    def __init__(self, score: Callable[[list[Any]], list[dict[str, Any]]], config: BatcherConfig,
                 on_batch: Callable[[int, float], None] | None = None,
                 on_load: Callable[[int, int], None] | None = None) -> None:
        """Hooks for metrics: ``on_batch(requests, seconds the oldest waited)`` as each batch
        starts, ``on_load(requests in flight, texts queued)`` after every change of either."""
        self.score, self.config = score, config
        self.on_batch, self.on_load = on_batch, on_load
        self.cost_per_text_s = config.cost_per_text_s
        self.queue: deque[Job] = deque()
        self.queued_texts = 0
        self.in_flight = 0
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ort",
                                           initializer=lower_thread_priority,
                                           initargs=(config.inference_nice,))
        self.waiting: deque[Job] = deque()  # clients still waiting, in deadline order
        self._wakeup, self._watch_wakeup = asyncio.Event(), asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def submit(self, texts: list[Any], units: int | None = None) -> list[dict[str, Any]]:
        """Score ``texts`` in some batch; raises SentimentError (TOO_BUSY, OVERLOADED, TIMED_OUT,
        INTERNAL) instead of waiting long. ``units``: what the request costs in plain texts, when
        its items cost more than one each (an explanation: core.explain); default len(texts)."""
        self._admit()
        job = Job(texts, asyncio.get_running_loop().create_future(),
                  units=len(texts) if units is None else max(1, units))
        job.deadline = job.queued_at + self.config.timeout_s
        self.queue.append(job)
        self.queued_texts += job.units
        self.in_flight += 1
        while self.waiting and self.waiting[0].future.done():
            self.waiting.popleft()  # answered: keep the deque short without a search
        self.waiting.append(job)
        self._report()
        self._start()
        try:
            return await job.future  # 504 comes from _watch: no timer per request (see there)
        except asyncio.CancelledError:
            self._abandon(job)
            raise

    def queue_wait_s(self) -> float:
        """How long the oldest queued request has waited so far (0 with an empty queue)."""
        return time.perf_counter() - self.queue[0].queued_at if self.queue else 0.0

    def backlog_s(self) -> float:
        """Estimated seconds to score the queued texts, at the cost of recent full batches."""
        return self.queued_texts * self.cost_per_text_s

    def _admit(self) -> None:
        cap = self.config.max_in_flight
        if cap is not None and self.in_flight >= cap:
            raise SentimentError(ErrorKind.TOO_BUSY, f"too many requests in flight (limit {cap} "
                                 "per worker, SENTIMENT_MAX_CONCURRENCY); retry later",
                                 retry_after=1)
        if max(self.queue_wait_s(), self.backlog_s()) > self.config.max_wait_s:
            raise SentimentError(ErrorKind.OVERLOADED, "server overloaded: the queueing wait "
                                 f"passes {self.config.max_wait_s * 1000:g} ms "
                                 "(SENTIMENT_MAX_LATENCY_MS); retry later", retry_after=1)

    def _abandon(self, job: Job) -> None:
        """The client stopped waiting: drop queued work now, stop running work at a chunk."""
        job.abandoned = True
        if job.state == "queued":
            self.queue.remove(job)
            self.queued_texts -= job.units
            job.state = "dropped"
            self.in_flight -= 1
            self._report()

    def _start(self) -> None:
        """Start the batch and watchdog tasks once; wake both."""
        if not self._tasks or any(t.done() for t in self._tasks):
            for task in self._tasks:  # one died (a bug): never leave a second runner behind
                if task.done() and not task.cancelled() and task.exception() is not None:
                    log.error("batcher task %s died: %r; restarting", task.get_name(),
                              task.exception())
                task.cancel()
            self._wakeup, self._watch_wakeup = asyncio.Event(), asyncio.Event()
            loop, ctx = asyncio.get_running_loop(), contextvars.Context()  # not the request's
            self._tasks = [loop.create_task(self._run(), name="batcher", context=ctx),
                           loop.create_task(self._watch(), name="batcher-timeouts", context=ctx)]
        self._wakeup.set()
        self._watch_wakeup.set()

    async def _watch(self) -> None:
        """Answer 504 to every client still waiting at its deadline.

        One sleeping task instead of a timer per request: an asyncio timer keeps the context it
        was created in (with BentoML's request in it) until it fires or leaves the heap, and at
        hundreds of requests/s tens of thousands of finished requests then sat in the oldest GC
        generation, making full collections stall the worker for 100+ ms.
        """
        while True:
            while self.waiting and self.waiting[0].future.done():
                self.waiting.popleft()
            if not self.waiting:
                self._watch_wakeup.clear()
                await self._watch_wakeup.wait()
                continue
            delay = self.waiting[0].deadline - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            job = self.waiting.popleft()
            job.future.set_exception(SentimentError(
                ErrorKind.TIMED_OUT, f"request not answered within the {self.config.timeout_s:g} "
                "s timeout (SENTIMENT_TIMEOUT_S)"))
            self._abandon(job)

    def _take(self) -> tuple[list[Job], int]:
        """Queued jobs for the next batch (at least one, then while they fit max_batch_texts)
        and their number of units (texts)."""
        batch: list[Job] = []
        total = 0
        while self.queue and (not batch or
                              total + self.queue[0].units <= self.config.max_batch_texts):
            job = self.queue.popleft()
            job.state = "running"
            total += job.units
            batch.append(job)
        self.queued_texts -= total
        _call_hook(self.on_batch, len(batch), time.perf_counter() - batch[0].queued_at)
        self._report()
        return batch, total

    def _report(self) -> None:
        _call_hook(self.on_load, self.in_flight, self.queued_texts)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch, texts = self._take()
            start = time.perf_counter()
            try:
                if texts <= self.config.inline_max_texts:
                    results = self._score_jobs(batch)  # small: no thread hop (see the docstring)
                else:
                    results = await loop.run_in_executor(self.executor, self._score_jobs, batch)
            except Exception:  # noqa: BLE001 - every waiting request must get an answer
                log.exception("scoring a batch of %d requests failed", len(batch))
                results = [internal_error() for _ in batch]
            self._finish(batch, texts, results, time.perf_counter() - start)

    def _score_jobs(self, batch: list[Job]) -> list[Any]:
        """Worker thread: one score call for a batch (each job alone if that fails); a lone
        oversized job goes in chunks, stopping early once its client has given up."""
        if len(batch) > 1 or len(batch[0].texts) <= self.config.max_batch_texts:
            try:
                results = self.score([t for job in batch for t in job.texts])
            except Exception:  # noqa: BLE001 - isolate: score each request alone
                if len(batch) == 1:
                    raise
                log.exception("scoring a batch of %d requests failed; scoring them one by one",
                              len(batch))
                return [self._score_alone(job) for job in batch]
            out, k = [], 0
            for job in batch:
                out.append(results[k:k + len(job.texts)])
                k += len(job.texts)
            return out
        job, size, results = batch[0], self.config.max_batch_texts, []
        for k in range(0, len(job.texts), size):
            if job.abandoned:
                return [None]
            results.extend(self.score(job.texts[k:k + size]))
        return [results]

    def _score_alone(self, job: Job) -> list[dict[str, Any]] | SentimentError:
        try:
            return self.score(job.texts)
        except Exception:  # noqa: BLE001 - this request fails, the others in its batch do not
            log.exception("scoring a request of %d texts failed", len(job.texts))
            return internal_error()

    def _finish(self, batch: list[Job], texts: int, results: list[Any], seconds: float) -> None:
        """Answer the batch's requests, free their slots, learn the cost of a full batch."""
        if texts >= self.config.max_batch_texts // 2 and all(isinstance(r, list) for r in results):
            self.cost_per_text_s += EMA_WEIGHT * (seconds / texts - self.cost_per_text_s)
        for job, result in zip(batch, results, strict=True):
            job.state = "done"
            self.in_flight -= 1
            if job.abandoned or job.future.done():
                continue  # nobody is waiting for it
            if isinstance(result, BaseException):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)
        self._report()
