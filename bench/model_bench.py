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
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.model_timing import (
    make_batches,
    matmul_peak,
    matmul_runner,
    ort_session,
    rnn_efficiency,
    time_alternating,
    time_calls,
)

log = logging.getLogger(__name__)
DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "models" / "default"
ENGINES = ("keras", "plain", "fused")


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
    """Per batch size: median ms per batch and texts/s for each engine, rounds interleaved
    (Keras in its own block, plain and fused call by call on the same batches).
    """
    rows = []
    for size in sizes:
        batches = make_batches(seqs, size, seed=size)
        calls: dict[str, list[float]] = {e: [] for e in ENGINES}
        onnx_engines = {name: engines[name] for name in ("plain", "fused")}
        for _ in range(rounds):
            calls["keras"] += time_calls(engines["keras"], batches, budget_s)
            timed = time_alternating(onnx_engines, batches, 2 * budget_s)
            for name, secs in timed.items():
                calls[name] += secs
        row: dict = {"batch": size, "n_batches": len(batches)}
        for name, secs in calls.items():
            med = statistics.median(secs)
            row[name] = {"median_ms": med * 1e3, "texts_per_s": size / med, "calls": len(secs)}
        row["fused_vs_plain"] = row["plain"]["median_ms"] / row["fused"]["median_ms"]
        row["fused_vs_keras"] = row["keras"]["median_ms"] / row["fused"]["median_ms"]
        rows.append(row)
    return rows


def efficiencies(cell: str, dims: dict, fused: Callable, seqs: list[list[int]], peak: dict,
                 budget_s: float) -> dict:
    """Fused export at batch 32 vs the peak MatMul, timed call by call in the same window:
    ``efficiency`` on the random batches of the table, ``efficiency_sorted`` on length-sorted
    batches (what length-aware batching achieves)."""
    mm, flops = matmul_runner(*peak["shape"])
    out = {}
    for key, seed in (("efficiency", 32), ("efficiency_sorted", None)):
        batches = make_batches(seqs, 32, seed=seed)
        timed = time_alternating({"fused": fused, "matmul": lambda _x: mm()}, batches,
                                 2 * budget_s, min_calls=len(batches))
        peak_now = flops / statistics.median(timed["matmul"]) / 1e9
        out[key] = rnn_efficiency(cell, dims, batches, [timed["fused"]], peak_now)
        out[key]["peak_gflops"] = peak_now
    return out


def run(bundle: Path = DEFAULT_BUNDLE, quick: bool = False, cells: tuple[str, ...] = ("lstm", "gru"),
        sizes: tuple[int, ...] | None = None) -> dict:
    """The whole model-level benchmark; returns a JSON-ready dict (see ``markdown``)."""
    sizes = sizes or ((1, 32) if quick else (1, 8, 32, 128))
    rounds, budget = (1, 0.4) if quick else (5, 0.6)  # short interleaved rounds: load drifts
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
        info |= {"rows": bench_cell(engines, seqs, sizes, rounds, budget)}
        info |= efficiencies(cell, info["dims"], engines["fused"], seqs, peak, rounds * budget)
        result["cells"][cell] = info
    result["targets"] = targets(result)
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


def targets(result: dict) -> list[dict]:
    """The issue's model-level targets, each with the measured value and whether it is met."""
    out = []
    for cell, info in result["cells"].items():
        rows = {r["batch"]: r for r in info["rows"]}
        checks = [(1, "fused_vs_plain", 5.0), (1, "fused_vs_keras", 100.0)]
        checks += [(32, "fused_vs_plain", 3.0)] if cell == "lstm" else []
        for batch, key, goal in checks:
            if batch in rows:
                value = rows[batch][key]
                out.append({"target": f"{cell} batch {batch} {key} >= {goal:g}x", "value": value,
                            "met": value >= goal})
        eff = info["efficiency"]["fraction_of_peak"]
        out.append({"target": f"{cell} efficiency at batch 32 >= 40% of MatMul peak",
                    "value": eff, "met": eff >= 0.4})
    return out


def markdown(result: dict) -> str:
    """The model-level table (ms per batch, texts/s, ratios) and the efficiency lines."""
    lines = ["| cell | batch | Keras: ms/batch (texts/s) | tf2onnx plain | fused (ours) "
             "| fused vs plain | fused vs Keras |", "|---|---|---|---|---|---|---|"]
    for cell, info in result["cells"].items():
        for r in info["rows"]:
            cols = [f"{r[e]['median_ms']:.3g} ({r[e]['texts_per_s']:,.0f})" for e in ENGINES]
            lines.append(f"| {cell.upper()} | {r['batch']} | " + " | ".join(cols)
                         + f" | {r['fused_vs_plain']:.1f}x | {r['fused_vs_keras']:,.0f}x |")
    peak = result["matmul_peak"]
    lines.append("")
    lines.append(f"MatMul peak (1 thread, {peak['shape']}): {peak['gflops']:.1f} GFLOP/s alone; "
                 "efficiency uses the peak re-timed call by call alongside the fused export")
    for cell, info in result["cells"].items():
        for kind in ("efficiency", "efficiency_sorted"):
            e, how = info[kind], "length-sorted" if kind.endswith("sorted") else "random"
            lines.append(f"- {cell.upper()} fused, batch {e['batch']}, {how} batches: "
                         f"{e['gflops_real']:.1f} GFLOP/s on real tokens = "
                         f"{e['fraction_of_peak']:.0%} of {e['peak_gflops']:.0f} "
                         f"({e['gflops_padded']:.1f} GFLOP/s = "
                         f"{e['fraction_of_peak_padded']:.0%} counting padding, "
                         f"{e['padding_fraction']:.0%} of tokens are padding)")
    lines.append("")
    lines += [f"- target {t['target']}: {t['value']:.3g} -> {'met' if t['met'] else 'MISSED'}"
              for t in result.get("targets", [])]
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
