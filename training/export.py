"""Export the trained Keras model to ONNX with tf2onnx and prove the export matches Keras.

The default export is *fused*: tf2onnx converts the model, then :mod:`training.fuse` replaces
the recurrent ``Loop`` tf2onnx emits for a masked LSTM / any Keras 3 GRU with one ONNX
``LSTM``/``GRU`` node fed with ``sequence_lens`` (same I/O contract, exact masking semantics).
``fused=False`` keeps tf2onnx's plain output (the reference in tests and benchmarks).
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np
import onnx
import onnxruntime as ort
import tensorflow as tf
import tf2onnx

from training.errors import DataError
from training.fit import pad
from training.fuse import fuse, op_counts
from training.model import probability_model

log = logging.getLogger(__name__)
OPSET = 17
PARITY_TOLERANCE = 1e-5


def convert(model: keras.Model, fused: bool = True, fp16_embedding: bool = False) -> onnx.ModelProto:
    """The probability-output model as ONNX (dynamic batch and time), fused or plain tf2onnx."""
    probs = probability_model(model)
    spec = (tf.TensorSpec((None, None), tf.int32, name="input_ids"),)
    proto, _ = tf2onnx.convert.from_keras(probs, input_signature=spec, opset=OPSET)
    if fused:
        proto = fuse(proto, model, fp16_embedding)
        log.info("fused export: %s", op_counts(proto))
    stable_dim_names(proto)
    stable_initializer_names(proto)
    return proto


def stable_initializer_names(proto: onnx.ModelProto) -> None:
    """Name tf2onnx's initializers ``const/<k>`` in order of first use and sort the list by name.
    tf2onnx merges equal constants (e.g. the 1.0 of pooling and of ``1 - p``); which original
    name survives, and the list's order, vary between runs while the weights never do."""
    graph = proto.graph
    inits = {i.name: i for i in graph.initializer}
    names: dict[str, str] = {}
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name in inits and not name.startswith("fused_rnn/"):
                node.input[k] = names.setdefault(name, f"const/{len(names)}")
    for old, new in names.items():
        inits[old].name = new
    ordered = sorted(graph.initializer, key=lambda i: i.name)  # tf2onnx's order varies too
    copies = [onnx.TensorProto() for _ in ordered]
    for dst, src in zip(copies, ordered, strict=True):
        dst.CopyFrom(src)
    del graph.initializer[:]
    graph.initializer.extend(copies)

def stable_dim_names(proto: onnx.ModelProto) -> None:
    """Rename tf2onnx's symbolic dims (``unk__<global counter>``, which differ from one export to
    the next in a process) so equal models serialize to equal bytes: the ids are [batch, time],
    the first output dim is batch, any other symbolic dim ``dim_<k>`` in order of appearance."""
    graph = proto.graph
    names: dict[str, str] = {}
    first_in = graph.input[0].type.tensor_type.shape.dim
    for d, new in zip(first_in, ("batch", "time"), strict=False):
        if d.dim_param:
            names.setdefault(d.dim_param, new)
    out0 = graph.output[0].type.tensor_type.shape.dim
    if out0 and out0[0].dim_param:
        names.setdefault(out0[0].dim_param, "batch")
    for vi in (*graph.input, *graph.output, *graph.value_info):
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param:
                d.dim_param = names.setdefault(d.dim_param, f"dim_{len(names)}")


def to_onnx(model: keras.Model, path: Path, fused: bool = True, fp16_embedding: bool = False) -> None:
    """Write the export to ``path``; ``fused`` (default) uses one ONNX LSTM/GRU node."""
    onnx.save_model(convert(model, fused, fp16_embedding), str(path))


def keras_probs(model: keras.Model, seqs: list[list[int]], batch: int = 256) -> np.ndarray:
    """Probabilities from Keras in [n, classes] form, batches padded to their longest."""
    probs = probability_model(model)
    parts = [np.asarray(probs(pad(seqs[i:i + batch]), training=False))
             for i in range(0, len(seqs), batch)]
    return np.concatenate(parts).astype(np.float64)


def onnx_probs(path: Path, seqs: list[list[int]], batch: int = 256) -> np.ndarray:
    """Probabilities from onnxruntime for the same batches."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    parts = [sess.run(None, {name: pad(seqs[i:i + batch])})[0] for i in range(0, len(seqs), batch)]
    return np.concatenate(parts).astype(np.float64)


def check_parity(model: keras.Model, path: Path, seqs: list[list[int]]) -> dict:
    """Max |Δprobability| between Keras and onnxruntime over ``seqs``; fails loudly above 1e-5."""
    diff = float(np.max(np.abs(keras_probs(model, seqs) - onnx_probs(path, seqs))))
    log.info("export parity: max |dp| = %.3g over %d texts", diff, len(seqs))
    if not diff <= PARITY_TOLERANCE:
        raise DataError(f"ONNX export differs from Keras by {diff:.3g} > {PARITY_TOLERANCE}")
    return {"max_abs_diff": diff, "texts": len(seqs), "tolerance": PARITY_TOLERANCE,
            "reference": "keras model(x) on the test split"}
