"""The local engine: stream parts through tokenization and onnxruntime, publish each part.

Three threads. A reader thread reads, validates, tokenizes and pads window after window (a few
windows ahead), so the main thread does nothing but ``session.run`` on ready-made batches; a
writer thread formats finished parts and publishes them. onnxruntime, the bundle's tokenizer
(tokenizer.json, run single-threaded: see ``run_local``) and file I/O release the GIL, so the
model keeps one core while tokenizing runs on the other; the reader's Python work (parsing,
padding) holds the GIL in short slices. Within a part,
valid rows are scored in windows of ``window`` rows, each cut into the micro-batches of
``Predictor.predict_seqs`` (sorted by token length, padded to the longest, input order restored).
Part and window boundaries depend only on the input and the options, so every run (a resumed one,
or the Ray engine) forms the same batches and writes the same bytes.
"""

from __future__ import annotations

import itertools
import os
import queue
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.runtime import Batch, length_batches
from core.textenc import TextEncoder
from scoring.explaining import explain_items, explain_window
from scoring.rows import Row
from scoring.writers import OutputFormat, write_rejected

_DONE = object()
SWITCH_INTERVAL_S = 0.0001  # see run_local
# Each part's windows ramp up: the first is at most this many rows, each next one twice the last,
# up to the window size. Inference then starts once a few hundred rows are read and tokenized
# instead of a whole window (~0.15 s of a 12.8k-row job's ~1.8 s), and the reader, tokenizing a
# window while the model scores the ones before, never falls behind on the way up.
FIRST_WINDOW = 256
PARALLELISM_ENV = "TOKENIZERS_PARALLELISM"


@dataclass
class Part:
    """One part: every input record in it, and the probabilities of its valid ones."""

    rows: list[Row]
    valid: list[Row] = field(default_factory=list)
    probs: np.ndarray | None = None
    extras: list[dict] | None = None  # per valid row, fields added to JSONL rows (--explain)


def iter_parts(rows: Iterable[Row], part_rows: int, skip: int) -> Iterator[Part]:
    """Cut records into parts of ``part_rows``, after skipping ``skip`` already-done records."""
    it = iter(rows)
    for _ in itertools.islice(it, skip):
        pass
    while chunk := list(itertools.islice(it, part_rows)):
        yield Part(chunk, [r for r in chunk if r.reason is None])


def windows(n: int, size: int) -> list[tuple[int, int]]:
    """[start, stop) bounds of consecutive windows covering a part's ``n`` valid rows, their
    widths ramping up from ``FIRST_WINDOW`` to ``size`` (see ``next_width``)."""
    bounds, start, width = [], 0, next_width(0, size)
    while start < n:
        bounds.append((start, min(n, start + width)))
        start, width = start + width, next_width(width, size)
    return bounds


def next_width(width: int, size: int) -> int:
    """The width of a part's next window after one of ``width`` rows (0: the first window)."""
    return min(size, 2 * width if width else FIRST_WINDOW)


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


@dataclass
class Window:
    """Valid rows ``[start, start + n)`` of a part, tokenized and cut into padded batches."""

    part: Part
    start: int
    n: int
    batches: list[Batch]
    last: bool  # the part's final window (possibly empty): publish the part after it
    items: list | None = None  # --explain: texts with their offsets, instead of batches


def part_windows(rows: Iterable[Row], part_rows: int, skip: int,
                 window: int) -> Iterator[tuple[Part, int, int, bool]]:
    """(part, start, n, last) per window, as soon as its rows are read.

    The same parts as ``iter_parts`` and the same windows as ``windows(len(part.valid), window)``
    (a part whose valid rows fill its windows exactly gets one more, empty, last window), but the
    each window is ready as soon as its rows are read instead of after a whole part.
    """
    it = iter(rows)
    for _ in itertools.islice(it, skip):
        pass
    while True:
        part, start, width = Part([]), 0, next_width(0, window)
        for row in itertools.islice(it, part_rows):
            part.rows.append(row)
            if row.reason is None:
                part.valid.append(row)
                if len(part.valid) - start == width:
                    yield part, start, width, False
                    start, width = start + width, next_width(width, window)
        if not part.rows:
            return
        yield part, start, len(part.valid) - start, True


