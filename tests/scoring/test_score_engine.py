"""The local engine's fast paths give exactly what the plain Predictor path gives.

Tokenizing in the reader thread (single-threaded tokenizer) vs ``Predictor.encode``, pre-padded
batches vs ``Predictor.predict_seqs``, windows read ahead vs ``iter_parts`` + ``windows``,
``write_probs`` vs a dict-based reference formatter, and the whole pipelined job vs a sequential
reference built from the plain Predictor calls.
"""

from __future__ import annotations

import io
import random
import shutil
import string
from pathlib import Path

import numpy as np
import pytest
from scoring_testlib import make_texts, write_results, write_text_csv

import scoring.engine as engine_mod
from core.runtime import length_batches, pad_batch
from scoring.engine import iter_parts, part_windows, windows
from scoring.job import ScoreConfig, run_job
from scoring.rows import Row
from scoring.writers import output_format

ASCII = [chr(i) for i in range(128)]


def awkward_texts(n: int = 3000, seed: int = 1) -> list[str]:
    """Random ASCII (control chars, digits, punctuation), non-ASCII and added-token texts."""
    rng = random.Random(seed)
    pool = ASCII + list(string.ascii_letters + string.digits) * 3 + ["é", "ß", "İ", "①", "ﬁ", "\u3000"]
    texts = ["".join(rng.choices(pool, k=rng.randint(0, 60))) for _ in range(n)]
    words = string.ascii_letters + " 0123456789_-'"
    texts += ["".join(rng.choices(words, k=rng.randint(100, 600))) for _ in range(50)]  # truncated
    return texts + ["[UNK] and [PAD]", "[unk]", "[PAD]", "a[PAD]b", "Naïve CAFÉ", "x\x1cy\x1fz"]


def test_job_tokenization_equals_predictor_encode(predictor, monkeypatch) -> None:
    """The engine's tokenizer (loaded on its own, run single-threaded) gives Predictor's ids."""
    from core.textenc import encode_texts, load_tokenizer
    from scoring.engine import PARALLELISM_ENV

    monkeypatch.setenv(PARALLELISM_ENV, "false")
    tokenizer = load_tokenizer(predictor.bundle.tokenizer_path)
    for texts in (awkward_texts(), make_texts(500)):
        assert encode_texts(tokenizer, texts, predictor.max_tokens) == predictor.encode(texts)
    assert max(map(len, predictor.encode(awkward_texts()))) == predictor.max_tokens


def test_length_batches_are_predict_seqs_batches(predictor) -> None:
    seqs = predictor.encode(make_texts(333, seed=2) + ["", "x"])
    seqs[5] = []  # an empty sequence pads to width 1, as in pad_batch
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    plan = length_batches(seqs, 32, predictor.max_tokens, predictor.input_dtype)
    assert np.concatenate([idx for idx, _ in plan]).tolist() == order  # sorted, all, once
    for idx, ids in plan:
        assert 1 <= len(idx) <= 32
        assert ids.dtype == predictor.input_dtype
        assert np.array_equal(ids, pad_batch([seqs[i] for i in idx], predictor.max_tokens))
    probs = np.empty((len(seqs), len(predictor.labels)), dtype=np.float32)
    for idx, ids in plan:
        probs[idx] = predictor.predict_ids(ids)
    assert np.array_equal(probs, predictor.predict_seqs(seqs, 32))  # bit for bit
    assert length_batches([], 32, predictor.max_tokens, predictor.input_dtype) == []
    fixed = length_batches(seqs, 32, predictor.max_tokens, predictor.input_dtype, planned=False)
    assert [idx.tolist() for idx, _ in fixed] == [order[k:k + 32] for k in range(0, len(seqs), 32)]
    assert length_batches([], 32, predictor.max_tokens, planned=False) == []


