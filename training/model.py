"""The Keras 3 many-to-one classifier: Embedding(mask_zero) -> [Bi]LSTM/GRU -> pooling -> Dropout -> Dense.

``pooling="last"`` uses the final state; ``"meanmax"`` masked mean + max over every step's
output (:mod:`training.pooling`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
from keras import layers

from training.pooling import MaskedMeanMax


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and optimizer options (all recorded in the card)."""

    cell: str = "lstm"  # lstm | gru
    embedding_dim: int = 128
    units: int = 128
    bidirectional: bool = False
    embedding_dropout: float = 0.3
    dropout: float = 0.5
    recurrent_initializer: str = "glorot_uniform"
    learning_rate: float = 2e-3
    clipnorm: float | None = 1.0
    clipvalue: float | None = None
    l2: float = 0.0
    pretrained: str | None = "minilm"  # initial Embedding values: minilm | None (random)
    pretrained_method: str = "pca"  # pca (minilm vocabulary) | static | contextual (word vocabulary)
    pretrained_scale: float = 0.1
    pooling: str = "meanmax"  # meanmax | last
    fp16_embedding: bool = True  # the exported table is fp16; Keras uses the same rounded values

    def to_dict(self) -> dict:
        return asdict(self)


def _glorot(seed: int, offset: int) -> keras.initializers.Initializer:
    return keras.initializers.GlorotUniform(seed=seed + offset)


def _rnn(cfg: ModelConfig, seed: int) -> layers.Layer:
    kind = {"lstm": layers.LSTM, "gru": layers.GRU}.get(cfg.cell)
    if kind is None:
        raise ValueError(f"unknown cell {cfg.cell!r}: use lstm or gru")
    rec = _glorot(seed, 2) if cfg.recurrent_initializer == "glorot_uniform" else cfg.recurrent_initializer
    extra = {"reset_after": True} if cfg.cell == "gru" else {}
    rnn = kind(cfg.units, kernel_initializer=_glorot(seed, 1), recurrent_initializer=rec,
               return_sequences=cfg.pooling == "meanmax", name=cfg.cell, **extra)
    return layers.Bidirectional(rnn, name=f"bi_{cfg.cell}") if cfg.bidirectional else rnn


def build_model(cfg: ModelConfig, vocab_size: int, num_classes: int, seed: int) -> keras.Model:
    """Build and compile the classifier; binary tasks get one sigmoid unit, others softmax."""
    ids = keras.Input(shape=(None,), dtype="int32", name="input_ids")
    x = layers.Embedding(vocab_size, cfg.embedding_dim, mask_zero=True,
                         embeddings_initializer=_glorot(seed, 0), name="embedding")(ids)
    if cfg.embedding_dropout:
        x = layers.SpatialDropout1D(cfg.embedding_dropout, seed=seed, name="embedding_dropout")(x)
    x = _rnn(cfg, seed)(x)
    if cfg.pooling == "meanmax":
        x = MaskedMeanMax(name="pool")([x, ids])
    elif cfg.pooling != "last":
        raise ValueError(f"unknown pooling {cfg.pooling!r}: use meanmax or last")
    x = layers.Dropout(cfg.dropout, seed=seed, name="dropout")(x)
    binary = num_classes == 2
    reg = keras.regularizers.L2(cfg.l2) if cfg.l2 else None
    out = layers.Dense(1 if binary else num_classes, activation="sigmoid" if binary else "softmax",
                       kernel_initializer=_glorot(seed, 3), kernel_regularizer=reg, name="classifier")(x)
    model = keras.Model(ids, out, name=f"sentiment_{cfg.cell}")
    opt = keras.optimizers.Adam(cfg.learning_rate, clipnorm=cfg.clipnorm, clipvalue=cfg.clipvalue)
    loss = "binary_crossentropy" if binary else "sparse_categorical_crossentropy"
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
    return model


def probability_model(model: keras.Model) -> keras.Model:
    """Wrap a trained model so it always outputs [batch, classes] probabilities (for export)."""
    if model.output.shape[-1] != 1:
        return model
    p = model.output
    both = layers.Concatenate(name="probabilities")([1.0 - p, p])
    return keras.Model(model.input, both, name=model.name + "_probs")
