"""The `sentiment` command from any working directory: defaults resolve to the shipped bundle."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

SENTIMENT = str(Path(sys.executable).with_name("sentiment"))


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "SENTIMENT_MODEL_DIR"} | env
    return subprocess.run([SENTIMENT, *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=120)


def test_predict_and_score_outside_the_repo(tmp_path: Path, default_bundle: Path) -> None:
    out = run(["predict", "a superb, moving film"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["label"] in ("positive", "negative")
    (tmp_path / "in.csv").write_text("text\ngreat\nawful\n", encoding="utf-8")
    scored = run(["score", "in.csv", "out.csv", "--quiet"], tmp_path)
    assert scored.returncode == 0, scored.stderr
    with open(tmp_path / "out.csv", newline="") as fh:
        assert [r["line"] for r in csv.DictReader(fh)] == ["2", "3"]
    card = json.loads((default_bundle / "card.json").read_text())
    verify = run(["verify"], tmp_path)
    assert verify.returncode == 0 and json.loads(verify.stdout)["version"] == card["version"]


def test_model_dir_setting_is_the_default_of_every_command(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-bundle"
    for args in (["predict", "x"], ["verify"], ["serve", "--port", "0"]):
        out = run(args, tmp_path, SENTIMENT_MODEL_DIR=str(missing))
        assert out.returncode == 2, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and str(missing) in lines[0], (args, out.stderr)
