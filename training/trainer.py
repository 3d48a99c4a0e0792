"""Fit the model on the split and evaluate it next to the TF-IDF baseline."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from tokenizers import Tokenizer

from training.evaluate import baseline, metrics
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
    test_seqs: list[list[int]]
    test_metrics: dict
    baseline_metrics: dict
    clipnorm: float | None
    embedding_init: dict

    def plot(self, path: Path) -> None:
        training_plot(self.history.epochs, self.history.grad_norms, self.clipnorm, path)


def encode(tok: Tokenizer, texts: list[str], max_tokens: int) -> list[list[int]]:
    """Unpadded, truncated token ids (the same ids serving will compute)."""
    tok.no_padding()
    try:
        return [e.ids[:max_tokens] for e in tok.encode_batch(texts)]
    finally:
        tok.enable_padding(pad_id=0, pad_token="[PAD]")


def pretrained_init(model: keras.Model, mcfg, tok: Tokenizer, seed: int) -> dict:
    """Overwrite the Embedding's glorot values with pretrained vectors when configured."""
    if not mcfg.pretrained:
        return {"kind": "glorot_uniform"}
    from training.embeddings import initial_embeddings

    vocab = [tok.id_to_token(i) for i in range(tok.get_vocab_size())]
    matrix, summary = initial_embeddings(vocab, mcfg.embedding_dim, mcfg.pretrained,
                                         mcfg.pretrained_method, mcfg.pretrained_scale, seed)
    model.get_layer("embedding").set_weights([matrix])
    return {"kind": "pretrained", **summary}


def train_and_evaluate(cfg, splits: Splits, labels: list[str], tok: Tokenizer) -> TrainResult:
    """Seed, build, fit with early stopping, then score the test split and the baseline."""
    keras.utils.set_random_seed(cfg.seed)
    index = {lab: i for i, lab in enumerate(labels)}
    maxt = cfg.tokenizer.max_tokens
    seqs = {k: encode(tok, s[0], maxt) for k, s in
            (("train", splits.train), ("val", splits.val), ("test", splits.test))}
    ys = {k: np.asarray([index[lab] for lab in s[1]], dtype=np.int32) for k, s in
          (("train", splits.train), ("val", splits.val), ("test", splits.test))}
    model = build_model(cfg.model, tok.get_vocab_size(), len(labels), cfg.seed)
    init = pretrained_init(model, cfg.model, tok, cfg.seed)
    fit_cfg = FitConfig(cfg.epochs, cfg.batch_size, cfg.patience, cfg.seed)
    history = fit(model, (seqs["train"], ys["train"]), (seqs["val"], ys["val"]), fit_cfg,
                  cfg.model.clipnorm, verbose=cfg.verbose)
    test_metrics = metrics(ys["test"], keras_probs(model, seqs["test"]))
    base = baseline(splits.train[0], ys["train"], splits.test[0], ys["test"], cfg.seed)
    log.info("test accuracy %.4f (baseline %.4f)", test_metrics["accuracy"], base["accuracy"])
    return TrainResult(model, history, seqs["test"], test_metrics, base, cfg.model.clipnorm, init)
