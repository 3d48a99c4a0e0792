"""Fine-tune the Keras MiniLM teacher on the training split, then label the transfer set.

AdamW (weight decay off for biases and LayerNorm), clipnorm 1.0, linear warm-up then linear
decay, batches of similar length, pieces with [CLS]/[SEP] truncated to ``max_pieces``. The epoch
kept is the one with the best validation accuracy. Its logits on train, validation, test and
the augmented transfer set are what distillation uses (cached by :mod:`training.teacher_cache`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import keras
import numpy as np
import tensorflow as tf
from tokenizers import Tokenizer

from training.evaluate import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TeacherConfig:
    """Fine-tuning options (part of the cache key)."""

    layers: int = 6
    epochs: int = 2
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup: float = 0.1
    batch_size: int = 32
    max_pieces: int = 64
    dropout: float = 0.1
    clipnorm: float = 1.0
    seed: int = 13

    def to_dict(self) -> dict:
        return asdict(self)


class WarmupLinear(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak`` over ``warmup`` steps, then linear decay to 0 at ``total``."""

    def __init__(self, peak: float, warmup: int, total: int) -> None:
        self.peak, self.warmup, self.total = peak, max(1, warmup), max(2, total)

    def __call__(self, step):  # noqa: ANN001, ANN204
        s = keras.ops.cast(step, "float32")
        up = s / self.warmup
        down = (self.total - s) / max(1, self.total - self.warmup)
        return self.peak * keras.ops.maximum(0.0, keras.ops.minimum(up, down))

    def get_config(self) -> dict:
        return {"peak": self.peak, "warmup": self.warmup, "total": self.total}


def piece_ids(tok: Tokenizer, texts: list[str], max_pieces: int) -> list[list[int]]:
    """[CLS] pieces [SEP], truncated to ``max_pieces`` (MiniLM's own tokenizer and post-processor)."""
    t = Tokenizer.from_str(tok.to_str())
    t.no_padding()
    t.enable_truncation(max_length=max_pieces)
    return [e.ids for e in t.encode_batch(texts)]


def _pad(seqs: list[list[int]], multiple: int = 1) -> np.ndarray:
    width = max(1, max(len(s) for s in seqs))
    width = -(-width // multiple) * multiple
    out = np.zeros((len(seqs), width), np.int32)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out


def _batches(seqs: list[list[int]], y: np.ndarray, bs: int, rng: np.random.Generator):  # noqa: ANN202
    order = rng.permutation(len(seqs))
    window = bs * 50
    chunks = [sorted(order[k:k + window], key=lambda j: len(seqs[j])) for k in range(0, len(order), window)]
    flat = np.concatenate([np.asarray(c, np.int64) for c in chunks])
    batches = [flat[k:k + bs] for k in range(0, len(flat), bs)]
    rng.shuffle(batches)
    for idx in batches:
        yield _pad([seqs[j] for j in idx]), y[idx]


def logits(model: keras.Model, seqs: list[list[int]], batch: int = 128) -> np.ndarray:
    """Teacher logits [n] in input order; batches sorted by length, widths rounded up to 8."""
    order = np.argsort([len(s) for s in seqs], kind="stable")
    out = np.zeros(len(seqs), np.float32)
    for k in range(0, len(order), batch):
        idx = order[k:k + batch]
        out[idx] = np.asarray(model.predict_on_batch(_pad([seqs[j] for j in idx], 8)))[:, 0]
    return out


def _optimizer(cfg: TeacherConfig, steps: int) -> keras.optimizers.Optimizer:
    sched = WarmupLinear(cfg.learning_rate, int(cfg.warmup * steps), steps)
    opt = keras.optimizers.AdamW(sched, weight_decay=cfg.weight_decay, clipnorm=cfg.clipnorm)
    opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return opt


def fine_tune(weights: dict, tok: Tokenizer, train: tuple[list[str], np.ndarray],
              val: tuple[list[str], np.ndarray], cfg: TeacherConfig) -> tuple[keras.Model, dict]:
    """Fine-tune and keep the epoch with the best validation accuracy; returns (model, log)."""
    from training.teacher_model import build_teacher

    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    model = build_teacher(weights, cfg.layers, cfg.dropout, cfg.seed)
    seqs, vseqs = piece_ids(tok, train[0], cfg.max_pieces), piece_ids(tok, val[0], cfg.max_pieces)
    steps = cfg.epochs * -(-len(seqs) // cfg.batch_size)
    model.compile(optimizer=_optimizer(cfg, steps),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    rng = np.random.default_rng(cfg.seed)
    history, best, best_w, t0 = [], -1.0, None, time.perf_counter()
    sig = (tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,), tf.float32))
    for epoch in range(cfg.epochs):
        y = train[1].astype(np.float32)
        ds = tf.data.Dataset.from_generator(lambda y=y: _batches(seqs, y, cfg.batch_size, rng),
                                            output_signature=sig)
        h = model.fit(ds, epochs=1, verbose=2)
        vprob = 1 / (1 + np.exp(-logits(model, vseqs)))
        vm = metrics(val[1], np.stack([1 - vprob, vprob], 1))
        history.append({"epoch": epoch + 1, "loss": float(h.history["loss"][-1]),
                        "val_accuracy": vm["accuracy"], "val_roc_auc": vm["roc_auc"],
                        "seconds": round(time.perf_counter() - t0, 1)})
        log.info("teacher epoch %d: %s", epoch + 1, history[-1])
        if vm["accuracy"] > best:
            best, best_w = vm["accuracy"], [w.copy() for w in model.get_weights()]
    model.set_weights(best_w)
    best_epoch = max(history, key=lambda r: r["val_accuracy"])["epoch"]
    return model, {"epochs": history, "best_epoch": best_epoch,
                   "fine_tune_seconds": round(time.perf_counter() - t0, 1)}
