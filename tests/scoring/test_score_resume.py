"""kill -9 at several points, re-run the same command: output is byte-identical to a clean run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scoring_testlib import make_texts, write_text_csv

from scoring.job import ScoreConfig, run_job

pytestmark = pytest.mark.slow
ROWS, PART_ROWS = 1500, 100


def _input(tmp_path: Path) -> Path:
    texts = make_texts(ROWS, seed=3)
    for i in range(0, ROWS, 61):  # sprinkle bad rows so the quarantine file is resumed too
        texts[i] = "   "
    return write_text_csv(tmp_path / "in.csv", texts, ids=[f"id{i}" for i in range(ROWS)])


def _argv(inp: Path, out: Path, model: Path) -> list[str]:
    return [sys.executable, "-m", "sentiment_cli.main", "score", str(inp), str(out), "--model",
            str(model), "--id-column", "id", "--part-rows", str(PART_ROWS), "--window", "60",
            "--batch-size", "16", "--quiet"]


def _parts_done(manifest: Path) -> int:
    try:
        return len(json.loads(manifest.read_text())["parts"])
    except (OSError, ValueError):  # not created yet (the manifest itself is replaced atomically)
        return -1


def _run_and_kill(argv: list[str], manifest: Path, at_parts: int, cwd: Path) -> int:
    """Start the job, SIGKILL it once the manifest lists ``at_parts`` parts; returns parts seen."""
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while (done := _parts_done(manifest)) < at_parts:
        assert proc.poll() is None, f"job ended before the kill point: {proc.stderr.read()!r}"
        assert time.monotonic() < deadline, "job made no progress"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return done


@pytest.mark.parametrize("out_name,kill_points", [
    ("out.csv", [0]),            # right after start, before any part
    ("out.jsonl", [1]),          # early
    ("out.parquet", [5, 12]),    # twice: the second run is itself resumed
])
def test_kill9_then_resume_is_byte_identical(tmp_path: Path, default_bundle: Path, repo_root: Path,
                                             out_name: str, kill_points: list[int]) -> None:
    inp = _input(tmp_path)
    ref = tmp_path / f"ref-{out_name}"
    run_job(ScoreConfig(inp, ref, model=default_bundle, id_column="id", part_rows=PART_ROWS,
                        window=60, batch_size=16, quiet=True))
    out = tmp_path / out_name
    manifest = tmp_path / f"{out_name}.parts" / "manifest.json"
    argv = _argv(inp, out, default_bundle)
    for at in kill_points:
        seen = _run_and_kill(argv, manifest, at, repo_root)
        assert not out.exists(), "the final path must never hold a partial file"
        assert seen >= at
    proc = subprocess.run(argv, cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["resumed_rows"] >= kill_points[-1] * PART_ROWS
    assert summary["rows_in"] == ROWS == summary["scored"] + summary["quarantined"]
    assert out.read_bytes() == ref.read_bytes()
    rejected = Path(f"{out}.rejected.jsonl").read_bytes()
    assert rejected == Path(f"{ref}.rejected.jsonl").read_bytes() and rejected.count(b"\n") == 25
    assert not manifest.parent.exists()
