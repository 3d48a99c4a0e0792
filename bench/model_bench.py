"""Model-level benchmark: Keras direct call vs tf2onnx plain export vs our fused export.

For the LSTM and the GRU (dimensions from the bundle's card), on the bundle's dataset test split
tokenized by the bundle's tokenizer, batches of 1/8/32/128 texts each padded to its longest
member: median latency per batch and texts/s, interleaved rounds, ratios. Efficiency: the fused
export's achieved GFLOP/s at batch 32 (real tokens only; LSTM 4*h*(e+h) multiply-adds per token
and direction, GRU 3*h*(e+h)) as a fraction of a single-thread onnxruntime MatMul peak measured
in the same run. All onnxruntime sessions: 1 intra-op thread, spinning off, full optimization.

The Keras models are built from the card's hyperparameters with seeded random weights (a bundle
stores only ONNX); latency does not depend on the weight values. Needs TensorFlow.

    python -m bench.model_bench [--quick] [--bundle models/default] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

log = logging.getLogger(__name__)
DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "models" / "default"
ENGINES = ("keras", "plain", "fused")
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
    """Seconds per call, cycling through ``batches`` until the budget (and min_calls) is spent."""
    fn(batches[0])  # warm-up
    out: list[float] = []
    start = time.perf_counter()
    while len(out) < min_calls or time.perf_counter() - start < budget_s:
        x = batches[len(out) % len(batches)]
        t0 = time.perf_counter()
        fn(x)
        out.append(time.perf_counter() - t0)
        if len(out) >= 100_000:
            break
    return out


def matmul_peak(quick: bool) -> dict:
    """Best single-thread onnxruntime MatMul GFLOP/s over a few float32 shapes."""
    shapes = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024)]
    best: dict = {"gflops": 0.0}
    for m, k, n in shapes:
        node = helper.make_node("MatMul", ["A", "B"], ["C"])
        graph = helper.make_graph(
            [node], "mm", [helper.make_tensor_value_info("A", TensorProto.FLOAT, [m, k]),
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


def load_test_seqs(bundle: Path) -> tuple[dict, list[list[int]]]:
    """The bundle's card and its dataset's test split as unpadded token ids (max_tokens cap)."""
    from tokenizers import Tokenizer

    from service.bundle import load_bundle
    from training import datasets
    from training.split import split

    b = load_bundle(bundle)
    spec = b.card["dataset"].get("spec", b.card["dataset"]["name"])
    test_texts = split(datasets.load(spec), seed=b.card["split"]["seed"]).test[0]
    tok = Tokenizer.from_file(str(b.tokenizer_path))
    tok.no_padding()
    return b.card, [e.ids[: b.max_tokens] for e in tok.encode_batch(test_texts)]


def make_batches(seqs: list[list[int]], size: int, seed: int) -> list[np.ndarray]:
    """Seeded random batches of real texts, each right-padded to its longest member."""
    from training.fit import pad

    order = np.random.default_rng(seed).permutation(len(seqs))
    chunks = [order[i:i + size] for i in range(0, len(order) - size + 1, size)] or [order]
    return [pad([seqs[j] for j in c]) for c in chunks]


def build_engines(card: dict, cell: str, vocab: int) -> tuple[dict, dict]:
    """Keras model (seeded weights), its plain tf2onnx export and the fused one, as callables."""
    from training.export import convert
    from training.fuse import fuse, op_counts
    from training.model import ModelConfig, build_model, probability_model

    hp = card["hyperparameters"]["model"]
    cfg = ModelConfig(cell=cell, embedding_dim=hp["embedding_dim"], units=hp["units"],
                      bidirectional=hp["bidirectional"])
    model = build_model(cfg, vocab, len(card["labels"]), seed=0)
    rng = np.random.default_rng(0)
    for w in model.weights:  # non-trivial biases; values do not change the cost
        w.assign(rng.normal(scale=0.1, size=w.shape).astype("float32"))
    probs = probability_model(model)
    plain = convert(model, fused=False)
    fused = fuse(plain, model)
    sessions = {"plain": ort_session(plain), "fused": ort_session(fused)}
    engines = {"keras": lambda x: np.asarray(probs(x, training=False))}
    for name, sess in sessions.items():
        engines[name] = lambda x, s=sess: s.run(None, {"input_ids": x})[0]
    info = {"dims": {"embedding": cfg.embedding_dim, "units": cfg.units,
                     "bidirectional": cfg.bidirectional},
            "ops": {"plain": op_counts(plain), "fused": op_counts(fused)}}
    return engines, info


def bench_cell(engines: dict, seqs: list[list[int]], sizes: tuple[int, ...], rounds: int,
               budget_s: float) -> list[dict]:
    """Per batch size: median ms per batch and texts/s for each engine, rounds interleaved."""
    rows = []
    for size in sizes:
        batches = make_batches(seqs, size, seed=size)
        calls: dict[str, list[float]] = {e: [] for e in ENGINES}
        for _ in range(rounds):
            for name in ENGINES:
                calls[name] += time_calls(engines[name], batches, budget_s)
        row: dict = {"batch": size, "tokens_real": int(sum(np.count_nonzero(b) for b in batches)),
                     "tokens_padded": int(sum(b.size for b in batches)), "n_batches": len(batches)}
        for name, secs in calls.items():
            med = statistics.median(secs)
            row[name] = {"median_ms": med * 1e3, "texts_per_s": size / med, "calls": len(secs)}
        row["fused_vs_plain"] = row["plain"]["median_ms"] / row["fused"]["median_ms"]
        row["fused_vs_keras"] = row["keras"]["median_ms"] / row["fused"]["median_ms"]
        rows.append(row)
    return rows


def efficiency(cell: str, dims: dict, row: dict, peak: float) -> dict:
    """Achieved GFLOP/s of the fused export on real tokens; the padded-token figure alongside."""
    e, h = dims["embedding"], dims["units"]
    per_token = 2 * GATES[cell] * h * (e + h) * (2 if dims["bidirectional"] else 1)
    secs = row["fused"]["median_ms"] / 1e3 * row["n_batches"]
    real = per_token * row["tokens_real"] / secs / 1e9
    padded = per_token * row["tokens_padded"] / secs / 1e9
    return {"batch": row["batch"], "gflops_real": real, "gflops_padded": padded,
            "fraction_of_peak": real / peak, "fraction_of_peak_padded": padded / peak}


def run(bundle: Path = DEFAULT_BUNDLE, quick: bool = False, cells: tuple[str, ...] = ("lstm", "gru"),
        sizes: tuple[int, ...] | None = None) -> dict:
    """The whole model-level benchmark; returns a JSON-ready dict (see ``markdown``)."""
    sizes = sizes or ((1, 32) if quick else (1, 8, 32, 128))
    rounds, budget = (1, 0.4) if quick else (3, 1.5)
    keras_setting = limit_tf_threads()
    card, seqs = load_test_seqs(bundle)
    vocab = max(max(s, default=0) for s in seqs) + 1
    vocab = max(vocab, card["hyperparameters"]["tokenizer"]["vocab_size"])
    peak = matmul_peak(quick)
    result: dict = {"bundle": str(bundle), "texts": len(seqs), "quick": quick,
                    "mean_tokens": float(np.mean([len(s) for s in seqs])),
                    "settings": "onnxruntime 1 intra-op thread, spinning off, ORT_ENABLE_ALL; "
                                + keras_setting,
                    "matmul_peak": peak, "cells": {}}
    for cell in cells:
        engines, info = build_engines(card, cell, vocab)
        rows = bench_cell(engines, seqs, sizes, rounds, budget)
        at32 = next((r for r in rows if r["batch"] == 32), rows[-1])
        info |= {"rows": rows, "efficiency": efficiency(cell, info["dims"], at32, peak["gflops"])}
        result["cells"][cell] = info
    return result


def limit_tf_threads() -> str:
    """One TensorFlow thread too, so Keras gets the same CPU as onnxruntime (if still possible)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        return "keras eager model(x, training=False), TensorFlow 1 intra-op + 1 inter-op thread"
    except RuntimeError:  # TensorFlow already initialised by the caller
        return "keras eager model(x, training=False), TensorFlow default threads"


