"""training.export: fused export by default, the plain one still available, parity guards both."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

pytestmark = pytest.mark.slow


def test_pipeline_bundle_is_fused_and_matches_keras(tiny_bundle):
    """The bundle the training pipeline writes uses the fused graph and records its parity."""
    from training.fuse import op_counts

    counts = op_counts(onnx.load(str(tiny_bundle / "model.onnx")))
    assert counts.get("LSTM") == 1 and "Loop" not in counts
    parity = json.loads((tiny_bundle / "card.json").read_text())["parity"]
    assert parity["max_abs_diff"] <= 1e-5 and parity["texts"] > 0


@pytest.fixture(scope="module")
def lstm(tmp_path_factory):
    """A small masked LSTM with random weights, exported both ways through to_onnx."""
    from training.export import to_onnx
    from training.model import ModelConfig, build_model

    model = build_model(ModelConfig(embedding_dim=8, units=6, dropout=0.0), 40, 2, seed=5)
    rng = np.random.default_rng(5)
    for w in model.weights:
        w.assign(rng.normal(scale=0.5, size=w.shape).astype("float32"))
    out = tmp_path_factory.mktemp("export")
    to_onnx(model, out / "fused.onnx")
    to_onnx(model, out / "plain.onnx", fused=False)
    return model, out


def test_to_onnx_default_is_fused_and_plain_is_tf2onnx(lstm):
    from training.fuse import op_counts

    _, out = lstm
    fused, plain = (op_counts(onnx.load(str(out / n))) for n in ("fused.onnx", "plain.onnx"))
    assert fused.get("LSTM") == 1 and "Loop" not in fused
    assert "Loop" in plain and "LSTM" not in plain


def test_check_parity_passes_for_both_exports(lstm):
    from training.export import check_parity

    model, out = lstm
    rng = np.random.default_rng(1)
    seqs = [list(rng.integers(1, 40, size=int(rng.integers(0, 20)))) for _ in range(80)]
    for name in ("fused.onnx", "plain.onnx"):
        report = check_parity(model, out / name, seqs)
        assert report["max_abs_diff"] <= 1e-5 and report["texts"] == 80


def test_check_parity_fails_loudly_on_a_wrong_export(lstm):
    from training.errors import DataError
    from training.export import check_parity

    model, out = lstm
    other = model.get_layer("classifier")
    other.bias.assign(other.bias.numpy() + 0.5)  # the Keras model no longer matches the file
    try:
        with pytest.raises(DataError, match="differs from Keras"):
            check_parity(model, out / "fused.onnx", [[3, 4, 5], [7]])
    finally:
        other.bias.assign(other.bias.numpy() - 0.5)