def test_windows_start_small() -> None:
    assert windows(0, 2048) == []
    assert windows(600, 2048) == [(0, 256), (256, 600)]
    assert windows(5000, 2048) == [(0, 256), (256, 768), (768, 1792), (1792, 3840), (3840, 5000)]
    assert windows(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert windows(700, 300) == [(0, 256), (256, 556), (556, 700)]


@pytest.mark.parametrize("part_rows,window,skip,first", [
    (10, 3, 0, 256), (12, 4, 0, 256), (7, 50, 5, 256), (5, 1, 3, 256), (12, 4, 0, 2), (30, 7, 1, 3)])
def test_part_windows_match_iter_parts(monkeypatch: pytest.MonkeyPatch, part_rows: int,
                                       window: int, skip: int, first: int) -> None:
    monkeypatch.setattr(engine_mod, "FIRST_WINDOW", first)
    rows = [Row(i, i, None, "bad") if i % 5 == 2 or 20 <= i < 32 else Row(i, i, "t")
            for i in range(57)]
    want = []
    for part in iter_parts(rows, part_rows, skip):
        spans = windows(len(part.valid), window)
        want.append(([r.line for r in part.rows], [r.line for r in part.valid],
                     [(s, e - s) for s, e in spans if e > s]))
    got, spans, done = [], [], []
    for part, start, n, last in part_windows(rows, part_rows, skip, window):
        if n:
            spans.append((start, n))
        if last:
            got.append(([r.line for r in part.rows], [r.line for r in part.valid], spans))
            spans = []
        done.append(last)
    assert got == want and done[-1]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("ids_kind", ["numeric", "plain", "quoted"])
def test_write_probs_equals_reference_formatter(predictor, fmt: str, ids_kind: str) -> None:
    rng = np.random.default_rng(0)
    probs = rng.random((50, len(predictor.labels)), dtype=np.float32)
    probs[3] = probs[3, 0]  # a tie: the first label wins, as in to_results
    numeric_ids = ids_kind == "numeric"
    ids = {"numeric": list(range(2, 52)), "plain": [f"id-{i} é'x" for i in range(50)],
           "quoted": [f'id,"{i}"\né' for i in range(50)]}[ids_kind]
    out = output_format(fmt, predictor.labels, "v1", numeric_ids)
    for p, i in ((probs, ids), (probs[:0], [])):
        a, b = io.BytesIO(), io.BytesIO()
        write_results(out, list(zip(i, predictor.to_results(p), strict=True)), a)
        out.write_probs(i, p, b)
        assert a.getvalue() == b.getvalue()


def _sequential_reference(inp: Path, predictor, opts: dict) -> bytes:
    """The CSV a one-thread job writes with plain Predictor calls (no fast path, no threads)."""
    from scoring.readers import open_reader

    out = output_format("csv", predictor.labels, predictor.bundle.version, numeric_ids=False)
    buf = io.BytesIO()
    out.assemble([], buf)  # header
    reader = open_reader(inp, "csv", "text", "id")
    for part in iter_parts(reader.rows(), opts["part_rows"], 0):
        for start, stop in windows(len(part.valid), opts["window"]):
            texts = [r.text for r in part.valid[start:stop]]
            probs = predictor.predict_seqs(predictor.encode(texts), opts["batch_size"])
            results = predictor.to_results(probs)
            write_results(out, [(r.rid, res) for r, res in zip(part.valid[start:stop], results,
                                                              strict=True)], buf)
    return buf.getvalue()


def test_pipelined_job_equals_sequential_reference(tmp_path: Path, default_bundle: Path,
                                                   predictor) -> None:
    texts = awkward_texts(600, seed=4) + make_texts(400, seed=4)
    random.Random(4).shuffle(texts)
    texts[100:160] = ["  "] * 60  # a stretch of quarantined rows across a part boundary
    inp = write_text_csv(tmp_path / "in.csv", texts, ids=[f"k{i}" for i in range(len(texts))])
    opts = {"part_rows": 128, "window": 40, "batch_size": 16}
    summary = run_job(ScoreConfig(inp, tmp_path / "out.csv", model=default_bundle,
                                  id_column="id", quiet=True, **opts))
    assert summary["rows_in"] == summary["scored"] + summary["quarantined"] == len(texts)
    assert (tmp_path / "out.csv").read_bytes() == _sequential_reference(inp, predictor, opts)


def test_reader_error_surfaces_and_leaves_no_output(tmp_path: Path, default_bundle: Path,
                                                    monkeypatch) -> None:
    import scoring.engine as engine

    inp = write_text_csv(tmp_path / "in.csv", make_texts(200), ids=[str(i) for i in range(200)])

    def broken(self, texts):
        raise RuntimeError("tokenizer exploded")

    monkeypatch.setattr(engine.TextEncoder, "encode", broken)
    with pytest.raises(RuntimeError, match="tokenizer exploded"):
        run_job(ScoreConfig(inp, tmp_path / "out.csv", model=default_bundle, id_column="id",
                            quiet=True, part_rows=50, window=20))
    assert not (tmp_path / "out.csv").exists()
    shutil.rmtree(tmp_path / "out.csv.parts")


def test_switch_interval_and_tokenizer_threads_set_during_the_job_only(tmp_path: Path,
                                                                       default_bundle: Path,
                                                     monkeypatch) -> None:
    import os
    import sys

    from core.runtime import Predictor
    from scoring.engine import PARALLELISM_ENV

    seen = []
    real = Predictor.predict_ids

    def spy(self, batch):
        seen.append((sys.getswitchinterval(), os.environ.get(PARALLELISM_ENV)))
        return real(self, batch)

    monkeypatch.setattr(Predictor, "predict_ids", spy)
    monkeypatch.delenv(PARALLELISM_ENV, raising=False)
    before = sys.getswitchinterval()
    inp = write_text_csv(tmp_path / "in.csv", make_texts(50))
    run_job(ScoreConfig(inp, tmp_path / "out.csv", model=default_bundle, quiet=True))
    assert seen and max(s for s, _ in seen) <= 0.0001 < before
    assert {p for _, p in seen} == {"false"}  # single-threaded tokenizer during the job
    assert sys.getswitchinterval() == before and PARALLELISM_ENV not in os.environ


def test_model_that_fails_to_load_fails_the_job(tmp_path: Path, default_bundle: Path,
                                                monkeypatch) -> None:
    import core.runtime

    def broken(*args, **kwargs):
        raise core.runtime.BundleError("onnxruntime cannot load model.onnx: broken")

    monkeypatch.setattr(core.runtime, "Predictor", broken)
    for texts in (make_texts(30), []):  # with rows to score, and with none
        inp = write_text_csv(tmp_path / "in.csv", texts)
        with pytest.raises(core.runtime.BundleError, match="cannot load"):
            run_job(ScoreConfig(inp, tmp_path / "out.csv", model=default_bundle, quiet=True,
                                force=True))
        assert not (tmp_path / "out.csv").exists()
