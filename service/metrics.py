"""Service-specific Prometheus metrics, exported next to BentoML's own on ``/metrics``.

Created lazily (first use in a worker) through ``bentoml.metrics`` so they work in BentoML's
multi-process Prometheus mode; nothing is registered at import time.
"""

from __future__ import annotations

import functools
import gc
import time
from collections import Counter, deque
from typing import Any

LENGTH_BUCKETS = (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
SECONDS_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


@functools.cache
def _metrics() -> dict[str, Any]:
    import bentoml

    return {
        "predictions": bentoml.metrics.Counter(
            name="sentiment_predictions_total",
            documentation="texts scored, by predicted label", labelnames=["label"]),
        "length": bentoml.metrics.Histogram(
            name="sentiment_text_length_chars",
            documentation="characters per scored text", buckets=LENGTH_BUCKETS),
        "inference": bentoml.metrics.Histogram(
            name="sentiment_inference_seconds",
            documentation="seconds per onnxruntime batch (tokenize + run)",
            buckets=SECONDS_BUCKETS),
        "gc": bentoml.metrics.Histogram(
            name="sentiment_gc_pause_seconds", documentation="garbage-collection pauses of "
            "the worker, by generation (stalls every in-flight request)",
            labelnames=["generation"], buckets=SECONDS_BUCKETS),
        "rejected": bentoml.metrics.Counter(
            name="sentiment_rejected_total", documentation="/predict requests the batcher "
            "refused or gave up on, by status (429 cap, 503 shed, 504 timeout)",
            labelnames=["status"]),
        "requests": bentoml.metrics.Histogram(
            name="sentiment_batch_requests", documentation="requests per batch formed by the "
            "in-process batcher", buckets=(1, 2, 4, 8, 16, 32, 64, 128)),
        "queue": bentoml.metrics.Histogram(
            name="sentiment_queue_wait_seconds", documentation="seconds the oldest request of "
            "a batch waited in the batcher's queue", buckets=SECONDS_BUCKETS),
        "in_flight": bentoml.metrics.Gauge(
            name="sentiment_in_flight_requests", documentation="requests admitted whose work "
            "has not ended (queued or being scored; timed-out ones count until it stops)",
            multiprocess_mode="livesum"),
        "queued": bentoml.metrics.Gauge(
            name="sentiment_queued_texts", documentation="texts waiting in the batcher's queue",
            multiprocess_mode="livesum"),
        "batch": bentoml.metrics.Histogram(
            name="sentiment_batch_texts",
            documentation="rows (texts, or explanation rows) per onnxruntime batch",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512)),
    }


def record_batch(rows: int, seconds: float) -> None:
    """Record one onnxruntime batch: its rows (texts, or explanation rows) and its time."""
    m = _metrics()
    m["inference"].observe(seconds)
    m["batch"].observe(rows)
    flush_gc_pauses()


def record_texts(texts: list[str], labels: list[str]) -> None:
    """Record scored texts: per-label counts and text lengths."""
    m = _metrics()
    for label, n in Counter(labels).items():
        m["predictions"].labels(label=label).inc(n)
    for text in texts:
        m["length"].observe(len(text))


def record_batch_start(requests: int, waited_s: float) -> None:
    """Record a batch the in-process batcher formed: its requests and the oldest one's wait."""
    m = _metrics()
    m["requests"].observe(requests)
    m["queue"].observe(waited_s)


_LOAD_SET: dict[str, int] = {}  # the gauge values this worker last wrote


def record_load(in_flight: int, queued_texts: int) -> None:
    """Set this worker's in-flight requests and queued texts (summed over live workers); a
    gauge write (a multiprocess mmap write, ~3 µs) is skipped when its value has not changed."""
    m = _metrics()
    for key, value in (("in_flight", in_flight), ("queued", queued_texts)):
        if _LOAD_SET.get(key) != value:
            m[key].set(value)
            _LOAD_SET[key] = value


def record_rejection(status: int) -> None:
    """Count one request answered 429, 503 or 504 by the batcher."""
    _metrics()["rejected"].labels(status=str(status)).inc()


_GC_PAUSES: deque[tuple[int, float]] = deque(maxlen=10_000)


def install_gc_metrics() -> None:
    """Time every garbage collection of this process (see flush_gc_pauses).

    The callback only appends to a deque: calling prometheus_client from inside a collection
    could deadlock on its global multiprocess lock, if the collection started while that lock
    was held by the same thread.
    """
    started = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            _GC_PAUSES.append((info["generation"], time.perf_counter() - started[0]))

    gc.callbacks.append(on_gc)


def flush_gc_pauses() -> None:
    """Move the recorded GC pauses into ``sentiment_gc_pause_seconds``."""
    hist = _metrics()["gc"]
    while _GC_PAUSES:
        generation, seconds = _GC_PAUSES.popleft()
        hist.labels(generation=str(generation)).observe(seconds)
