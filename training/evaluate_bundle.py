"""Recompute a bundle's test-split metrics from model.onnx + tokenizer.json (no TensorFlow)."""

from __future__ import annotations

import numpy as np

from core.bundle import Bundle
from core.runtime import Predictor
from training import datasets
from training.evaluate import metrics
from training.split import split


def evaluate_bundle(bundle: Bundle, dataset: str | None = None) -> dict:
    """Rebuild the card's split, score it with onnxruntime and compare with the card."""
    card = bundle.card
    spec = dataset or card["dataset"]["spec"]
    ds = datasets.load(spec)
    splits = split(ds, seed=card["split"]["seed"])
    texts, labels = splits.test
    index = {lab: i for i, lab in enumerate(bundle.labels)}
    y = np.asarray([index[lab] for lab in labels])
    probs = Predictor(bundle).predict_proba(texts, batch_size=256)
    got = metrics(y, probs)
    want = card["metrics"]["test"]
    same = spec == card["dataset"]["spec"] and got["accuracy"] == want["accuracy"] \
        and got["confusion_matrix"] == want["confusion_matrix"]
    return {"dataset": spec, "test": got, "card_test": want, "matches_card": same}
