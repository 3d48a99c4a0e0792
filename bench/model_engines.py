"""The model-level benchmark's engines: Keras model, plain tf2onnx export and fused export.

Set-up work that is not timed lives here: TensorFlow import (limited to one thread), the bundle's
test split tokenized, and the two ONNX exports of each seeded Keras model. tf2onnx's conversion
costs seconds per model, so the exports are cached in ``.cache/bench/model-engines/`` under a
key of everything they depend on (cell and dimensions, vocabulary, labels, library versions, the
export code); a cached export is used only if it still matches its Keras model to 1e-5 on real
texts, and every export's parity with Keras is recorded next to its figures.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from bench.model_timing import make_batches, ort_session
from bench.plain_bundle import cache_root
from bench.report import library_versions
from core.paths import PROJECT_ROOT as REPO_ROOT

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-5
WEIGHTS = "keras build_model seed 0, then every weight ~ N(0, 0.1) from default_rng(0)"
KEY_SOURCES = ("training/export.py", "training/fuse.py", "training/model.py")
KEY_LIBS = ("tensorflow-cpu", "tensorflow", "keras", "tf2onnx", "onnx")


@dataclass
class Prepared:
    """The untimed inputs of a model-level run (see ``prepare``)."""

    card: dict
    seqs: list[list[int]]
    keras_setting: str


def limit_tf_threads() -> str:
    """One TensorFlow thread too, so Keras gets the same CPU as onnxruntime (if still possible)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        return "keras eager model(x, training=False), TensorFlow 1 intra-op + 1 inter-op thread"
    except RuntimeError:  # TensorFlow already initialised by the caller
        return "keras eager model(x, training=False), TensorFlow default threads"


def load_test_seqs(bundle: Path) -> tuple[dict, list[list[int]]]:
    """The bundle's card and its dataset's test split as unpadded token ids (max_tokens cap)."""
    from tokenizers import Tokenizer

    from core.bundle import load_bundle
    from training import datasets
    from training.split import split

    b = load_bundle(bundle)
    spec = b.card["dataset"].get("spec", b.card["dataset"]["name"])
    test_texts = split(datasets.load(spec), seed=b.card["split"]["seed"]).test[0]
    tok = Tokenizer.from_file(str(b.tokenizer_path))
    tok.no_padding()
    return b.card, [e.ids[: b.max_tokens] for e in tok.encode_batch(test_texts)]


def prepare(bundle: Path) -> Prepared:
    """TensorFlow imported (1 thread) and the test split tokenized: the slow, untimed start of a
    model-level run, which ``bench.run`` overlaps with the service-level servers' start-up."""
    keras_setting = limit_tf_threads()
    card, seqs = load_test_seqs(bundle)
    return Prepared(card, seqs, keras_setting)


def export_key(cell: str, dims: dict, vocab: int, labels: int) -> str:
    """A digest of everything the exports of one seeded model depend on."""
    versions = library_versions(KEY_LIBS)
    code = {p: hashlib.sha256((REPO_ROOT / p).read_bytes()).hexdigest() for p in KEY_SOURCES}
    blob = json.dumps({"cell": cell, "dims": dims, "vocab": vocab, "labels": labels,
                       "weights": WEIGHTS, "libs": versions, "code": code}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parity(keras_fn, protos: dict[str, onnx.ModelProto], seqs: list[list[int]]) -> dict[str, float]:
    """Max |Δprobability| of each export vs the Keras model on one padded batch of 32 real texts
    (a Keras call takes ~0.3-1 s, so this is a spot check; tests/training checks parity fully)."""
    batches = make_batches(seqs, 32, seed=0)[:1]
    expected = [keras_fn(b) for b in batches]
    out = {}
    for name, proto in protos.items():
        sess = ort_session(proto)
        out[name] = max(float(np.max(np.abs(sess.run(None, {"input_ids": b})[0] - want)))
                        for b, want in zip(batches, expected, strict=True))
    return out


def convert_both(model) -> dict[str, onnx.ModelProto]:
    """tf2onnx's plain conversion and our fused graph pass over it."""
    from training.export import convert
    from training.fuse import fuse

    plain = convert(model, fused=False)
    return {"plain": plain, "fused": fuse(plain, model)}


def cached_exports(model, keras_fn, key: str, seqs: list[list[int]]) -> tuple[dict, dict, bool]:
    """(protos, parity, cache hit): the cached exports if they match Keras, else fresh ones."""
    folder = cache_root() / "model-engines" / key
    paths = {name: folder / f"{name}.onnx" for name in ("plain", "fused")}
    if all(p.is_file() for p in paths.values()):
        protos = {name: onnx.load(str(p)) for name, p in paths.items()}
        diffs = parity(keras_fn, protos, seqs)
        if max(diffs.values()) <= PARITY_TOLERANCE:
            return protos, diffs, True
        log.warning("cached exports in %s differ from Keras by %s: re-exporting", folder, diffs)
    protos = convert_both(model)
    diffs = parity(keras_fn, protos, seqs)
    if max(diffs.values()) > PARITY_TOLERANCE:
        log.warning("exports differ from Keras by %s (tolerance %g)", diffs, PARITY_TOLERANCE)
    folder.mkdir(parents=True, exist_ok=True)
    for name, proto in protos.items():  # write, then rename: a concurrent run never reads half
        tmp = paths[name].with_suffix(f".tmp{os.getpid()}")
        onnx.save_model(proto, str(tmp))
        os.replace(tmp, paths[name])
    return protos, diffs, False


def build_engines(card: dict, cell: str, vocab: int, seqs: list[list[int]]) -> tuple[dict, dict]:
    """Keras model (seeded weights), its plain tf2onnx export and the fused one, as callables."""
    from training.fuse import op_counts
    from training.model import ModelConfig, build_model, probability_model

    hp = card["hyperparameters"]["model"]
    cfg = ModelConfig(cell=cell, embedding_dim=hp["embedding_dim"], units=hp["units"],
                      bidirectional=hp["bidirectional"])
    model = build_model(cfg, vocab, len(card["labels"]), seed=0)
    rng = np.random.default_rng(0)
    for w in model.weights:  # non-trivial biases; values do not change the cost
        w.assign(rng.normal(scale=0.1, size=w.shape).astype("float32"))
    probs = probability_model(model)
    engines = {"keras": lambda x: np.asarray(probs(x, training=False))}
    dims = {"embedding": cfg.embedding_dim, "units": cfg.units, "bidirectional": cfg.bidirectional}
    key = export_key(cell, dims, vocab, len(card["labels"]))
    protos, diffs, hit = cached_exports(model, engines["keras"], key, seqs)
    for name, proto in protos.items():
        sess = ort_session(proto)
        engines[name] = lambda x, s=sess: s.run(None, {"input_ids": x})[0]
    info = {"dims": dims, "ops": {name: op_counts(p) for name, p in protos.items()},
            "parity_vs_keras": diffs, "exports_cached": hit}
    return engines, info
