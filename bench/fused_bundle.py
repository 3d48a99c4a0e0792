"""A fused-export bundle of the same weights as a plain tf2onnx bundle (the reverse of plain_bundle).

While the shipped bundle is still a plain tf2onnx ``Loop`` graph, the service-level benchmark
serves "our" service and the bare server on the fused export of the same weights, so the
comparison measures what the product ships now. The Keras model is rebuilt from the plain
graph's initializers (embedding ``Gather``; the ``Loop``'s kernel, recurrent kernel and bias in
Keras layout and gate order; the dense head), exported by ``training.export.convert`` (fused,
the default) and accepted only if it matches the plain bundle to 1e-5 on real texts. When the
input and recurrent kernels have the same shape, both assignments are tried and the matching one
kept. Unidirectional only. Needs TensorFlow (benchmark side only).
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from bench.plain_bundle import (
    PARITY_TOLERANCE,
    build_keras,
    cache_root,
    fill_derived,
    max_abs_diff,
    rnn_node,
)
from core.bundle import Bundle, load_bundle

FUSED_HOW = "Keras rebuilt from the plain ONNX weights, fused export"
log = logging.getLogger(__name__)


def plain_parts(proto: onnx.ModelProto) -> dict:
    """Embedding, head and the Loop's weight candidates of a plain tf2onnx graph."""
    graph = proto.graph
    w = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    loops = [n for n in graph.node if n.op_type == "Loop"]
    gathers = [n for n in graph.node if n.op_type == "Gather" and n.input[0] in w
               and w[n.input[0]].ndim == 2]
    if len(loops) != 1 or len(gathers) != 1:
        raise ValueError("expected one recurrent Loop and one embedding Gather (unidirectional)")
    head = [n for n in graph.node if n.op_type == "MatMul"][-1]
    kernel = next(w[i] for i in head.input if i in w)
    add = next(n for n in graph.node if n.op_type == "Add" and head.output[0] in n.input)
    hidden = kernel.shape[0]
    loop_w = [w[i] for i in loops[0].input if i in w and w[i].ndim >= 1 and w[i].size > 1]
    gates = max(a.shape[-1] for a in loop_w) // hidden
    mats = [a for a in loop_w if a.ndim == 2 and a.shape[0] != 2 and a.shape[1] == gates * hidden]
    biases = [a for a in loop_w if a.size in (gates * hidden, 2 * gates * hidden)
              and not any(a is m for m in mats)]
    if gates not in (3, 4) or len(mats) != 2 or len(biases) != 1:
        raise ValueError("could not find the recurrent kernel, recurrent kernel and bias")
    return {"op": "LSTM" if gates == 4 else "GRU", "embedding": w[gathers[0].input[0]],
            "hidden": hidden, "mats": mats, "bias_rnn": biases[0],
            "kernel": kernel, "bias": next(w[i] for i in add.input if i in w).reshape(-1)}


def candidates(parts: dict) -> list[list[np.ndarray]]:
    """Possible Keras [kernel, recurrent_kernel, bias] lists (by shape, else both orders)."""
    dim, h = parts["embedding"].shape[1], parts["hidden"]
    bias = parts["bias_rnn"].reshape(2, -1) if parts["op"] == "GRU" else parts["bias_rnn"].reshape(-1)
    out = []
    for k, r in itertools.permutations(parts["mats"]):
        if k.shape[0] == dim and r.shape[0] == h:
            out.append([k, r, bias])
    return out


def fused_bundle(source: str | Path, texts: list[str], cache: Path | None = None) -> Path:
    """Path of a fused-export bundle with ``source``'s weights (``source`` itself if fused)."""
    from core.bundle_writer import write_bundle
    from training.export import convert

    bundle: Bundle = load_bundle(source)
    proto = onnx.load(str(bundle.model_path))
    if rnn_node(proto.graph) is not None:
        return bundle.path
    dest = (cache or cache_root()) / f"fused-{bundle.name}-{bundle.version}"
    if dest.is_dir():
        load_bundle(dest)
        return dest
    parts = plain_parts(proto)
    for cell in candidates(parts):
        model = build_keras(parts["op"], parts["embedding"], parts["hidden"], "forward", [cell],
                            parts["kernel"], parts["bias"])
        fused = convert(model, fused=True)
        with tempfile.TemporaryDirectory() as tmp:
            trial = write_bundle(Path(tmp) / "b",
                                 lambda d, f=fused: fill_derived(d, f, bundle, "fused", FUSED_HOW))
            if max_abs_diff(bundle.path, trial, texts) <= PARITY_TOLERANCE:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(trial, dest, dirs_exist_ok=True)
                log.info("fused re-export of %s written to %s", bundle.path, dest)
                return dest
    raise RuntimeError(f"no fused re-export of {bundle.path} matches it to {PARITY_TOLERANCE}")


