"""The shipped bundle's card accuracy, recomputed from model.onnx + tokenizer.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.bundle import load_bundle
from training.evaluate_bundle import evaluate_bundle


@pytest.mark.slow
def test_card_accuracy_recomputed_from_onnx(default_bundle: Path) -> None:
    out = evaluate_bundle(load_bundle(default_bundle))
    assert out["test"]["accuracy"] == out["card_test"]["accuracy"]
    assert out["test"]["confusion_matrix"] == out["card_test"]["confusion_matrix"]
    assert out["matches_card"]
    card = load_bundle(default_bundle).card
    assert card["metrics"]["test"]["accuracy"] > card["metrics"]["baseline_test"]["accuracy"] - 0.02
