"""A plain-tf2onnx bundle of the same weights as a (fused) bundle, for the no-batching baseline.

The shipped bundle stores only ONNX. When its graph holds a fused ``LSTM``/``GRU`` node, this
module rebuilds the Keras model from the ONNX weights (embedding, W/R/B with ONNX i,o,f,c ->
Keras i,f,c,o gate order for the LSTM; GRU z,r,h with ``linear_before_reset=1`` ->
``reset_after=True``; dense head), converts it with tf2onnx's plain conversion
(``training.export.convert(fused=False)``), checks it against the bundle on real texts and
writes a bundle into a cache folder keyed by the source version. A bundle whose graph is
already a plain tf2onnx ``Loop`` is returned as is. Needs TensorFlow (benchmark side only).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from core.bundle import Bundle, load_bundle

log = logging.getLogger(__name__)
PARITY_TOLERANCE = 1e-5
RNN_OPS = ("LSTM", "GRU")


def cache_root() -> Path:
    """``$SENTIMENT_BENCH_CACHE`` or ``<repo>/.cache/bench`` (git-ignored)."""
    env = os.environ.get("SENTIMENT_BENCH_CACHE")
    return Path(env) if env else Path(__file__).resolve().parents[1] / ".cache" / "bench"


def rnn_node(graph: onnx.GraphProto) -> onnx.NodeProto | None:
    """The fused recurrent node of a top-level graph, if any."""
    found = [n for n in graph.node if n.op_type in RNN_OPS]
    return found[0] if len(found) == 1 else None


def _weights(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in graph.initializer}


def _consumer_of(graph: onnx.GraphProto, name: str, op: str) -> onnx.NodeProto:
    for node in graph.node:
        if node.op_type == op and name in node.input:
            return node
    raise ValueError(f"no {op} consumes {name!r}: not a graph written by training.fuse")


def onnx_layers(proto: onnx.ModelProto) -> dict:
    """Embedding, recurrent weights (ONNX layout) and dense head of a fused export."""
    graph, w = proto.graph, _weights(proto.graph)
    node = rnn_node(graph)
    if node is None:
        raise ValueError("the graph holds no single fused LSTM/GRU node")
    gathers = [n for n in graph.node if n.op_type == "Gather" and n.input[0] in w]
    if len(gathers) != 1:
        raise ValueError("expected one embedding Gather on an initializer")
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    dirs = 2 if attrs.get("direction", b"forward") in (b"bidirectional", "bidirectional") else 1
    heads = [n for n in graph.node if n.op_type == "MatMul"
             and any(i in w and w[i].shape[0] == dirs * int(attrs["hidden_size"]) for i in n.input)]
    if len(heads) != 1:
        raise ValueError("expected one dense-head MatMul after the recurrent node")
    head = heads[0]
    add = _consumer_of(graph, head.output[0], "Add")
    bias = next(w[i] for i in add.input if i in w)
    direction = attrs.get("direction", b"forward")
    return {"op": node.op_type, "embedding": w[gathers[0].input[0]],
            "W": w[node.input[1]], "R": w[node.input[2]], "B": w[node.input[3]],
            "hidden": int(attrs["hidden_size"]),
            "direction": direction.decode() if isinstance(direction, bytes) else direction,
            "linear_before_reset": int(attrs.get("linear_before_reset", 0)),
            "kernel": next(w[i] for i in head.input if i in w), "bias": bias.reshape(-1)}


def keras_cell_weights(op: str, W: np.ndarray, R: np.ndarray, B: np.ndarray, hidden: int,
                       linear_before_reset: int) -> list[np.ndarray]:
    """One direction's ONNX W [G*h, e], R [G*h, h], B [2*G*h] as Keras [kernel, rec, bias]."""
    if op == "LSTM":
        order = [0, 2, 3, 1]  # ONNX i,o,f,c -> Keras i,f,c,o

        def reorder(a: np.ndarray) -> np.ndarray:
            return a.reshape(4, hidden, *a.shape[1:])[order].reshape(a.shape)

        wb, rb = B[:4 * hidden], B[4 * hidden:]
        return [reorder(W).T, reorder(R).T, reorder(wb + rb)]
    if not linear_before_reset:
        raise ValueError("a GRU with linear_before_reset=0 has no Keras 3 reset_after=True twin")
    return [W.T, R.T, B.reshape(2, 3 * hidden)]


