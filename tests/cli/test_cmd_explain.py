"""`sentiment explain` from any directory: colored tokens, sparkline and label for people,
``--json`` with the exact numbers for scripts, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from core.runtime import Predictor
from tests.cli.test_cli_anywhere import run

TEXTS = ["A moving, beautifully acted film.", "dull zqxwv plot"]


def test_json_is_exact(tmp_path: Path, default_bundle: Path) -> None:
    out = run(["explain", "--json", *TEXTS], tmp_path)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    probs = Predictor(default_bundle).predict_proba(TEXTS)
    assert [r["text"] for r in rows] == TEXTS
    for row, p in zip(rows, probs, strict=True):
        assert abs(row["tokens"][-1]["running"] - p[1]) <= 1e-6
        assert row["target"] == "positive" and "loo" in row["tokens"][0]


def test_terminal_view(tmp_path: Path, default_bundle: Path) -> None:
    out = run(["explain", "--tokens", *TEXTS], tmp_path, COLUMNS="120")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for line in TEXTS:
        assert line in text
    assert any(ch in text for ch in "▁▂▃▄▅▆▇█")  # the sparkline
    counts = [len(ids) for ids in Predictor(default_bundle).encode(TEXTS)]
    assert all(f"over {n} tokens" in text for n in counts) and "##" in text  # WordPiece pieces
    assert "negative" in text or "positive" in text


def test_stdin_and_errors(tmp_path: Path) -> None:
    import subprocess

    from tests.cli.test_cli_anywhere import SENTIMENT

    piped = subprocess.run([SENTIMENT, "explain", "--json"], input="great\n\nawful\n", cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and len(piped.stdout.splitlines()) == 2, piped.stderr
    for args in (["explain", "  "], ["explain", "--model", str(tmp_path / "none"), "x"]):
        out = run(args, tmp_path)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