def prepared_windows(ctx: Any, predictor: Future) -> Iterator[Window]:
    """Every remaining window of the job, tokenized and padded (runs in the reader thread).

    Reading and tokenizing the first window need only tokenizer.json, so they overlap with
    loading the onnxruntime session (``predictor``, which releases the GIL while it loads).
    """
    opts, max_len = ctx.options, ctx.bundle.max_tokens
    encoder = TextEncoder.from_file(ctx.bundle.tokenizer_path, max_len)
    spans = part_windows(ctx.reader.rows(), opts.part_rows, ctx.skip_rows, opts.window)
    for part, start, n, last in spans:
        texts = [r.text for r in part.valid[start:start + n]]
        if opts.explain:
            yield Window(part, start, n, [], last, explain_items(encoder, texts))
            continue
        seqs = encoder.encode(texts) if n else []
        dtype = predictor.result().input_dtype
        yield Window(part, start, n, length_batches(seqs, opts.batch_size, max_len, dtype), last)


def run_local(ctx: Any, load_predictor: Callable[[], Any] | None = None) -> None:
    """Score every remaining part of ``ctx.reader`` with one Predictor in this process.

    The reader thread prepares batches ahead, this thread only runs inference, and a writer
    thread publishes finished parts (in order: one worker, FIFO); that thread first loads the
    Predictor (``load_predictor()``, unless ``ctx.predictor`` is set) while the reader starts.
    While the job runs, Python's GIL switch interval is lowered: each ``session.run`` returns
    needing the GIL, and with the default 5 ms a reader busy in Python made it wait up to 5 ms
    per batch (measured from the thread's schedstat per 12.8k rows: ~0.19 s asleep at 5 ms,
    ~0.03 s at 0.1 ms). And the tokenizer runs single-threaded (``TOKENIZERS_PARALLELISM``):
    its thread pool would compete with onnxruntime for the cores, while one tokenizing thread
    already overlaps inference, since it releases the GIL.
    """
    previous = sys.getswitchinterval(), os.environ.get(PARALLELISM_ENV)
    sys.setswitchinterval(min(previous[0], SWITCH_INTERVAL_S))
    os.environ[PARALLELISM_ENV] = "false"  # read by the tokenizers library at every call
    try:
        _run_local(ctx, load_predictor)
    finally:
        sys.setswitchinterval(previous[0])
        if previous[1] is None:
            os.environ.pop(PARALLELISM_ENV, None)
        else:
            os.environ[PARALLELISM_ENV] = previous[1]


def _run_local(ctx: Any, load_predictor: Callable[[], Any] | None) -> None:
    """The inference loop of ``run_local``."""
    pending: deque[Future] = deque()
    chunks: list[np.ndarray] = []
    extras: list[dict] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring-writer") as writer:
        loading: Future = Future()
        if ctx.predictor is not None:
            loading.set_result(ctx.predictor)
        else:
            loading = writer.submit(load_predictor)
        for win in prefetch(prepared_windows(ctx, loading), depth=4):
            predictor = ctx.predictor = loading.result()
            if win.items is not None:
                probs, extra = explain_window(predictor, win.items, ctx.options.batch_size)
                extras += extra
            else:
                probs = np.empty((win.n, len(predictor.labels)), dtype=np.float32)
                for idx, ids in win.batches:
                    probs[idx] = predictor.predict_ids(ids)
            chunks.append(probs)
            if win.last:
                win.part.extras = extras if ctx.options.explain else None
                pending.append(writer.submit(write_part, ctx, win.part, chunks))
                chunks, extras = [], []
            while pending and (pending[0].done() or len(pending) > 2):
                pending.popleft().result()  # re-raise a failed write here, at once
        while pending:
            pending.popleft().result()
        loading.result()  # a model that failed to load is an error even with nothing to score


def write_part(ctx: Any, part: Part, chunks: list[np.ndarray]) -> None:
    """Join a part's window probabilities and publish it (runs in the writer thread)."""
    part.probs = np.concatenate(chunks)  # every part has a last window, so chunks is not empty
    publish_part(ctx, part)


def publish_part(ctx: Any, part: Part) -> None:
    """Write one part's scored rows (``part.probs``) and rejected rows through the work
    directory (both engines)."""
    ids = [r.rid for r in part.valid]
    rejected = [r for r in part.rows if r.reason is not None]
    fmt: OutputFormat = ctx.out_format
    ctx.workdir.publish(len(part.rows), len(ids),
                        lambda fh: fmt.write_probs(ids, part.probs, fh, part.extras),
                        lambda fh: write_rejected(rejected, fh), ctx.part_suffix)
    ctx.progress.update(len(part.rows), ctx.reader.bytes_read())
