"""Batch-scoring benchmark: the local engine vs raw onnxruntime, and peak memory vs input size.

* raw onnxruntime: the same texts, tokenized and padded beforehand (globally sorted by length, the
  best case for padding), ``session.run`` per batch of ``batch_size``; only the runs are timed.
* engine: ``scoring.job.run_job`` end to end on a CSV file of the same texts (read, validate,
  tokenize, score, write parts, assemble the output), same batch size and thread count.
* memory: ``sentiment score`` in a fresh process on the corpus repeated x1 and x10; peak RSS is
  that process's own ``VmHWM`` (``wait4``'s ``ru_maxrss`` would also count the pages of this,
  possibly large, benchmarking process it was forked from). Flat streaming means the x10 peak
  stays close to the x1 peak.

Raw and engine runs alternate (raw, engine, raw, engine, ...) so both see the same machine load;
rows/s are medians of ``repeats`` runs and ``engine_vs_raw`` is the median of the per-pair
ratios. The raw figure uses one core (1 onnxruntime thread); the engine uses the second core for
reading, tokenizing and writing, overlapped with inference. Run: ``python -m bench.batch_bench``.
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

from core.paths import shipped_model_dir

DEFAULT_MODEL = shipped_model_dir()


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


def _once(fn) -> tuple[float, float]:
    """(wall seconds, process CPU seconds over all threads) of one ``fn()``."""
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def _timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall seconds and median process CPU seconds (all threads) of ``fn()``."""
    runs = [_once(fn) for _ in range(repeats)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def raw_ort_runner(predictor, texts: list[str], batch_size: int):
    """A function running bare ``session.run`` over pre-tokenized, pre-padded batches."""
    from core.runtime import pad_batch

    seqs = sorted(predictor.encode(texts), key=len)
    batches = [pad_batch(seqs[k:k + batch_size], predictor.max_tokens, predictor.input_dtype)
               for k in range(0, len(seqs), batch_size)]
    session, name = predictor.session, predictor.input_name

    def run() -> None:
        for batch in batches:
            session.run(None, {name: batch})

    return run


def raw_ort(predictor, texts: list[str], batch_size: int, repeats: int) -> tuple[float, float]:
    """(wall s, CPU s) of bare ``session.run`` over pre-tokenized, pre-padded batches."""
    return _timed(raw_ort_runner(predictor, texts, batch_size), repeats)


def tokenize(predictor, texts: list[str], repeats: int) -> tuple[float, float]:
    """(wall s, CPU s) to tokenize ``texts`` with tokenizer.json (``Predictor.encode``)."""
    return _timed(lambda: predictor.encode(texts), repeats)


def engine_runner(model: Path, inp: Path, out: Path, batch_size: int, threads: int):
    """A function running the local engine end to end (file in, file out)."""
    from scoring.job import ScoreConfig, run_job

    cfg = ScoreConfig(inp, out, model=model, id_column="id", batch_size=batch_size,
                      threads=threads, force=True, quiet=True)
    return lambda: run_job(cfg)


def engine(model: Path, inp: Path, out: Path, batch_size: int, threads: int,
           repeats: int) -> tuple[float, float]:
    """(wall s, CPU s) of the local engine, end to end (file in, file out)."""
    return _timed(engine_runner(model, inp, out, batch_size, threads), repeats)


def alternating(raw, eng, repeats: int) -> dict:
    """Run ``raw`` and ``eng`` in turn ``repeats`` times: medians and the median pair ratio."""
    pairs = [(_once(raw), _once(eng)) for _ in range(repeats)]
    med = statistics.median
    return {"raw_wall": med(r[0] for r, _ in pairs), "raw_cpu": med(r[1] for r, _ in pairs),
            "eng_wall": med(e[0] for _, e in pairs), "eng_cpu": med(e[1] for _, e in pairs),
            "ratio": med(r[0] / e[0] for r, e in pairs),
            "ratios": [round(r[0] / e[0], 3) for r, e in pairs]}


# Runs `sentiment score` and, at exit, writes the process's own peak RSS (VmHWM, kB) to argv[1].
_PEAK_PROBE = """
import atexit, sys
dest = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as status, open(dest, "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM")).split()[1])
atexit.register(peak)
from sentiment_cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def peak_rss_run(model: Path, inp: Path, out: Path, batch_size: int, threads: int) -> dict:
    """Run `sentiment score` in a fresh process; its peak RSS (MiB) and summary."""
    peak_file = out.with_name(out.name + ".peak")
    argv = [sys.executable, "-c", _PEAK_PROBE, str(peak_file), "score", str(inp), str(out),
            "--model", str(model), "--id-column", "id", "--batch-size", str(batch_size),
            "--threads", str(threads), "--force", "--quiet"]
    with tempfile.TemporaryFile() as stdout:
        proc = subprocess.run(argv, stdout=stdout, stderr=subprocess.DEVNULL, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"sentiment score failed with exit code {proc.returncode}")
        stdout.seek(0)
        summary = json.loads(stdout.read().decode())
    peak_kib = int(peak_file.read_text())
    peak_file.unlink()
    return {"rows": summary["rows_in"], "rows_per_s": summary["rows_per_s"],
            "peak_rss_mib": round(peak_kib / 1024, 1)}


def run_batch_bench(model: str | Path = DEFAULT_MODEL, texts: list[str] | None = None,
                    scales: tuple[int, ...] = (1, 10), repeats: int = 3, batch_size: int = 64,
                    threads: int = 1, workdir: str | Path | None = None) -> dict:
    """Measure engine vs raw onnxruntime throughput and peak RSS per input scale; returns a dict.

    ``texts`` defaults to the rotten_tomatoes corpus. Keys: rows, batch_size, threads, repeats,
    raw_ort_rows_per_s, engine_rows_per_s, engine_vs_raw (median of the per-pair wall-clock
    ratios; engine_vs_raw_runs lists them), *_cpu_s (process CPU seconds, all threads; steadier
    than wall time on a shared machine), engine_cpu_vs_raw, tokenize_share (tokenizer.json CPU /
    (that + inference CPU)), loadavg
    (1-min, before and after), memory (per scale, ``sentiment score`` in a fresh process: rows,
    rows/s, peak RSS MiB, vs_raw = its rows/s over raw's median rate) and rss_growth
    (largest / smallest).
    """
    from core.runtime import Predictor, RuntimeOptions

    model = Path(model)
    texts = corpus() if texts is None else texts
    predictor = Predictor(model, RuntimeOptions(intra_op_threads=threads))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = Path(tmp)
        inp = write_input(root / "x1.csv", texts, 1)
        timing = alternating(raw_ort_runner(predictor, texts, batch_size),
                             engine_runner(model, inp, root / "out.csv", batch_size, threads),
                             repeats)
        _, tok_cpu = tokenize(predictor, texts, repeats)
        memory = {}
        for scale in scales:
            src = inp if scale == 1 else write_input(root / f"x{scale}.csv", texts, scale)
            memory[f"x{scale}"] = peak_rss_run(model, src, root / "mem.csv", batch_size, threads)
            (root / "mem.csv").unlink()
    peaks = [m["peak_rss_mib"] for m in memory.values()]
    n, raw_cpu, eng_cpu = len(texts), timing["raw_cpu"], timing["eng_cpu"]
    for m in memory.values():  # a fresh process, start-up included, against raw's median rate
        m["vs_raw"] = round(m["rows_per_s"] * timing["raw_wall"] / n, 3)
    return {"rows": n, "batch_size": batch_size, "threads": threads, "repeats": repeats,
            "raw_ort_rows_per_s": round(n / timing["raw_wall"], 1),
            "engine_rows_per_s": round(n / timing["eng_wall"], 1),
            "engine_vs_raw": round(timing["ratio"], 3), "engine_vs_raw_runs": timing["ratios"],
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
          f"({res['engine_vs_raw']:.2f}x raw, median of the pairs {res['engine_vs_raw_runs']})")
    print(f"CPU seconds: raw {res['raw_ort_cpu_s']}, engine {res['engine_cpu_s']} (inference "
          f"is {res['engine_cpu_vs_raw']:.0%} of the engine's CPU); tokenization "
          f"{res['tokenize_cpu_s']} with tokenizer.json ({res['tokenize_share']:.0%} of "
          f"tokenize+infer); load {res['loadavg']}")
    for scale, m in res["memory"].items():
        print(f"{scale:>4}: {m['rows']:>8} rows  peak RSS {m['peak_rss_mib']:>7.1f} MiB  "
              f"{m['rows_per_s']} rows/s ({m['vs_raw']:.2f}x raw's rate; fresh process)")
    print(f"peak RSS growth x{scales[-1]} vs x{scales[0]}: {res['rss_growth']:.3f}")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
