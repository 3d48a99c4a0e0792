"""bench.model_timing.time_alternating: engines take turns of a set length, batches in order."""

from __future__ import annotations

import itertools
import time

import numpy as np

from bench.model_timing import planned_chunks, time_alternating


def test_engines_take_turns_and_each_cycles_its_batches_in_order() -> None:
    log: list[tuple[str, int]] = []

    def engine(name: str, seconds: float):
        def run(x: np.ndarray) -> None:
            log.append((name, int(x[0])))
            time.sleep(seconds)
        return run

    batches = [np.array([i]) for i in range(5)]
    out = time_alternating({"fast": engine("fast", 0.0005), "slow": engine("slow", 0.004)},
                           batches, budget_s=0.1, min_calls=3, block_s=0.01)
    log = log[2:]  # the warm-up call of each
    turns = [(name, len(list(run))) for name, run in itertools.groupby(log, key=lambda c: c[0])]
    assert [name for name, _ in turns[:4]] == ["fast", "slow", "fast", "slow"]
    assert all(n >= 5 for name, n in turns if name == "fast")  # a turn lasts ~10 ms
    assert all(1 <= n <= 4 for name, n in turns if name == "slow")
    for name in ("fast", "slow"):
        seen = [b for n, b in log if n == name]
        assert seen == [i % 5 for i in range(len(seen))]  # resumes where its last turn stopped
        assert len(out[name].wall) == len(seen) == len(out[name].cpu) >= 3
    assert min(out["fast"].wall) >= 0.0005 and min(out["slow"].wall) >= 0.004


def test_a_slow_engine_still_gets_min_calls() -> None:
    out = time_alternating({"one": lambda x: time.sleep(0.002)}, [np.zeros(1)], budget_s=0.0,
                           min_calls=4, block_s=0.0)
    assert len(out["one"].wall) == 4


def test_planned_chunks_hold_each_batch_rows_once_in_fewer_cells() -> None:
    rng = np.random.default_rng(4)
    batches = []
    for _ in range(3):
        lengths = rng.integers(1, 40, size=32)
        batch = np.zeros((32, lengths.max()), dtype=np.int32)
        for row, n in zip(batch, lengths, strict=True):
            row[:n] = rng.integers(1, 500, size=n)
        batches.append(batch)
    chunks, n = planned_chunks(batches)
    assert n == 3 and len(chunks) > 3
    assert all(c.dtype == np.int32 and c.shape[0] <= 32 for c in chunks)
    def rows(arrays):
        return sorted(tuple(r[r != 0]) for a in arrays for r in a)
    assert rows(chunks) == rows(batches)
    assert sum(c.size for c in chunks) < 0.8 * sum(b.size for b in batches)
