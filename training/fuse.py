"""Graph pass over tf2onnx's output: swap the recurrent ``Loop`` for one fused ONNX LSTM/GRU node.

tf2onnx turns a masked Keras LSTM and every Keras 3 GRU into a ``Loop`` of small ops (tf2onnx
issue #1871), ~5-10x slower than onnxruntime's fused kernels. This pass keeps tf2onnx's
conversion of the classifier head and probability output, and replaces everything between
``input_ids`` and the classifier ``MatMul`` (embedding lookup included) with::

    ids_tb   = Transpose(input_ids)                         # time-major ids
    seq_lens = ReduceSum(Cast(Cast(ids_tb, bool)), 0)       # Keras mask_zero, right padding
    x        = Gather(embeddings, ids_tb)  [-> Cast to float when the table is stored fp16]
    Y, Y_h   = LSTM|GRU(x, W, R, B, seq_lens)               # [time, dirs, batch, h], [dirs, batch, h]
    features = Squeeze(Y_h, 0) | Reshape(Transpose(Y_h), [0, -1])  # Keras concat(fw, bw)
    features = concat(masked mean, masked max) of Y over time   # with MaskedMeanMax pooling

The pooled form never reads Y past a row's length: onnxruntime zero-fills those steps while
Keras carries its state, so both sides mask explicitly with the same formula
(:mod:`training.pooling`); a row of zero tokens gets mean 0 and max 0 on both sides.

W/R/B come from the Keras weights with gate reordering (Keras LSTM i,f,c,o -> ONNX i,o,f,c;
Keras GRU z,r,h keeps its order, ``reset_after`` -> ``linear_before_reset=1`` with its two bias
rows as ONNX Wb and Rb). Rows of zero tokens: onnxruntime returns a zero state for
``sequence_lens == 0``, exactly Keras' all-masked result (checked by tests/training/test_fuse.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import keras
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from training.pooling import NEG, MaskedMeanMax

PREFIX = "fused_rnn"


@dataclass(frozen=True)
class RnnSpec:
    """Everything the fused ONNX node needs, taken from the Keras layer."""

    op: str  # "LSTM" | "GRU"
    hidden: int
    direction: str  # "forward" | "bidirectional"
    W: np.ndarray
    R: np.ndarray
    B: np.ndarray
    linear_before_reset: int = 0


def _find_rnn(model: keras.Model) -> keras.layers.Layer:
    found = [lay for lay in model.layers
             if isinstance(lay, keras.layers.LSTM | keras.layers.GRU | keras.layers.Bidirectional)]
    if len(found) != 1:
        raise ValueError(f"fused export needs exactly one recurrent layer, found {len(found)}")
    return found[0]


def _check_cell(layer: keras.layers.Layer) -> None:
    cfg = layer.get_config()
    if cfg.get("activation") != "tanh" or cfg.get("recurrent_activation") != "sigmoid":
        raise ValueError("fused export supports tanh/sigmoid activations only")
    if not cfg.get("use_bias", True) or cfg.get("stateful"):
        raise ValueError("fused export needs use_bias=True, stateful=False")


def _direction_weights(layer: keras.layers.Layer) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(W, R, B, linear_before_reset) for one direction in ONNX layout and gate order."""
    _check_cell(layer)
    cell = layer.cell
    kernel = np.asarray(cell.kernel.numpy(), np.float32)
    rec = np.asarray(cell.recurrent_kernel.numpy(), np.float32)
    bias = np.asarray(cell.bias.numpy(), np.float32)
    h = cell.units
    if isinstance(layer, keras.layers.LSTM):
        order = [0, 3, 1, 2]  # Keras i,f,c,o -> ONNX i,o,f,c

        def reorder(a: np.ndarray) -> np.ndarray:
            return a.reshape(4, h, *a.shape[1:])[order].reshape(a.shape)

        b = np.concatenate([reorder(bias), np.zeros(4 * h, np.float32)])
        return reorder(kernel.T), reorder(rec.T), b, 0
    if cell.reset_after:  # two bias rows: input (Wb) and recurrent (Rb), gates z,r,h
        return kernel.T, rec.T, bias.reshape(-1), 1
    return kernel.T, rec.T, np.concatenate([bias, np.zeros(3 * h, np.float32)]), 0


def rnn_spec(model: keras.Model) -> RnnSpec:
    """Read the single (Bi)LSTM/GRU layer of ``model`` into ONNX weight tensors."""
    layer = _find_rnn(model)
    if isinstance(layer, keras.layers.Bidirectional):
        if layer.merge_mode != "concat":
            raise ValueError(f"fused export supports merge_mode='concat', not {layer.merge_mode!r}")
        parts = [_direction_weights(layer.forward_layer), _direction_weights(layer.backward_layer)]
        inner, direction = layer.forward_layer, "bidirectional"
    else:
        if layer.go_backwards:
            raise ValueError("fused export does not support go_backwards on a plain layer")
        parts, inner, direction = [_direction_weights(layer)], layer, "forward"
    W, R, B = (np.stack([p[i] for p in parts]) for i in range(3))
    op = "LSTM" if isinstance(inner, keras.layers.LSTM) else "GRU"
    return RnnSpec(op, inner.cell.units, direction, W, R, B, parts[0][3])


