"""The fused export: one ONNX LSTM/GRU node, exact masking, same numbers as Keras and tf2onnx."""

from __future__ import annotations

import random

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.conftest import synthetic_rows

pytestmark = pytest.mark.slow
VOCAB = 60


def encode(texts: list[str]) -> list[list[int]]:
    """A deterministic toy encoding: word hash -> id in [2, VOCAB), no padding ids inside."""
    return [[2 + sum(map(ord, w)) % (VOCAB - 2) for w in t.split()] for t in texts]


def tiny_model(cell: str, bidirectional: bool, seed: int = 0, pooling: str = "meanmax"):
    """A small masked (Bi)LSTM/GRU with seeded random weights, biases included.

    Random weights (not a short training run) keep CI fast and exercise every gate and bias:
    freshly initialised biases are zero, so a wrong bias layout would go unnoticed.
    """
    from training.model import ModelConfig, build_model

    cfg = ModelConfig(cell=cell, embedding_dim=12, units=10, bidirectional=bidirectional,
                      embedding_dropout=0.1, dropout=0.1, pooling=pooling)
    model = build_model(cfg, VOCAB, 2, seed)
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(scale=0.4, size=w.shape).astype("float32"))
    return model


def heldout_seqs(n: int = 150, seed: int = 99) -> list[list[int]]:
    """Texts never seen in training (another seed), plus an empty one."""
    return encode([t for t, _ in synthetic_rows(n, seed=seed)]) + [[]]


# (cell, bidirectional, pooling, fp16 embedding table)
CASES = [("lstm", False, "meanmax", True), ("lstm", True, "meanmax", False),
         ("gru", False, "meanmax", False), ("gru", True, "last", True), ("lstm", False, "last", False)]


@pytest.fixture(scope="module", params=CASES,
                ids=[f"{c}-{'bi' if b else 'uni'}-{p}{'-fp16' if h else ''}" for c, b, p, h in CASES])
def exported(request, tmp_path_factory):
    """A tiny model with its fused and plain tf2onnx exports on disk."""
    from training.export import convert
    from training.fuse import fuse, round_embedding_fp16

    cell, bi, pooling, fp16 = request.param
    model = tiny_model(cell, bi, pooling=pooling)
    if fp16:
        assert 0 < round_embedding_fp16(model) < 1e-3
    out = tmp_path_factory.mktemp(f"{cell}{int(bi)}{pooling}")
    plain = convert(model, fused=False)  # one tf2onnx run; the fused graph is derived from it
    onnx.save_model(plain, str(out / "plain.onnx"))
    onnx.save_model(fuse(plain, model, fp16), str(out / "fused.onnx"))
    return cell, model, out / "fused.onnx", out / "plain.onnx"


def session(path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def test_one_fused_rnn_node_and_no_loop(exported):
    from training.fuse import op_counts

    cell, _, fused, plain = exported
    counts = op_counts(onnx.load(str(fused)))
    assert counts.get(cell.upper()) == 1
    assert not ({"Loop", "Scan", "If", "LSTM", "GRU", "RNN"} - {cell.upper()}) & set(counts)
    assert "Loop" in op_counts(onnx.load(str(plain)))  # the reference really is the slow graph


def test_io_contract_unchanged(exported):
    _, _, fused, plain = exported
    new, ref = session(fused), session(plain)
    assert [(i.name, i.type) for i in new.get_inputs()] == [("input_ids", "tensor(int32)")]
    signature = [(i.name, i.type) for i in ref.get_inputs()]
    assert [(i.name, i.type) for i in new.get_inputs()] == signature
    assert all(isinstance(d, str) for d in new.get_inputs()[0].shape)  # dynamic batch and time
    assert [o.name for o in new.get_outputs()] == [o.name for o in ref.get_outputs()]
    probs = new.run(None, {"input_ids": np.array([[5, 7, 0], [3, 0, 0]], np.int32)})[0]
    assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_parity_with_keras_on_heldout_texts(exported):
    from training.export import check_parity, keras_probs, onnx_probs

    _, model, fused, _ = exported
    seqs = heldout_seqs()
    report = check_parity(model, fused, seqs)
    assert report["max_abs_diff"] <= 1e-5 and report["texts"] == len(seqs)
    # padded to the longest of each 32-batch, not of the whole set
    diff = np.abs(keras_probs(model, seqs, batch=32) - onnx_probs(fused, seqs, batch=32))
    assert diff.max() <= 1e-5


def test_equal_to_plain_tf2onnx_export(exported):
    from training.export import onnx_probs

    _, _, fused, plain = exported
    seqs = heldout_seqs(seed=7)
    diff = onnx_probs(fused, seqs, batch=50) - onnx_probs(plain, seqs, batch=50)
    assert np.abs(diff).max() <= 1e-5


def test_batch_invariance(exported):
    from training.fit import pad

    _, _, fused, _ = exported
    sess, rng = session(fused), random.Random(3)
    for text in heldout_seqs(6, seed=11)[:6]:
        alone = sess.run(None, {"input_ids": pad([text])})[0][0]
        others = [[rng.randrange(2, VOCAB) for _ in range(rng.randint(0, 40))] for _ in range(64)]
        at = rng.randrange(65)
        batch = others[:at] + [text] + others[at:]
        inside = sess.run(None, {"input_ids": pad(batch)})[0][at]
        assert np.abs(alone - inside).max() <= 1e-6


def test_zero_token_rows_match_keras(exported):
    from training.export import keras_probs
    from training.fit import pad

    _, model, fused, _ = exported
    sess = session(fused)
    want = keras_probs(model, [[]])[0]  # Keras: all steps masked, state stays zero
    mixed = sess.run(None, {"input_ids": pad([[], [4, 9, 13], []])})[0]
    only = sess.run(None, {"input_ids": np.zeros((3, 5), np.int32)})[0]
    for row in (mixed[0], mixed[2], *only):
        assert np.abs(row - want).max() <= 1e-6


def test_unsupported_layers_are_refused():
    import keras

    from training.fuse import rnn_spec

    ids = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(20, 4, mask_zero=True)(ids)
    x = keras.layers.Bidirectional(keras.layers.GRU(3), merge_mode="sum")(x)
    summed = keras.Model(ids, keras.layers.Dense(1)(x))
    with pytest.raises(ValueError, match="merge_mode"):
        rnn_spec(summed)
    x = keras.layers.LSTM(3, activation="relu")(keras.layers.Embedding(20, 4)(ids))
    with pytest.raises(ValueError, match="activation"):
        rnn_spec(keras.Model(ids, keras.layers.Dense(1)(x)))


def test_three_class_softmax_model(tmp_path):
    """A softmax head (e.g. the 3-class tweets dataset) is fused the same way."""
    from training.export import check_parity, convert
    from training.fuse import fuse, op_counts
    from training.model import ModelConfig, build_model

    model = build_model(ModelConfig(cell="gru", embedding_dim=8, units=6), VOCAB, 3, seed=2)
    rng = np.random.default_rng(2)
    for w in model.weights:
        w.assign(rng.normal(scale=0.4, size=w.shape).astype("float32"))
    proto = fuse(convert(model, fused=False), model)
    assert op_counts(proto).get("GRU") == 1 and "Loop" not in op_counts(proto)
    onnx.save_model(proto, str(tmp_path / "m.onnx"))
    assert check_parity(model, tmp_path / "m.onnx", heldout_seqs(60))["max_abs_diff"] <= 1e-5
