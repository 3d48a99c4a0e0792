"""Batch job: SIGKILL at 20 random moments, re-run each time -> byte-identical output, every id
exactly once, never a partial final file, bad rows balanced; memory flat from 1x to 10x input."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reliability_figures import record
from reliability_load import fixture_texts

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
ROWS, PART_ROWS, KILLS, MAX_ATTEMPTS, LOOP_S = 1500, 75, 20, 60, 240
SOAK = os.environ.get("RELIABILITY_SOAK") == "1"
# CI: 1x = 1,500 rows in parts of 500; soak: 20,000 vs 200,000 rows with the default parts
MEMORY_ROWS, MEMORY_PART_ROWS = (20_000, 8192) if SOAK else (1500, 500)
BAD_EVERY = 37  # every 37th row has an empty text: quarantined, and resumed like the rest


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_input(path: Path, rows: int, seed: int = 0) -> Path:
    texts = fixture_texts()
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        for i in range(rows):
            w.writerow([f"r{i}", "   " if i % BAD_EVERY == 0 else rng.choice(texts)])
    return path


def argv(inp: Path, out: Path, part_rows: int = PART_ROWS) -> list[str]:
    return [sys.executable, "-m", "sentiment_cli.main", "score", str(inp), str(out),
            "--model", str(ROOT / "models" / "default"), "--id-column", "id",
            "--part-rows", str(part_rows), "--window", "100", "--batch-size", "32", "--quiet"]


def run(cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def clear(out: Path) -> None:
    for p in (out, out.with_name(out.name + ".rejected.jsonl")):
        p.unlink(missing_ok=True)
    shutil.rmtree(out.with_name(out.name + ".parts"), ignore_errors=True)


def kill_at(cmd: list[str], delay: float) -> bool:
    """Start the job, SIGKILL it after ``delay`` s; True if it was still running (a real kill)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(delay)
        return False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        return True


def check_final(out: Path, ref: Path) -> None:
    """A file at the final path is always the complete, identical output."""
    if out.exists():
        assert sha256(out) == sha256(ref), "partial or different file at the final path"


def test_sigkill_at_random_points_resumes_identically(tmp_path):
    inp = write_input(tmp_path / "in.csv", ROWS)
    ref, out = tmp_path / "ref.csv", tmp_path / "out.csv"
    t0 = time.monotonic()
    done = run(argv(inp, ref))
    full_s = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    rng, kills, attempts, completions = random.Random(8), 0, 0, 0
    delays = []
    deadline = time.monotonic() + LOOP_S
    while kills < KILLS and attempts < MAX_ATTEMPTS and time.monotonic() < deadline:
        attempts += 1
        delay = rng.uniform(0.0, full_s * 1.05)
        killed = kill_at(argv(inp, out), delay)
        check_final(out, ref)
        if killed:
            kills += 1
            delays.append(round(delay, 2))
        elif out.exists():  # the run finished before the kill: start a new chain
            completions += 1
            clear(out)
    final = run(argv(inp, out))
    assert final.returncode == 0 or out.exists(), final.stderr
    summary = verify_output(out, ref, inp)
    record("batch SIGKILL x20 + resume", kills=kills, attempts=attempts,
           completed_before_kill=completions, uninterrupted_s=round(full_s, 1),
           kill_delays_s=sorted(delays), **summary,
           passed=kills >= KILLS and summary["identical"])
    assert kills >= KILLS, f"only {kills} kills landed in {attempts} attempts"
    assert summary["identical"]


def verify_output(out: Path, ref: Path, inp: Path) -> dict:
    """Identical bytes, every valid id once, in = scored + quarantined."""
    rej = out.with_name(out.name + ".rejected.jsonl")
    ref_rej = ref.with_name(ref.name + ".rejected.jsonl")
    identical = sha256(out) == sha256(ref) and sha256(rej) == sha256(ref_rej)
    with open(out, newline="", encoding="utf-8") as fh:
        ids = [row["id"] for row in csv.DictReader(fh)]
    rejected = [json.loads(line) for line in rej.read_text(encoding="utf-8").splitlines()]
    expected = {f"r{i}" for i in range(ROWS) if i % BAD_EVERY}
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert set(ids) == expected, "missing or unexpected ids"
    assert len(ids) + len(rejected) == ROWS, "bad rows do not balance"
    assert not out.with_name(out.name + ".parts").exists()
    return {"identical": identical, "scored": len(ids), "quarantined": len(rejected),
            "duplicates": len(ids) - len(set(ids)), "missing": len(expected - set(ids))}


PEAK_SNIPPET = """
import json, resource, sys
from pathlib import Path
from scoring.job import ScoreConfig, run_job
summary = run_job(ScoreConfig(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]),
                              id_column="id", part_rows=int(sys.argv[4]), quiet=True))
print(json.dumps({"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "rows": summary["rows_in"], "seconds": summary["seconds"]}))
"""


def peak_rss(inp: Path, out: Path) -> dict:
    done = run([sys.executable, "-c", PEAK_SNIPPET, str(inp), str(out),
                str(ROOT / "models" / "default"), str(MEMORY_PART_ROWS)], timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_memory_flat_from_1x_to_10x(tmp_path):
    """Peak RSS scoring 10x the rows stays within 1.2x of the 1x peak."""
    one = peak_rss(write_input(tmp_path / "1x.csv", MEMORY_ROWS), tmp_path / "1x.out.csv")
    ten = peak_rss(write_input(tmp_path / "10x.csv", 10 * MEMORY_ROWS), tmp_path / "10x.out.csv")
    ratio = ten["peak_kb"] / one["peak_kb"]
    record("batch memory 10x vs 1x", rows=[one["rows"], ten["rows"]], part_rows=MEMORY_PART_ROWS,
           peak_mb=[round(one["peak_kb"] / 1024), round(ten["peak_kb"] / 1024)],
           ratio=round(ratio, 3), seconds=[one["seconds"], ten["seconds"]], passed=ratio <= 1.2)
    assert ratio <= 1.2, (one, ten)
