"""`sentiment score --explain`: per-token steps in JSONL rows, the same numbers as
core.explain, resumable like any job; off by default; other formats are a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scoring_testlib import make_texts, write_text_csv

from core.explain import explain
from scoring.job import ScoreConfig, run_job
from sentiment_cli.main import main

TEXTS = make_texts(60, seed=4)


def job(inp: Path, out: Path, model: Path, **kw) -> dict:
    return run_job(ScoreConfig(inp, out, model=model, quiet=True, part_rows=16, window=8, **kw))


def test_jsonl_rows_carry_exact_steps(tmp_path: Path, default_bundle: Path, predictor) -> None:
    inp = write_text_csv(tmp_path / "in.csv", TEXTS)
    summary = job(inp, tmp_path / "out.jsonl", default_bundle, explain=True)
    assert summary["scored"] == len(TEXTS)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    expected = explain(predictor, TEXTS)
    plain = predictor.predict(TEXTS)
    for text, row, exp, pred in zip(TEXTS, rows, expected, plain, strict=True):
        assert row["label"] == pred["label"] and abs(row["score"] - pred["score"]) <= 1e-6
        ex = row["explain"]
        assert ex["target"] == exp["target"] and len(ex["tokens"]) == len(exp["tokens"])
        for got, want in zip(ex["tokens"], exp["tokens"], strict=True):
            assert (got["token"], got["start"], got["end"]) == \
                   (want["token"], want["start"], want["end"])
            assert abs(got["step"] - want["step"]) <= 1e-6
        steps = sum(t["step"] for t in ex["tokens"])  # steps add up to the full score
        assert abs(ex["baseline"] + steps - pred["scores"][ex["target"]]) <= 1e-5
        assert text[ex["tokens"][-1]["start"]:ex["tokens"][-1]["end"]]


def test_off_by_default(tmp_path: Path, default_bundle: Path) -> None:
    inp = write_text_csv(tmp_path / "in.csv", TEXTS[:5])
    job(inp, tmp_path / "out.jsonl", default_bundle)
    row = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert "explain" not in row


@pytest.mark.parametrize("out,extra", [("out.csv", []), ("out.parquet", []),
                                       ("out.jsonl", ["--engine", "ray"])])
def test_unsupported_combinations_are_one_line_errors(tmp_path: Path, capsys, out: str,
                                                      extra: list[str]) -> None:
    inp = write_text_csv(tmp_path / "in.csv", TEXTS[:3])
    code = main(["score", str(inp), str(tmp_path / out), "--explain", "--quiet", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--explain" in err[0]
    assert not (tmp_path / out).exists()
