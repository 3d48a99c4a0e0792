"""The local engine: stream parts through tokenization and onnxruntime, publish each part.

A reader thread reads, validates and tokenizes the next part (tokenizers and onnxruntime both
release the GIL) while the main thread runs inference on the current one, so tokenization and
I/O overlap with the model. Within a part, valid rows are scored in windows of ``window`` rows;
``Predictor.predict_seqs`` sorts each window by token length into micro-batches and restores the
input order. Part and window boundaries depend only on the input and the options, so every run
(and every resumed run, and the Ray engine) forms exactly the same batches.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
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
    seqs: list[list[int]] = field(default_factory=list)
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


def run_local(ctx: Any) -> None:
    """Score every remaining part of ``ctx.reader`` with one Predictor in this process."""
    predictor, opts = ctx.predictor, ctx.options

    def tokenized() -> Iterator[Part]:
        for part in iter_parts(ctx.reader.rows(), opts.part_rows, ctx.skip_rows):
            part.seqs = predictor.encode([r.text for r in part.valid])
            yield part

    for part in prefetch(tokenized()):
        probs = score_windows(predictor.predict_seqs, part.seqs, opts.window, opts.batch_size,
                              len(predictor.labels))
        publish_part(ctx, part, predictor.to_results(probs))


def score_windows(predict_seqs: Callable[..., np.ndarray], seqs: list[list[int]], window: int,
                  batch_size: int, classes: int) -> np.ndarray:
    """Probabilities for ``seqs``, window by window (each sorted into micro-batches)."""
    probs = np.empty((len(seqs), classes), dtype=np.float32)
    for start, stop in windows(len(seqs), window):
        probs[start:stop] = predict_seqs(seqs[start:stop], batch_size)
    return probs
