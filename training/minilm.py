"""A numpy forward pass of the MiniLM (BERT) encoder, used only to derive initial word vectors.

``encode_words`` runs each word alone (``[CLS] pieces [SEP]``) through the 6 encoder layers and
mean-pools the outputs, as sentence-transformers' all-MiniLM-L6-v2 does, then L2-normalizes.
Words with the same number of pieces are batched together, so no attention mask is needed.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

CLS, SEP = 101, 102
HEADS = 12
EPS = 1e-12


def _layer_norm(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * w[name + ".weight"] + w[name + ".bias"]


def _dense(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    # 2-D matmul: numpy's batched matmul with a transposed operand skips BLAS and is ~100x slower
    out = x.reshape(-1, x.shape[-1]) @ w[name + ".weight"].T + w[name + ".bias"]
    return out.reshape(*x.shape[:-1], -1)


def _attention(x: np.ndarray, w: dict[str, np.ndarray], p: str) -> np.ndarray:
    b, t, h = x.shape
    d = h // HEADS

    def heads(name: str) -> np.ndarray:
        out = _dense(x, w, f"{p}.attention.self.{name}").reshape(b, t, HEADS, d)
        return np.ascontiguousarray(out.transpose(0, 2, 1, 3))

    q, k, v = heads("query"), heads("key"), heads("value")
    scores = np.einsum("bhqd,bhkd->bhqk", q, k) * np.float32(1 / np.sqrt(d))
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    ctx = np.einsum("bhqk,bhkd->bhqd", scores / scores.sum(axis=-1, keepdims=True), v)
    return ctx.transpose(0, 2, 1, 3).reshape(b, t, h)


def _layer(x: np.ndarray, w: dict[str, np.ndarray], i: int) -> np.ndarray:
    p = f"encoder.layer.{i}"
    x = _layer_norm(x + _dense(_attention(x, w, p), w, f"{p}.attention.output.dense"), w,
                    f"{p}.attention.output.LayerNorm")
    hid = _dense(x, w, f"{p}.intermediate.dense")
    hid = np.float32(0.5) * hid * (np.float32(1.0) + erf(hid * np.float32(1 / np.sqrt(2.0))))
    return _layer_norm(x + _dense(hid, w, f"{p}.output.dense"), w, f"{p}.output.LayerNorm")


def forward(w: dict[str, np.ndarray], ids: np.ndarray) -> np.ndarray:
    """Last hidden states [batch, time, hidden] for unpadded id rows of equal length."""
    t = ids.shape[1]
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = _layer_norm(x.astype(np.float32), w, "embeddings.LayerNorm")
    layers = sum(1 for k in w if k.endswith(".attention.self.query.weight"))
    for i in range(layers):
        x = _layer(x, w, i)
    return x


def encode_words(w: dict[str, np.ndarray], pieces: list[list[int]], batch: int = 512) -> np.ndarray:
    """Mean-pooled, L2-normalized MiniLM vectors [len(pieces), hidden] of single words."""
    out = np.zeros((len(pieces), w["embeddings.word_embeddings.weight"].shape[1]), np.float32)
    by_len: dict[int, list[int]] = {}
    for i, p in enumerate(pieces):
        by_len.setdefault(len(p), []).append(i)
    for rows in by_len.values():
        for k in range(0, len(rows), batch):
            part = rows[k:k + batch]
            ids = np.asarray([[CLS, *pieces[i], SEP] for i in part], dtype=np.int64)
            pooled = forward(w, ids).mean(axis=1)
            out[part] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return out
