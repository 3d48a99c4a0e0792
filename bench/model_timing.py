"""Timing helpers for the model-level benchmark: sessions, timed calls, batches, FLOP rates."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

GATES = {"lstm": 4, "gru": 3}


def ort_session(model: onnx.ModelProto | str) -> ort.InferenceSession:
    """One intra-op thread, no spinning, full graph optimization (the serving settings)."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    data = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def time_calls(fn: Callable[[np.ndarray], object], batches: list[np.ndarray], budget_s: float,
               min_calls: int = 3) -> list[float]:
    """Seconds per call, cycling through ``batches`` in order until budget and min_calls are met."""
    fn(batches[0])  # warm-up
    out: list[float] = []
    start = time.perf_counter()
    while len(out) < min_calls or time.perf_counter() - start < budget_s:
        x = batches[len(out) % len(batches)]
        t0 = time.perf_counter()
        fn(x)
        out.append(time.perf_counter() - t0)
    return out


def pass_seconds(secs: list[float], n_batches: int) -> float:
    """Seconds for one pass over all batches: mean over the complete passes timed."""
    full = len(secs) // n_batches
    if full == 0:
        return statistics.fmean(secs) * n_batches
    return sum(secs[: full * n_batches]) / full


def make_batches(seqs: list[list[int]], size: int, seed: int | None) -> list[np.ndarray]:
    """Seeded random batches of real texts, each right-padded to its longest member.

    ``seed=None`` cuts the length-sorted texts instead (what length-aware batching does).
    """
    from training.fit import pad

    order = (np.argsort([len(s) for s in seqs], kind="stable") if seed is None
             else np.random.default_rng(seed).permutation(len(seqs)))
    chunks = [order[i:i + size] for i in range(0, len(order) - size + 1, size)] or [order]
    return [pad([seqs[j] for j in c]) for c in chunks]


def matmul_peak(quick: bool) -> dict:
    """Best single-thread onnxruntime MatMul GFLOP/s (median per shape) over a few shapes."""
    best: dict = {"gflops": 0.0}
    for m, k, n in [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024)]:
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["A", "B"], ["C"])], "mm",
            [helper.make_tensor_value_info("A", TensorProto.FLOAT, [m, k]),
             helper.make_tensor_value_info("B", TensorProto.FLOAT, [k, n])],
            [helper.make_tensor_value_info("C", TensorProto.FLOAT, [m, n])])
        sess = ort_session(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
        rng = np.random.default_rng(0)
        feed = {"A": rng.random((m, k), np.float32), "B": rng.random((k, n), np.float32)}
        secs = time_calls(lambda _x, s=sess, f=feed: s.run(None, f), [feed["A"]],
                          0.3 if quick else 1.0, min_calls=5)
        gflops = 2 * m * k * n / statistics.median(secs) / 1e9
        if gflops > best["gflops"]:
            best = {"gflops": gflops, "shape": [m, k, n]}
    return best


def rnn_efficiency(cell: str, dims: dict, batches: list[np.ndarray], secs: list[float],
                   peak: float) -> dict:
    """Achieved GFLOP/s over whole passes, on real tokens (and counting padding) vs ``peak``.

    One token costs gates*h*(e+h) multiply-adds (= 2 FLOP each) per direction.
    """
    e, h = dims["embedding"], dims["units"]
    per_token = 2 * GATES[cell] * h * (e + h) * (2 if dims["bidirectional"] else 1)
    seconds = pass_seconds(secs, len(batches))
    real = per_token * sum(int(np.count_nonzero(b)) for b in batches) / seconds / 1e9
    padded = per_token * sum(b.size for b in batches) / seconds / 1e9
    return {"batch": int(batches[0].shape[0]), "gflops_real": real, "gflops_padded": padded,
            "fraction_of_peak": real / peak, "fraction_of_peak_padded": padded / peak,
            "padding_fraction": 1 - real / padded}