def build_keras(op: str, embedding: np.ndarray, hidden: int, direction: str,
                cells: list[list[np.ndarray]], kernel: np.ndarray, bias: np.ndarray):
    """Embedding(mask_zero) -> [Bi]LSTM/GRU -> Dense with the given Keras-layout weights."""
    import keras

    vocab, dim = embedding.shape
    out_units = kernel.shape[1]
    ids = keras.Input(shape=(None,), dtype="int32", name="input_ids")
    x = keras.layers.Embedding(vocab, dim, mask_zero=True, name="embedding")(ids)
    kind = keras.layers.LSTM if op == "LSTM" else keras.layers.GRU
    extra = {"reset_after": True} if op == "GRU" else {}
    rnn = kind(hidden, return_sequences=False, name=op.lower(), **extra)
    if direction == "bidirectional":
        rnn = keras.layers.Bidirectional(rnn, name=f"bi_{op.lower()}")
    x = rnn(x)
    act = "sigmoid" if out_units == 1 else "softmax"
    model = keras.Model(ids, keras.layers.Dense(out_units, activation=act, name="classifier")(x))
    model.set_weights([embedding, *[a for c in cells for a in c], kernel, bias])
    return model


def keras_model(layers_: dict):
    """The Keras twin of the fused graph: Embedding(mask_zero) -> [Bi]LSTM/GRU -> Dense."""
    h, op = layers_["hidden"], layers_["op"]
    cells = [keras_cell_weights(op, layers_["W"][d], layers_["R"][d], layers_["B"][d], h,
                                layers_["linear_before_reset"]) for d in range(len(layers_["W"]))]
    return build_keras(op, layers_["embedding"], h, layers_["direction"], cells,
                       layers_["kernel"], layers_["bias"])


def max_abs_diff(a: Path, b: Path, texts: list[str]) -> float:
    """Largest |Δprobability| between two bundles' runtimes on ``texts``."""
    from core.runtime import Predictor

    return float(np.max(np.abs(Predictor(a).predict_proba(texts) - Predictor(b).predict_proba(texts))))


def fill_derived(tmp: Path, proto: onnx.ModelProto, bundle: Bundle, suffix: str, how: str) -> dict:
    """Write ``proto`` + the source bundle's tokenizer into ``tmp``; return the derived card."""
    onnx.save_model(proto, str(tmp / "model.onnx"))
    shutil.copyfile(bundle.tokenizer_path, tmp / "tokenizer.json")
    keep = {k: v for k, v in bundle.card.items() if k not in ("files", "version", "format")}
    return {**keep, "name": f"{bundle.name}-{suffix}",
            "derived_from": {"bundle": str(bundle.path), "version": bundle.version, "how": how}}


def plain_bundle(source: str | Path, texts: list[str], cache: Path | None = None) -> Path:
    """Path of a plain-tf2onnx bundle with ``source``'s weights (built once per source version)."""
    bundle: Bundle = load_bundle(source)
    proto = onnx.load(str(bundle.model_path))
    if rnn_node(proto.graph) is None:
        log.info("bundle %s is already a plain tf2onnx export", bundle.path)
        return bundle.path
    dest = (cache or cache_root()) / f"plain-{bundle.name}-{bundle.version}"
    if bundle.card.get("hyperparameters", {}).get("model", {}).get("pooling", "last") != "last":
        # the unfusing below rebuilds tf2onnx's last-state graph; a pooled head (mean + max over
        # the LSTM's outputs) has no such rebuild here, so the baseline is the bundle itself
        log.warning("bundle %s pools over the recurrent outputs: no plain tf2onnx rebuild, "
                    "the baselines run on the bundle itself", bundle.path)
        return bundle.path
    if dest.is_dir():
        load_bundle(dest)
        return dest
    _build(bundle, proto, dest)
    diff = max_abs_diff(bundle.path, dest, texts)
    if not diff <= PARITY_TOLERANCE:
        shutil.rmtree(dest, ignore_errors=True)
        raise RuntimeError(f"plain re-export differs from {bundle.path} by {diff:.3g}")
    log.info("plain tf2onnx bundle %s (max |dp| vs the fused bundle %.2g)", dest, diff)
    return dest


def _build(bundle: Bundle, proto: onnx.ModelProto, dest: Path) -> None:
    from core.bundle_writer import write_bundle
    from training.export import convert

    model = keras_model(onnx_layers(proto))
    if model.output.shape[-1] == 1 and len(bundle.labels) != 2:
        raise ValueError("a one-unit head needs exactly two labels")
    plain = convert(model, fused=False)

    how = "Keras rebuilt from the ONNX weights, tf2onnx plain convert"
    write_bundle(dest, lambda tmp: fill_derived(tmp, plain, bundle, "plain", how), force=True)
