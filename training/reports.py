"""Figures computed on the exported ONNX model (no Keras): batch invariance, [UNK] rates per
domain, out-of-domain tweets accuracy and the behavioural pass rates."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from training import behaviour, datasets
from training.fit import pad
from training.trainer import encode
from training.wordpiece import unk_rate

log = logging.getLogger(__name__)


class OnnxScorer:
    """``scorer(texts)`` -> probabilities [n, classes] from model.onnx and the tokenizer."""

    def __init__(self, path: Path, tok: Tokenizer, max_tokens: int) -> None:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.tok, self.max_tokens = tok, max_tokens

    def seqs(self, seqs: list[list[int]], batch: int = 64) -> np.ndarray:
        order = np.argsort([len(s) for s in seqs], kind="stable")
        out = None
        for k in range(0, len(seqs), batch):
            idx = order[k:k + batch]
            probs = self.sess.run(None, {"input_ids": pad([seqs[i] for i in idx])})[0]
            out = np.zeros((len(seqs), probs.shape[1]), np.float32) if out is None else out
            out[idx] = probs
        return out

    def __call__(self, texts: list[str]) -> np.ndarray:
        return self.seqs(encode(self.tok, texts, self.max_tokens))


def batch_invariance(scorer: OnnxScorer, seqs: list[list[int]]) -> dict:
    """Max |Δp| between each text scored alone and inside length-sorted padded batches of 64."""
    alone = np.concatenate([scorer.sess.run(None, {"input_ids": pad([s])})[0] for s in seqs])
    batched = scorer.seqs(seqs, batch=64)
    rng = np.random.default_rng(0)  # also random (unsorted) batches: more padding per text
    perm = rng.permutation(len(seqs))
    shuffled = np.zeros_like(batched)
    for k in range(0, len(seqs), 64):
        idx = perm[k:k + 64]
        shuffled[idx] = scorer.sess.run(None, {"input_ids": pad([seqs[i] for i in idx])})[0]
    diff = max(float(np.abs(alone - batched).max()), float(np.abs(alone - shuffled).max()))
    return {"max_abs_diff": diff, "texts": len(seqs), "tolerance": 1e-6,
            "reference": "each test text alone vs in sorted and in random padded batches of 64"}


def unk_rates(tok: Tokenizer, splits_seqs: dict[str, list[list[int]]], max_tokens: int) -> dict:
    """[UNK] share of tokens and texts per split of the training dataset and on the built-in
    tweets corpus (another domain)."""
    names = {"train": "train", "val": "validation", "test": "test"}
    out = {names.get(k, k): unk_rate(tok, v) for k, v in splits_seqs.items()}
    try:
        tweets = datasets.load("tweets")
        out["tweets"] = unk_rate(tok, encode(tok, tweets.texts, max_tokens))
    except datasets.DataError as exc:
        log.warning("tweets [UNK] rate skipped: %s", exc)
    return out


def ood_tweets(scorer: OnnxScorer, labels: list[str]) -> dict:
    """Accuracy of the movie-review model on the positive/negative tweets of ``tweets``."""
    try:
        ds = datasets.load("tweets")
    except datasets.DataError as exc:
        return {"skipped": str(exc)}
    rows = [(t, lab) for t, lab in zip(ds.texts, ds.labels, strict=True) if lab in labels]
    y = np.asarray([labels.index(lab) for _, lab in rows])
    probs = scorer([t for t, _ in rows])
    pred = probs.argmax(axis=1)
    from sklearn.metrics import roc_auc_score

    return {"dataset": "tweets (positive/negative rows only)", "texts": len(rows),
            "accuracy": round(float(np.mean(pred == y)), 4),
            "roc_auc": round(float(roc_auc_score(y, probs[:, 1])), 4),
            "majority_class_accuracy": round(float(max(np.mean(y), 1 - np.mean(y))), 4)}


def behavioural(scorer: OnnxScorer, test_texts: list[str]) -> dict:
    return behaviour.run(scorer, test_texts)


def finish(result, tok: Tokenizer, tmp: Path, model_path: Path, labels: list[str], splits,  # noqa: ANN001
           cfg) -> dict:  # noqa: ANN001
    """Export, check parity and batch invariance, write the plots and the card's report fields."""
    from training.calibrate import reliability_plot
    from training.export import check_parity, to_onnx

    to_onnx(result.model, model_path, fp16_embedding=cfg.model.fp16_embedding)
    parity = check_parity(result.model, model_path, result.test_seqs)
    result.plot(tmp / "training.png")
    if result.curves:
        reliability_plot(*result.curves, tmp / "reliability.png")
    scorer = OnnxScorer(model_path, tok, cfg.tokenizer.max_tokens)
    out = {"parity": parity | {"weights": "as stored in model.onnx (fp16 table)"
                               if cfg.model.fp16_embedding else "float32"},
           "batch_invariance": batch_invariance(scorer, result.test_seqs),
           "unk_rate": unk_rates(tok, result.seqs, cfg.tokenizer.max_tokens)}
    if len(labels) == 2:
        out["behaviour"] = behavioural(scorer, splits.test[0])
        out["ood"] = {"tweets": ood_tweets(scorer, labels)}
    return out
