"""Fit the Keras model: length-bucketed batches, early stopping, gradient-norm recording."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field

import keras
import numpy as np
import tensorflow as tf

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitConfig:
    """Training-loop options (recorded in the card)."""

    epochs: int = 12
    batch_size: int = 64
    patience: int = 2
    seed: int = 13
    monitor: str = "val_accuracy"  # val_accuracy | val_loss: early stopping and the epoch kept

    def to_dict(self) -> dict:
        return asdict(self)


def pad(seqs: list[list[int]], length: int | None = None) -> np.ndarray:
    """Right-pad id sequences with 0 to ``length`` (default: the longest; at least 1)."""
    width = length or max(1, max((len(s) for s in seqs), default=1))
    out = np.zeros((len(seqs), width), dtype=np.int32)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s[:width]
    return out


class BucketedBatches(keras.utils.PyDataset):
    """Shuffled batches of similar length, padded only to their longest member."""

    def __init__(self, seqs: list[list[int]], y: np.ndarray, batch_size: int, seed: int,
                 shuffle: bool = True) -> None:
        super().__init__()
        self.seqs, self.y, self.bs, self.shuffle = seqs, y, batch_size, shuffle
        self.rng = np.random.default_rng(seed)
        self.batches: list[np.ndarray] = []
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(len(self.seqs) / self.bs)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.batches[i]
        return pad([self.seqs[j] for j in idx]), self.y[idx]

    def on_epoch_end(self) -> None:
        order = self.rng.permutation(len(self.seqs)) if self.shuffle else np.arange(len(self.seqs))
        window = self.bs * 50
        chunks = [sorted(order[k:k + window], key=lambda j: len(self.seqs[j]))
                  for k in range(0, len(order), window)]
        flat = np.concatenate([np.asarray(c, dtype=np.int64) for c in chunks])
        batches = [flat[k:k + self.bs] for k in range(0, len(flat), self.bs)]
        if self.shuffle:
            self.rng.shuffle(batches)
        self.batches = batches


class GradNormRecorder(keras.callbacks.Callback):
    """Records the global gradient norm (before clipping) at every training step."""

    def __init__(self, clipnorm: float | None) -> None:
        super().__init__()
        self.clipnorm = clipnorm
        self.norms: list[float] = []
        self.clipped: list[bool] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        opt = self.model.optimizer
        self.norms.append(float(opt.global_norm.numpy()))
        self.clipped.append(bool(self.clipnorm) and float(opt.max_norm.numpy()) > self.clipnorm)

    def summary(self) -> dict:
        arr = np.asarray(self.norms)
        return {
            "clipnorm": self.clipnorm, "steps": int(arr.size),
            "global_norm_mean": float(arr.mean()) if arr.size else None,
            "global_norm_max": float(arr.max()) if arr.size else None,
            "global_norm_p50": float(np.median(arr)) if arr.size else None,
            "fraction_steps_clipped": float(np.mean(self.clipped)) if arr.size else 0.0,
            "note": "Keras clipnorm clips each gradient tensor to this norm; a step counts as "
                    "clipped when any tensor's norm exceeded it.",
        }


def track_gradient_norms(opt: keras.optimizers.Optimizer) -> None:
    """Make ``opt`` store the pre-clipping global and max per-tensor gradient norms each step."""
    opt.global_norm = tf.Variable(0.0, trainable=False, dtype=tf.float32)
    opt.max_norm = tf.Variable(0.0, trainable=False, dtype=tf.float32)
    original = opt.apply

    def apply(grads, trainable_variables=None):  # noqa: ANN001 - mirrors Keras' signature
        norms = [tf.norm(tf.convert_to_tensor(g)) for g in grads if g is not None]
        opt.global_norm.assign(tf.sqrt(tf.add_n([n * n for n in norms])))
        opt.max_norm.assign(tf.reduce_max(tf.stack(norms)))
        return original(grads, trainable_variables)

    opt.apply = apply


def as_tf_dataset(batches: BucketedBatches) -> tf.data.Dataset:
    """Wrap batches with an explicit [batch, time] signature, so every time length is accepted.

    (Keras infers a PyDataset's signature from its first batches, which can freeze the time
    axis when those batches happen to share one length.)
    """
    def gen():
        for i in range(len(batches)):
            yield batches[i]
        batches.on_epoch_end()

    sig = (tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,), tf.as_dtype(batches.y.dtype)))
    return tf.data.Dataset.from_generator(gen, output_signature=sig)


@dataclass
class History:
    """What fitting produced, for the card and the plots."""

    epochs: dict[str, list[float]] = field(default_factory=dict)
    grad_norms: list[float] = field(default_factory=list)
    clipping: dict = field(default_factory=dict)
    best_epoch: int = 0
    seconds: float = 0.0


def fit(model: keras.Model, train: tuple[list[list[int]], np.ndarray],
        val: tuple[list[list[int]], np.ndarray], cfg: FitConfig, clipnorm: float | None,
        verbose: int = 2) -> History:
    """Train with early stopping on ``cfg.monitor``, restoring the best epoch's weights."""
    import time

    track_gradient_norms(model.optimizer)
    recorder = GradNormRecorder(clipnorm)
    stop = keras.callbacks.EarlyStopping(monitor=cfg.monitor, patience=cfg.patience,
                                         restore_best_weights=True)
    tr = as_tf_dataset(BucketedBatches(train[0], train[1], cfg.batch_size, cfg.seed))
    va = as_tf_dataset(BucketedBatches(val[0], val[1], 256, cfg.seed, shuffle=False))
    t0 = time.perf_counter()
    hist = model.fit(tr, validation_data=va, epochs=cfg.epochs, callbacks=[recorder, stop],
                     verbose=verbose)
    seconds = time.perf_counter() - t0
    watched = hist.history[cfg.monitor]
    best = int(np.argmin(watched) if cfg.monitor.endswith("loss") else np.argmax(watched)) + 1
    log.info("trained %d epochs in %.1fs, best epoch %d", len(watched), seconds, best)
    return History({k: [float(v) for v in vs] for k, vs in hist.history.items()},
                   recorder.norms, recorder.summary(), best, seconds)
