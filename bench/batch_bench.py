"""Batch-scoring benchmark: the local engine vs raw onnxruntime, and peak memory vs input size.

* raw onnxruntime: the same texts, tokenized and padded beforehand (globally sorted by length, the
  best case for padding), ``session.run`` per batch of ``batch_size``; only the runs are timed.
* engine: ``scoring.job.run_job`` end to end on a CSV file of the same texts (read, validate,
  tokenize, score, write parts, assemble the output), same batch size and thread count.
* memory: ``sentiment score`` in a fresh process on the corpus repeated x1 and x10; peak RSS from
  ``wait4``. Flat streaming means the x10 peak stays close to the x1 peak.

Throughput figures are medians of ``repeats`` runs. Run: ``python -m bench.batch_bench``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_MODEL = Path("models/default")


def corpus(dataset: str = "rotten_tomatoes") -> list[str]:
    """Texts of a built-in dataset (already fetched by `sentiment fetch`)."""
    from training.datasets import load

    return load(dataset, download=False).texts


def write_input(path: Path, texts: list[str], times: int) -> Path:
    """A CSV (id,text) holding ``texts`` repeated ``times`` times, written as a stream."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        for rep in range(times):
            writer.writerows((f"{rep}-{i}", t) for i, t in enumerate(texts))
    return path


def _timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall seconds and median process CPU seconds (all threads) of ``fn()``."""
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def raw_ort(predictor, texts: list[str], batch_size: int, repeats: int) -> tuple[float, float]:
    """(wall s, CPU s) of bare ``session.run`` over pre-tokenized, pre-padded batches."""
    from service.runtime import pad_batch

    seqs = sorted(predictor.encode(texts), key=len)
    batches = [pad_batch(seqs[k:k + batch_size], predictor.max_tokens).astype(
        predictor.input_dtype) for k in range(0, len(seqs), batch_size)]
    session, name = predictor.session, predictor.input_name

    def run() -> None:
        for batch in batches:
            session.run(None, {name: batch})

    return _timed(run, repeats)


def tokenize(predictor, texts: list[str], repeats: int) -> tuple[float, float]:
    """(wall s, CPU s) to tokenize ``texts`` (work the engine overlaps with inference)."""
    return _timed(lambda: predictor.encode(texts), repeats)


def engine(model: Path, inp: Path, out: Path, batch_size: int, threads: int,
           repeats: int) -> tuple[float, float]:
    """(wall s, CPU s) of the local engine, end to end (file in, file out)."""
    from scoring.job import ScoreConfig, run_job

    cfg = ScoreConfig(inp, out, model=model, id_column="id", batch_size=batch_size,
                      threads=threads, force=True, quiet=True)
    return _timed(lambda: run_job(cfg), repeats)


def peak_rss_run(model: Path, inp: Path, out: Path, batch_size: int, threads: int) -> dict:
    """Run `sentiment score` in a fresh process; its peak RSS (MiB) and summary."""
    argv = [sys.executable, "-m", "sentiment_cli.main", "score", str(inp), str(out), "--model",
            str(model), "--id-column", "id", "--batch-size", str(batch_size), "--threads",
            str(threads), "--force", "--quiet"]
    with tempfile.TemporaryFile() as stdout:
        proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"sentiment score failed with exit code {proc.returncode}")
        stdout.seek(0)
        summary = json.loads(stdout.read().decode())
    return {"rows": summary["rows_in"], "rows_per_s": summary["rows_per_s"],
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}


def run_batch_bench(model: str | Path = DEFAULT_MODEL, texts: list[str] | None = None,
                    scales: tuple[int, ...] = (1, 10), repeats: int = 3, batch_size: int = 64,
                    threads: int = 1, workdir: str | Path | None = None) -> dict:
    """Measure engine vs raw onnxruntime throughput and peak RSS per input scale; returns a dict.

    ``texts`` defaults to the rotten_tomatoes corpus. Keys: rows, batch_size, threads, repeats,
    raw_ort_rows_per_s, engine_rows_per_s, engine_vs_raw (wall-clock ratio), *_cpu_s (process CPU
    seconds, all threads; steadier than wall time on a shared machine), engine_cpu_vs_raw,
    tokenize_share (tokenizer CPU / (tokenizer + inference CPU)), loadavg (1-min, before and
    after), memory (per scale: rows, rows/s, peak RSS MiB) and rss_growth (largest / smallest).
    """
    from service.runtime import Predictor, RuntimeOptions

    model = Path(model)
    texts = corpus() if texts is None else texts
    predictor = Predictor(model, RuntimeOptions(intra_op_threads=threads))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = Path(tmp)
        inp = write_input(root / "x1.csv", texts, 1)
        raw_wall, raw_cpu = raw_ort(predictor, texts, batch_size, repeats)
        eng_wall, eng_cpu = engine(model, inp, root / "out.csv", batch_size, threads, repeats)
        _, tok_cpu = tokenize(predictor, texts, repeats)
        memory = {}
        for scale in scales:
            src = inp if scale == 1 else write_input(root / f"x{scale}.csv", texts, scale)
            memory[f"x{scale}"] = peak_rss_run(model, src, root / "mem.csv", batch_size, threads)
            (root / "mem.csv").unlink()
    peaks = [m["peak_rss_mib"] for m in memory.values()]
    n = len(texts)
    return {"rows": n, "batch_size": batch_size, "threads": threads, "repeats": repeats,
            "raw_ort_rows_per_s": round(n / raw_wall, 1), "engine_rows_per_s": round(n / eng_wall, 1),
            "engine_vs_raw": round(raw_wall / eng_wall, 3),
            "raw_ort_cpu_s": round(raw_cpu, 3), "engine_cpu_s": round(eng_cpu, 3),
            "tokenize_cpu_s": round(tok_cpu, 3), "engine_cpu_vs_raw": round(raw_cpu / eng_cpu, 3),
            "tokenize_share": round(tok_cpu / (tok_cpu + raw_cpu), 3),
            "loadavg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "memory": memory, "rss_growth": round(peaks[-1] / peaks[0], 3)}


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.batch_bench`: print the figures and the result as one JSON line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    p.add_argument("--quick", action="store_true", help="2,000 texts, scales 1 and 2, 1 repeat")
    args = p.parse_args(argv)
    texts, scales, repeats = None, tuple(args.scales), args.repeats
    if args.quick:
        texts, scales, repeats = corpus()[:2000], (1, 2), 1
    res = run_batch_bench(args.model, texts, scales, repeats, args.batch_size, args.threads)
    print(f"rows={res['rows']} batch={res['batch_size']} threads={res['threads']} "
          f"(medians of {res['repeats']})")
    print(f"raw onnxruntime  {res['raw_ort_rows_per_s']:>10.1f} rows/s")
    print(f"local engine     {res['engine_rows_per_s']:>10.1f} rows/s  "
          f"({res['engine_vs_raw']:.2f}x raw; tokenization = {res['tokenize_share']:.0%} of "
          f"tokenize+infer CPU time)")
    print(f"CPU seconds: raw {res['raw_ort_cpu_s']}, engine {res['engine_cpu_s']} (inference "
          f"is {res['engine_cpu_vs_raw']:.0%} of the engine's CPU); load {res['loadavg']}")
    for scale, m in res["memory"].items():
        print(f"{scale:>4}: {m['rows']:>8} rows  peak RSS {m['peak_rss_mib']:>7.1f} MiB  "
              f"{m['rows_per_s']} rows/s")
    print(f"peak RSS growth x{scales[-1]} vs x{scales[0]}: {res['rss_growth']:.3f}")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
