"""The local engine: stream parts through tokenization and onnxruntime, publish each part.

A reader thread reads, validates and tokenizes window after window (tokenizers and onnxruntime
both release the GIL) a few windows ahead of the main thread, which runs inference, so
tokenization and I/O overlap with the model on a second core. Within a part, valid rows are
scored in windows of ``window`` rows; ``Predictor.predict_seqs`` sorts each window by token length
into micro-batches and restores the input order. Part and window boundaries depend only on the
input and the options, so every run (a resumed one, or the Ray engine) forms the same batches.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scoring.rows import Row
from scoring.writers import OutputFormat, write_rejected

_DONE = object()


@dataclass
class Part:
    """One part: every input record in it, and the probabilities of its valid ones."""

    rows: list[Row]
    valid: list[Row] = field(default_factory=list)
    probs: np.ndarray | None = None


def iter_parts(rows: Iterable[Row], part_rows: int, skip: int) -> Iterator[Part]:
    """Cut records into parts of ``part_rows``, after skipping ``skip`` already-done records."""
    it = iter(rows)
    for _ in itertools.islice(it, skip):
        pass
    while chunk := list(itertools.islice(it, part_rows)):
        yield Part(chunk, [r for r in chunk if r.reason is None])


def windows(n: int, size: int) -> list[tuple[int, int]]:
    """[start, stop) bounds of consecutive windows covering ``n`` rows."""
    return [(s, min(n, s + size)) for s in range(0, n, size)]


def prefetch(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Run ``items`` in a background thread, ``depth`` items ahead; re-raise its errors here."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    thread = threading.Thread(target=produce, name="scoring-reader", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def publish_part(ctx: Any, part: Part, results: list[dict]) -> None:
    """Write one part's scored and rejected rows through the work directory."""
    scored = [(r.rid, res) for r, res in zip(part.valid, results, strict=True)]
    rejected = [r for r in part.rows if r.reason is not None]
    fmt: OutputFormat = ctx.out_format
    ctx.workdir.publish(len(part.rows), len(scored), lambda fh: fmt.write_part(scored, fh),
                        lambda fh: write_rejected(rejected, fh), ctx.part_suffix)
    ctx.progress.update(len(part.rows), ctx.reader.bytes_read())


@dataclass
class Window:
    """A tokenized window of one part; ``last`` marks the part's final window."""

    part: Part
    start: int
    seqs: list[list[int]]
    last: bool


def tokenized_windows(parts: Iterable[Part], encode: Callable, window: int,
                      classes: int) -> Iterator[Window]:
    """Tokenize part by part, window by window (fine-grained, so inference starts early)."""
    for part in parts:
        part.probs = np.empty((len(part.valid), classes), dtype=np.float32)
        spans = windows(len(part.valid), window) or [(0, 0)]
        for i, (start, stop) in enumerate(spans):
            seqs = encode([r.text for r in part.valid[start:stop]]) if stop > start else []
            yield Window(part, start, seqs, i == len(spans) - 1)


def run_local(ctx: Any) -> None:
    """Score every remaining part of ``ctx.reader`` with one Predictor in this process.

    Three threads: the reader tokenizes ahead, this thread only runs inference, and a writer
    thread turns finished parts into results and publishes them (in order: one worker, FIFO).
    """
    predictor, opts = ctx.predictor, ctx.options
    parts = iter_parts(ctx.reader.rows(), opts.part_rows, ctx.skip_rows)
    work = tokenized_windows(parts, predictor.encode, opts.window, len(predictor.labels))
    pending: deque[Future] = deque()

    def write(part: Part) -> None:
        publish_part(ctx, part, predictor.to_results(part.probs))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring-writer") as writer:
        for win in prefetch(work, depth=4):
            if win.seqs:
                probs = predictor.predict_seqs(win.seqs, opts.batch_size)
                win.part.probs[win.start:win.start + len(probs)] = probs
            if win.last:
                pending.append(writer.submit(write, win.part))
            while pending and (pending[0].done() or len(pending) > 2):
                pending.popleft().result()  # re-raise a failed write here, at once
        while pending:
            pending.popleft().result()