def markdown(result: dict) -> str:
    """The model-level table (ms per batch, texts/s, ratios) and the efficiency lines."""
    lines = ["| cell | batch | Keras ms | plain ms | fused ms | fused texts/s | fused vs plain "
             "| fused vs Keras |", "|---|---|---|---|---|---|---|---|"]
    for cell, info in result["cells"].items():
        for r in info["rows"]:
            lines.append(f"| {cell.upper()} | {r['batch']} | {r['keras']['median_ms']:.2f} | "
                         f"{r['plain']['median_ms']:.3f} | {r['fused']['median_ms']:.3f} | "
                         f"{r['fused']['texts_per_s']:,.0f} | {r['fused_vs_plain']:.1f}x | "
                         f"{r['fused_vs_keras']:.0f}x |")
    peak = result["matmul_peak"]
    lines.append("")
    lines.append(f"MatMul peak (1 thread, {peak['shape']}): {peak['gflops']:.1f} GFLOP/s")
    for cell, info in result["cells"].items():
        e = info["efficiency"]
        lines.append(f"- {cell.upper()} fused at batch {e['batch']}: {e['gflops_real']:.1f} GFLOP/s "
                     f"on real tokens = {e['fraction_of_peak']:.0%} of peak "
                     f"({e['gflops_padded']:.1f} GFLOP/s = {e['fraction_of_peak_padded']:.0%} "
                     f"counting padding)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.model_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    parser.add_argument("--quick", action="store_true", help="batches 1 and 32, short runs")
    parser.add_argument("--json", type=Path, help="also write the result dict here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = run(args.bundle, quick=args.quick)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