def _only(model: keras.Model, kind: type) -> keras.layers.Layer:
    found = [lay for lay in model.layers if isinstance(lay, kind)]
    if len(found) != 1:
        raise ValueError(f"fused export needs one {kind.__name__} layer, found {len(found)}")
    return found[0]


def _initializer(graph: onnx.GraphProto, name: str) -> np.ndarray | None:
    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    return None


def _consumer(graph: onnx.GraphProto, op: str, weight: np.ndarray) -> onnx.NodeProto:
    """The one ``op`` node whose initializer input holds exactly ``weight``."""
    hits = []
    for node in graph.node:
        if node.op_type != op:
            continue
        arrays = [_initializer(graph, name) for name in node.input]
        if any(a is not None and a.shape == weight.shape and np.array_equal(a, weight)
               for a in arrays):
            hits.append(node)
    if len(hits) != 1:
        raise ValueError(f"expected one {op} on a {weight.shape} weight in the tf2onnx graph, "
                         f"found {len(hits)}")
    return hits[0]


def _pool_nodes(spec: RnnSpec, out: str) -> tuple[list, list]:
    """Masked mean + max over time of Y (``training.pooling`` formula) -> ``out`` [batch, 2*dirs*h]."""
    p = PREFIX
    inits = [numpy_helper.from_array(np.array([1], np.int64), f"{p}/axis1"),
             numpy_helper.from_array(np.array([2], np.int64), f"{p}/axis2"),
             numpy_helper.from_array(np.array([0, 0, -1], np.int64), f"{p}/seq_shape"),
             numpy_helper.from_array(np.array(1.0, np.float32), f"{p}/one"),
             numpy_helper.from_array(np.array(0.0, np.float32), f"{p}/zero"),
             numpy_helper.from_array(np.array(NEG, np.float32), f"{p}/neg")]
    mk = helper.make_node
    if spec.direction == "forward":  # [T,1,B,h] -> [T,B,h]
        nodes = [mk("Squeeze", [f"{p}/y", f"{p}/axis1"], [f"{p}/seq"])]
    else:  # [T,2,B,h] -> [T,B,2,h] -> [T,B,2h] = Keras concat(forward, backward) per step
        nodes = [mk("Transpose", [f"{p}/y"], [f"{p}/y_tb"], perm=[0, 2, 1, 3]),
                 mk("Reshape", [f"{p}/y_tb", f"{p}/seq_shape"], [f"{p}/seq"])]
    nodes += [
        mk("Unsqueeze", [f"{p}/mask", f"{p}/axis2"], [f"{p}/mask3"]),  # [T,B,1] bool
        mk("Cast", [f"{p}/mask3"], [f"{p}/m3"], to=TensorProto.FLOAT),
        mk("Mul", [f"{p}/seq", f"{p}/m3"], [f"{p}/masked"]),
        mk("ReduceSum", [f"{p}/masked", f"{p}/time_axis"], [f"{p}/sum"], keepdims=0),
        mk("ReduceSum", [f"{p}/m3", f"{p}/time_axis"], [f"{p}/lens"], keepdims=0),  # [B,1]
        mk("Max", [f"{p}/lens", f"{p}/one"], [f"{p}/denom"]),
        mk("Div", [f"{p}/sum", f"{p}/denom"], [f"{p}/mean"]),
        mk("Where", [f"{p}/mask3", f"{p}/seq", f"{p}/neg"], [f"{p}/filled"]),
        mk("ReduceMax", [f"{p}/filled"], [f"{p}/max_raw"], axes=[0], keepdims=0),
        mk("Greater", [f"{p}/lens", f"{p}/zero"], [f"{p}/has"]),
        mk("Where", [f"{p}/has", f"{p}/max_raw", f"{p}/zero"], [f"{p}/max"]),
        mk("Concat", [f"{p}/mean", f"{p}/max"], [out], axis=1),
    ]
    return nodes, inits


