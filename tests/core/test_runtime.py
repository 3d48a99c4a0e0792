"""The TF-free runtime on the shipped bundle: order, shapes, batch invariance, edge texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.runtime import (
    CALL_ROW_STEPS,
    STEP_ROWS,
    Predictor,
    RuntimeOptions,
    pad_batch,
    plan_chunks,
)
from core.textenc import encode_texts

TEXTS = ["a wonderful, moving film", "dull and lifeless", "", "   ", "ok", "x " * 500,
         "an uneven but often charming comedy", "😀 great fun 😀", "ça marche très bien"]


@pytest.fixture(scope="module")
def predictor(default_bundle: Path) -> Predictor:
    return Predictor(default_bundle, RuntimeOptions(intra_op_threads=1))


def test_results_shape_labels_and_order(predictor: Predictor) -> None:
    res = predictor.predict(TEXTS)
    assert len(res) == len(TEXTS)
    for r in res:
        assert r["label"] in predictor.labels
        assert abs(sum(r["scores"].values()) - 1) < 1e-5
        assert r["score"] == max(r["scores"].values())
    assert res[0]["label"] == "positive" and res[1]["label"] == "negative"
    assert predictor.predict(TEXTS[::-1]) == res[::-1]


def test_batch_invariance(predictor: Predictor) -> None:
    alone = np.concatenate([predictor.predict_proba([t]) for t in TEXTS])
    together = predictor.predict_proba(TEXTS, batch_size=64)
    assert np.max(np.abs(alone - together)) <= 1e-6


def test_truncation_and_empty_text(predictor: Predictor) -> None:
    ids = predictor.encode(["word " * 1000, "", "   "])
    assert len(ids[0]) == predictor.max_tokens
    assert ids[1] == [] and ids[2] == []
    empty = predictor.predict_proba(["", "   "])
    assert np.allclose(empty[0], empty[1]) and np.all(np.isfinite(empty))


def test_pad_batch_caps_width() -> None:
    out = pad_batch([[5, 6, 7], [], [1]], max_len=2)
    assert out.tolist() == [[5, 6], [0, 0], [1, 0]]
    assert pad_batch([[]], max_len=8).shape == (1, 1)
    assert pad_batch([[3]], max_len=8, dtype=np.int32).dtype == np.int32
    assert pad_batch([], max_len=8).shape == (0, 1)
    assert pad_batch([[4, 5], [6]], max_len=8).tolist() == [[4, 5], [6, 0]]


def test_batch_encoding_gives_the_ids_of_one_by_one_encoding(predictor: Predictor) -> None:
    """encode_texts batches with encode_batch_fast (no offsets); the ids must stay those of the
    tokenizer's plain encode(), including accents, emoji, CJK, odd spaces and truncation."""
    texts = ["A moving, beautifully acted film.", "Café crème — naïve résumé", "NOT good!!",
             "🎬 great 🍿 fun", "映画はよかった", "tab\tand\u00a0nbsp  double  space",
             "ｆｕｌｌｗｉｄｔｈ", "word " * 200, "x", "  leading and trailing  "]
    batched = encode_texts(predictor.tokenizer, texts, predictor.max_tokens)
    single = [predictor.tokenizer.encode(t).ids[:predictor.max_tokens] for t in texts]
    assert batched == single
    assert len(batched[7]) == predictor.max_tokens


def plan_cost(lengths: list[int], ends: list[int]) -> float:
    """The cost model's figure for scoring ascending ``lengths`` in chunks ending at ``ends``."""
    starts = [0, *ends[:-1]]
    pairs = zip(starts, ends, strict=True)
    return sum(CALL_ROW_STEPS + lengths[e - 1] * (e - s + STEP_ROWS) for s, e in pairs)


def test_plan_chunks_splits_by_length_only_when_it_pays() -> None:
    assert plan_chunks([], 32) == []
    assert plan_chunks([7], 32) == [1]
    assert plan_chunks([20] * 64, 32) == [32, 64]  # equal lengths: fewest calls
    assert plan_chunks([2] * 16 + [64] * 16, 32) == [16, 32]  # short rows not padded to 64
    assert plan_chunks([5, 6, 7], 1) == [1, 2, 3]


def test_plan_chunks_beats_fixed_chunks_on_random_lengths() -> None:
    rng = np.random.default_rng(3)
    for n, cap in ((32, 32), (33, 32), (200, 64), (7, 3)):
        lengths = sorted(rng.integers(1, 65, size=n).tolist())
        ends = plan_chunks(lengths, cap)
        sizes = np.diff([0, *ends])
        assert ends[-1] == n and sizes.min() >= 1 and sizes.max() <= cap
        fixed = [*range(cap, n, cap), n]
        assert plan_cost(lengths, ends) <= plan_cost(lengths, fixed)
    lengths = sorted(rng.integers(1, 65, size=32).tolist())
    assert plan_cost(lengths, plan_chunks(lengths, 32)) < 0.8 * plan_cost(lengths, [32])


def scored_with_call_count(p: Predictor, texts: list[str]) -> tuple[np.ndarray, int]:
    """``p.predict_proba(texts, 32)`` and how many ``session.run`` calls it made."""
    run, calls = p.session.run, []

    def counting(*args):
        calls.append(1)
        return run(*args)
    p.session.run = counting
    try:
        return p.predict_proba(texts, batch_size=32), len(calls)
    finally:
        del p.session.run


def test_planned_and_fixed_chunks_score_alike(predictor: Predictor, default_bundle: Path) -> None:
    fixed = Predictor(default_bundle, RuntimeOptions(intra_op_threads=1, plan_chunks=False))
    texts = [" ".join(["a fine film"] * (1 + i % 16)) for i in range(32)]  # 3 to 48 tokens
    planned_probs, planned_calls = scored_with_call_count(predictor, texts)
    fixed_probs, fixed_calls = scored_with_call_count(fixed, texts)
    assert fixed_calls == 1 and planned_calls > 1
    assert np.max(np.abs(planned_probs - fixed_probs)) <= 1e-6


def test_tokenizer_loads_once_at_first_use(default_bundle: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    fresh = Predictor(default_bundle)
    assert fresh._encoder is None  # a batch job that tokenizes elsewhere never loads it
    ids = fresh.predict_ids(pad_batch([[5, 6, 7]], fresh.max_tokens, fresh.input_dtype))
    assert ids.shape == (1, len(fresh.labels)) and fresh._encoder is None
    with ThreadPoolExecutor(4) as pool:
        encoders = list(pool.map(lambda _: fresh.encoder, range(8)))
    assert all(e is encoders[0] for e in encoders) and fresh.tokenizer is encoders[0].tokenizer
    assert fresh.encode(["dull and lifeless"]) == encode_texts(
        fresh.tokenizer, ["dull and lifeless"], fresh.max_tokens)
