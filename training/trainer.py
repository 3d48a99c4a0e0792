"""Fit one student on the split (distilled from the cached teacher or on hard labels), fold in
a validation-fitted temperature and score the test split."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tokenizers import Tokenizer

from training.evaluate import metrics
from training.export import keras_probs
from training.fit import FitConfig, History, fit
from training.model import build_model
from training.plots import training_plot
from training.split import Splits

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """A trained model with its history and test-split figures."""

    model: keras.Model
    history: History
    seqs: dict[str, list[list[int]]]
    ys: dict[str, np.ndarray]
    test_metrics: dict
    clipnorm: float | None
    embedding_init: dict
    calibration: dict = field(default_factory=dict)
    curves: tuple = ()
    teacher: dict = field(default_factory=dict)
    train_rows: int = 0

    @property
    def test_seqs(self) -> list[list[int]]:
        return self.seqs["test"]

    def plot(self, path: Path) -> None:
        training_plot(self.history.epochs, self.history.grad_norms, self.clipnorm, path)


def encode(tok: Tokenizer, texts: list[str], max_tokens: int) -> list[list[int]]:
    """Unpadded, truncated token ids (the same ids serving will compute)."""
    tok.no_padding()
    try:
        return [e.ids[:max_tokens] for e in tok.encode_batch(texts)]
    finally:
        tok.enable_padding(pad_id=0, pad_token="[PAD]")


def pretrained_init(model: keras.Model, mcfg, tok: Tokenizer, seed: int,  # noqa: ANN001
                    train_seqs: list[list[int]] | None = None, kind: str = "word") -> dict:
    """Overwrite the Embedding's glorot values with pretrained vectors when configured: for the
    MiniLM vocabulary (``kind="minilm"``) the PCA-reduced table fitted on ``train_seqs``."""
    if not mcfg.pretrained:
        return {"kind": "glorot_uniform"}
    if kind == "minilm":
        from training.wordpiece import pca_table

        matrix, summary = pca_table(train_seqs, mcfg.embedding_dim, mcfg.pretrained_scale, seed)
    else:
        from training.embeddings import initial_embeddings

        vocab = [tok.id_to_token(i) for i in range(tok.get_vocab_size())]
        method = "static" if mcfg.pretrained_method == "pca" else mcfg.pretrained_method
        matrix, summary = initial_embeddings(vocab, mcfg.embedding_dim, mcfg.pretrained, method,
                                             mcfg.pretrained_scale, seed)
    model.get_layer("embedding").set_weights([matrix])
    return {"kind": "pretrained", **summary}


def split_data(tok: Tokenizer, splits: Splits, labels: list[str], maxt: int) -> tuple[dict, dict]:
    index = {lab: i for i, lab in enumerate(labels)}
    parts = (("train", splits.train), ("val", splits.val), ("test", splits.test))
    seqs = {k: encode(tok, s[0], maxt) for k, s in parts}
    ys = {k: np.asarray([index[lab] for lab in s[1]], dtype=np.int32) for k, s in parts}
    return seqs, ys


def training_set(cfg, tok: Tokenizer, seqs: dict, ys: dict) -> tuple[list, np.ndarray, dict]:  # noqa: ANN001
    """(inputs, targets, teacher summary): hard labels, or the teacher's probabilities on the
    training split plus the augmented transfer set."""
    if not cfg.distill:
        return seqs["train"], ys["train"], {}
    if int(ys["train"].max()) > 1:
        raise ValueError("distillation supports 2 classes; pass --no-distill for more")
    from training.teacher_cache import load

    t = load(cfg.dataset, cfg.split_seed, cfg.teacher, cfg.augment)
    if len(t.train) != len(seqs["train"]):
        raise ValueError("cached teacher labels do not match the training split; rerun the teacher")
    x = seqs["train"] + encode(tok, t.aug_texts, cfg.tokenizer.max_tokens)
    z = np.concatenate([t.train, t.aug]).astype(np.float64)
    y = (1 / (1 + np.exp(-z / cfg.distill_temperature))).astype(np.float32)
    keep = [i for i, s in enumerate(x) if s]
    summary = {"metrics": t.provenance["metrics"], "npz_sha256": t.provenance["npz_sha256"],
               "inputs": t.provenance["inputs"], "fine_tune": t.provenance["fine_tune"],
               "label_seconds": t.provenance["label_seconds"], "transfer_texts": len(t.aug_texts)}
    return [x[i] for i in keep], y[keep], summary


def train_and_evaluate(cfg, splits: Splits, labels: list[str], tok: Tokenizer, seed: int) -> TrainResult:  # noqa: ANN001
    """Seed, build, fit with early stopping, calibrate, then score the test split."""
    from training.calibrate import calibrate
    from training.fuse import round_embedding_fp16

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    seqs, ys = split_data(tok, splits, labels, cfg.tokenizer.max_tokens)
    x, y, teacher = training_set(cfg, tok, seqs, ys)
    model = build_model(cfg.model, tok.get_vocab_size(), len(labels), seed)
    init = pretrained_init(model, cfg.model, tok, seed, seqs["train"], cfg.tokenizer.kind)
    fit_cfg = FitConfig(cfg.epochs, cfg.batch_size, cfg.patience, seed, cfg.monitor)
    history = fit(model, (x, y), (seqs["val"], ys["val"]), fit_cfg, cfg.model.clipnorm,
                  verbose=cfg.verbose)
    if cfg.model.fp16_embedding:
        init["fp16_max_abs_rounding"] = round_embedding_fp16(model)
    calib, curves = {}, ()
    if len(labels) == 2 and cfg.calibrate:
        calib, curves = calibrate(model, (seqs["val"], ys["val"]), (seqs["test"], ys["test"]))
    test_metrics = metrics(ys["test"], keras_probs(model, seqs["test"]))
    log.info("seed %d: test accuracy %.4f auc %s", seed, test_metrics["accuracy"],
             test_metrics.get("roc_auc"))
    return TrainResult(model, history, seqs, ys, test_metrics, cfg.model.clipnorm, init, calib,
                       curves, teacher, len(x))