def _fused_nodes(spec: RnnSpec, ids: str, table: str, out: str, pooled: bool = False,
                 fp16: bool = False) -> tuple[list, list]:
    """Nodes and initializers computing ``out`` = final RNN state(s) from the ids.

    The ids are transposed to time-major before the embedding lookup (cheaper than transposing
    the embedded floats); ONNX ``Gather`` wraps negative ids like Keras' ``take`` does.
    """
    p = PREFIX
    inits = [numpy_helper.from_array(spec.W, f"{p}/W"), numpy_helper.from_array(spec.R, f"{p}/R"),
             numpy_helper.from_array(spec.B, f"{p}/B"),
             numpy_helper.from_array(np.array([0], np.int64), f"{p}/time_axis"),
             numpy_helper.from_array(np.array([0, -1], np.int64), f"{p}/flat_shape")]
    attrs = {"hidden_size": spec.hidden, "direction": spec.direction}
    if spec.op == "GRU":
        attrs["linear_before_reset"] = spec.linear_before_reset
    nodes = [
        helper.make_node("Transpose", [ids], [f"{p}/ids_tb"], perm=[1, 0]),
        helper.make_node("Cast", [f"{p}/ids_tb"], [f"{p}/mask"], to=TensorProto.BOOL),  # id != 0
        helper.make_node("Cast", [f"{p}/mask"], [f"{p}/mask_i32"], to=TensorProto.INT32),
        helper.make_node("ReduceSum", [f"{p}/mask_i32", f"{p}/time_axis"], [f"{p}/seq_lens"],
                         keepdims=0),
        helper.make_node("Gather", [table, f"{p}/ids_tb"], [f"{p}/x16" if fp16 else f"{p}/x"]),
    ]
    if fp16:  # the table is stored fp16; the looked-up rows are cast back to float32
        nodes.append(helper.make_node("Cast", [f"{p}/x16"], [f"{p}/x"], to=TensorProto.FLOAT))
    nodes.append(helper.make_node(spec.op, [f"{p}/x", f"{p}/W", f"{p}/R", f"{p}/B", f"{p}/seq_lens"],
                                  [f"{p}/y" if pooled else "", f"{p}/y_h"], name=f"{p}/{spec.op}",
                                  **attrs))
    if pooled:
        more, extra = _pool_nodes(spec, out)
        return nodes + more, inits + extra
    if spec.direction == "forward":  # [1, batch, h] -> [batch, h]
        nodes.append(helper.make_node("Squeeze", [f"{p}/y_h", f"{p}/time_axis"], [out]))
    else:  # [2, batch, h] -> [batch, 2h] = Keras concat(forward, backward)
        nodes += [helper.make_node("Transpose", [f"{p}/y_h"], [f"{p}/y_h_bt"], perm=[1, 0, 2]),
                  helper.make_node("Reshape", [f"{p}/y_h_bt", f"{p}/flat_shape"], [out])]
    return nodes, inits


def prune(graph: onnx.GraphProto) -> None:
    """Drop nodes and initializers that no graph output depends on (keeps topological order)."""
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(node.input)
            for attr in node.attribute:  # subgraph inputs captured from the outer scope
                if attr.g.node:
                    needed.update(i for n in attr.g.node for i in n.input)
    del graph.node[:]
    graph.node.extend(reversed(keep))
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    vinfo = [v for v in graph.value_info if v.name in needed]
    del graph.value_info[:]
    graph.value_info.extend(vinfo)


def fuse(proto: onnx.ModelProto, model: keras.Model, fp16_embedding: bool = False) -> onnx.ModelProto:
    """Return a copy of tf2onnx's ``proto`` with the recurrent subgraph replaced by one node.

    ``fp16_embedding`` stores the table as float16 (half the bytes); the Keras table must already
    hold fp16-representable values (see :func:`round_embedding_fp16`) for exact parity.
    """
    spec = rnn_spec(model)
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    graph = out.graph
    embedding = np.asarray(_only(model, keras.layers.Embedding).embeddings.numpy(), np.float32)
    kernel = np.asarray(_only(model, keras.layers.Dense).kernel.numpy(), np.float32)
    gather = _consumer(graph, "Gather", embedding)
    head = _consumer(graph, "MatMul", kernel)
    features = f"{PREFIX}/features"
    head.input[0] = features
    table = next(n for n in gather.input if _initializer(graph, n) is not None)
    if fp16_embedding:
        if not np.array_equal(embedding.astype(np.float16).astype(np.float32), embedding):
            raise ValueError("fp16 export needs an fp16-representable embedding table; round it first")
        graph.initializer.append(numpy_helper.from_array(embedding.astype(np.float16), f"{PREFIX}/table16"))
        table = f"{PREFIX}/table16"
    pooled = any(isinstance(lay, MaskedMeanMax) for lay in model.layers)
    nodes, inits = _fused_nodes(spec, graph.input[0].name, table, features, pooled, fp16_embedding)
    at = list(graph.node).index(head)
    for offset, node in enumerate(nodes):
        graph.node.insert(at + offset, node)
    graph.initializer.extend(inits)
    prune(graph)
    onnx.checker.check_model(out)
    return out


def op_counts(proto: onnx.ModelProto) -> dict[str, int]:
    """How many nodes of each op type the top-level graph holds."""
    return dict(Counter(n.op_type for n in proto.graph.node))


def round_embedding_fp16(model: keras.Model) -> float:
    """Round the Embedding table to float16-representable values in place; returns max |change|."""
    emb = _only(model, keras.layers.Embedding)
    table = np.asarray(emb.embeddings.numpy(), np.float32)
    rounded = table.astype(np.float16).astype(np.float32)
    emb.embeddings.assign(rounded)
    return float(np.max(np.abs(rounded - table)))
