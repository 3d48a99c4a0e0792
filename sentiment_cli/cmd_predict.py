"""`sentiment predict|evaluate|verify`: use a bundle without TensorFlow."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.paths import default_model_dir


def add_arguments(name: str, p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=default_model_dir(),
                   help="bundle dir (default: $SENTIMENT_MODEL_DIR or the shipped bundle, %(default)s)")
    if name == "predict":
        p.add_argument("texts", nargs="*", help="texts to score (default: one per line on stdin)")
    if name == "evaluate":
        p.add_argument("--dataset", default=None,
                       help="dataset spec (default: the one named in the card)")


def run(name: str, args: argparse.Namespace) -> int:
    from core.bundle import load_bundle

    bundle = load_bundle(args.model)
    if name == "verify":
        print(json.dumps({"ok": True, **bundle.summary()}, indent=2))
        return 0
    if name == "predict":
        from core.runtime import Predictor

        texts = args.texts or [line.rstrip("\n") for line in sys.stdin]
        for text, res in zip(texts, Predictor(bundle).predict(texts), strict=True):
            print(json.dumps({"text": text, **res}, ensure_ascii=False))
        return 0
    from training.evaluate_bundle import evaluate_bundle

    out = evaluate_bundle(bundle, args.dataset)
    print(json.dumps(out, indent=2))
    return 0 if out["matches_card"] else 1
