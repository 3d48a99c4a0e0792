"""End to end on tiny data: train -> evaluate -> export -> bundle, and atomic bundle writing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.bundle import load_bundle
from core.bundle_writer import write_bundle
from core.runtime import Predictor
from tests.conftest import synthetic_rows

pytestmark = pytest.mark.slow


def test_tiny_bundle_card_and_files(tiny_bundle: Path) -> None:
    bundle = load_bundle(tiny_bundle)  # verifies sha256s
    card = bundle.card
    assert card["labels"] == ["negative", "positive"]
    assert card["parity"]["max_abs_diff"] <= 1e-5 and card["parity"]["texts"] == 40
    assert sum(card["split"]["sizes"].values()) == 400 and card["split"]["seed"] == 13
    test = card["metrics"]["test"]
    assert {"accuracy", "macro_f1", "roc_auc", "confusion_matrix"} <= set(test)
    assert np.sum(test["confusion_matrix"]) == 40
    assert "accuracy" in card["metrics"]["baseline_test"]
    clip = card["gradient_clipping"]
    assert clip["clipnorm"] == 1.0 and clip["steps"] > 0 and clip["global_norm_max"] > 0
    assert 0 <= clip["fraction_steps_clipped"] <= 1
    assert {"keras", "tf2onnx", "onnxruntime", "tensorflow-cpu"} <= set(card["libraries"])
    assert (tiny_bundle / "training.png").read_bytes()[:4] == b"\x89PNG"


def test_tiny_bundle_learns(tiny_bundle: Path) -> None:
    p = Predictor(tiny_bundle)
    res = p.predict(["great wonderful film", "awful boring film"])
    assert [r["label"] for r in res] == ["positive", "negative"]
    assert load_bundle(tiny_bundle).card["metrics"]["test"]["accuracy"] >= 0.8


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    def fill(tmp: Path) -> dict:
        (tmp / "model.onnx").write_bytes(b"half")
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError, match="export failed"):
        write_bundle(tmp_path / "m", fill)
    assert list(tmp_path.iterdir()) == []


def test_replace_is_atomic_and_needs_force(tmp_path: Path) -> None:
    def fill_with(text: str):
        def fill(tmp: Path) -> dict:
            (tmp / "model.onnx").write_text(text)
            (tmp / "tokenizer.json").write_text("{}")
            return {"name": "m", "labels": ["a", "b"], "max_tokens": 8}
        return fill

    dest = write_bundle(tmp_path / "m", fill_with("one"))
    with pytest.raises(FileExistsError):
        write_bundle(dest, fill_with("two"))
    write_bundle(dest, fill_with("two"), force=True)
    assert (dest / "model.onnx").read_text() == "two"
    card = json.loads((dest / "card.json").read_text())
    assert card["files"]["model.onnx"]["bytes"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_multiclass_csv_gets_softmax(tmp_path: Path, tiny_csv: Path) -> None:
    from training.model import ModelConfig
    from training.pipeline import RunConfig, run
    from training.tokenizer import TokenizerConfig

    rows = synthetic_rows(120)
    rows += [(f"meh so so average middling {i}", "neutral") for i in range(60)]
    csv_path = tmp_path / "three.csv"
    csv_path.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows))
    cfg = RunConfig(dataset=f"csv:{csv_path}", name="three", out_dir=tmp_path / "models",
                    tokenizer=TokenizerConfig(vocab_size=500, max_tokens=16),
                    model=ModelConfig(cell="gru", embedding_dim=8, units=8), epochs=1,
                    distill=False, verbose=0, results_dir=tmp_path / "results")
    path = run(cfg)
    p = Predictor(path)
    assert p.labels == ["negative", "neutral", "positive"]
    assert p.predict_proba(["so so"]).shape == (1, 3)
    assert "roc_auc" not in load_bundle(path).card["metrics"]["test"]
