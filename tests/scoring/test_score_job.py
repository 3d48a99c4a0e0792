"""End-to-end jobs on the shipped model: round trips, score equality, quarantine, bad files."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scoring_testlib import BAD_CSV_GOOD, BAD_CSV_REJECTED, make_texts, write_text_csv

from scoring.job import ScoreConfig, prepare, run_job
from sentiment_cli.main import main

TEXTS = make_texts(300)


def job(inp: Path, out: Path, model: Path, **kw) -> dict:
    kw.setdefault("part_rows", 64)
    kw.setdefault("window", 40)
    return run_job(ScoreConfig(inp, out, model=model, quiet=True, **kw))


def assert_matches_runtime(rows: list[dict], texts: list[str], predictor, flat: bool) -> None:
    """Labels and every class score equal Predictor.predict's within 1e-6."""
    expected = predictor.predict(texts)
    assert len(rows) == len(expected)
    for row, exp in zip(rows, expected, strict=True):
        assert row["label"] == exp["label"]
        assert abs(float(row["score"]) - exp["score"]) <= 1e-6
        for lab, value in exp["scores"].items():
            got = float(row[f"score_{lab}"]) if flat else row["scores"][lab]
            assert abs(got - value) <= 1e-6
        assert row["model_version"] == predictor.bundle.version


def test_csv_round_trip_without_id(tmp_path: Path, default_bundle: Path, predictor) -> None:
    inp = write_text_csv(tmp_path / "in.csv", TEXTS)
    summary = job(inp, tmp_path / "out.csv", default_bundle)
    assert (summary["rows_in"], summary["scored"], summary["quarantined"]) == (300, 300, 0)
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert "id" not in rows[0]  # no input id: line numbers, in a column named "line"
    assert [r["line"] for r in rows] == [str(i + 2) for i in range(300)]  # line 1: the header
    assert_matches_runtime(rows, TEXTS, predictor, flat=True)
    assert (tmp_path / "out.csv.rejected.jsonl").read_bytes() == b""
    assert not (tmp_path / "out.csv.parts").exists()


def test_jsonl_round_trip_with_id(tmp_path: Path, default_bundle: Path, predictor) -> None:
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"key": 1000 + i, "text": t}) + "\n"
                           for i, t in enumerate(TEXTS)), encoding="utf-8")
    summary = job(inp, tmp_path / "out.jsonl", default_bundle, id_column="key", text_column="text")
    assert summary["scored"] == 300
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [1000 + i for i in range(300)]
    assert set(rows[0]) == {"id", "label", "score", "scores", "model_version"}
    assert_matches_runtime(rows, TEXTS, predictor, flat=False)


def test_an_input_id_column_is_the_output_id_by_default(tmp_path: Path, default_bundle: Path,
                                                         predictor) -> None:
    """`sentiment score in.csv out.csv` on a CSV with ids 1, 3, 4 and a blank line: the output
    ids are the input's, never line numbers."""
    inp = tmp_path / "in.csv"
    inp.write_text("id,text\n1,a superb film\n\n3,dull and long\n4,fine\n", encoding="utf-8")
    for out in (tmp_path / "out.csv", tmp_path / "out.jsonl", tmp_path / "out.parquet"):
        job(inp, out, default_bundle)
        if out.suffix == ".csv":
            with open(out, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        elif out.suffix == ".jsonl":
            rows = [json.loads(line) for line in out.read_text().splitlines()]
        else:
            rows = pq.read_table(out).to_pylist()
        assert [str(r["id"]) for r in rows] == ["1", "3", "4"], out
        assert "line" not in rows[0]
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"id": 7, "text": "great"}\n{"id": 9, "text": "awful"}\n')
    job(jsonl, tmp_path / "j.jsonl", default_bundle)
    assert [json.loads(x)["id"] for x in (tmp_path / "j.jsonl").read_text().splitlines()] == [7, 9]


def test_csv_with_id_to_jsonl_and_parquet_to_parquet(tmp_path: Path, default_bundle: Path,
                                                     predictor) -> None:
    ids = [f"r{i}" for i in range(len(TEXTS))]
    inp = write_text_csv(tmp_path / "in.csv", TEXTS, ids)
    job(inp, tmp_path / "out.jsonl", default_bundle, id_column="id")
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ids
    pq.write_table(pa.table({"text": TEXTS}), tmp_path / "in.parquet", row_group_size=100)
    job(tmp_path / "in.parquet", tmp_path / "out.parquet", default_bundle)
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("line").to_pylist() == list(range(1, 301))
    assert "id" not in table.column_names
    assert_matches_runtime(table.to_pylist(), TEXTS, predictor, flat=True)


def test_bad_rows_are_quarantined_and_counted(tmp_path: Path, bad_csv: Path,
                                              default_bundle: Path) -> None:
    out = tmp_path / "out.csv"
    summary = job(bad_csv, out, default_bundle, id_column="id", part_rows=3, window=2)
    assert summary["rows_in"] == summary["scored"] + summary["quarantined"] == 8
    assert summary["quarantined"] == len(BAD_CSV_REJECTED)
    with open(out, newline="", encoding="utf-8") as fh:
        assert [r["id"] for r in csv.DictReader(fh)] == [rid for _, rid, _ in BAD_CSV_GOOD]
    rejected = [json.loads(line) for line in (tmp_path / "out.csv.rejected.jsonl").open()]
    assert [r["line"] for r in rejected] == sorted(BAD_CSV_REJECTED)
    for rec in rejected:
        assert BAD_CSV_REJECTED[rec["line"]] in rec["reason"]


@pytest.mark.parametrize("argv_tail,message", [
    (["missing.csv", "out.csv"], "does not exist"),
    (["in.csv", "out.csv", "--text-column", "body"], "unknown column 'body'"),
    (["in.csv", "out.xml"], "unsupported output format"),
    (["in.txt", "out.csv"], "unsupported input format"),
    (["junk.parquet", "out.csv"], "not a readable Parquet file"),
    (["in.csv", "nodir/out.csv"], "output directory"),
    (["in.csv", "out.csv", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["in.csv", "."], "is a directory"),
])
def test_bad_files_give_one_line_and_exit_2(tmp_path: Path, monkeypatch, capsys, default_bundle,
                                            argv_tail: list[str], message: str) -> None:
    write_text_csv(tmp_path / "in.csv", TEXTS[:5])
    shutil.copy(tmp_path / "in.csv", tmp_path / "in.txt")
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 nope")
    monkeypatch.chdir(tmp_path)
    code = main(["score", *argv_tail, "--model", str(default_bundle), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.csv.parts").exists()


def test_cli_summary_and_existing_output(tmp_path: Path, capsys, default_bundle: Path) -> None:
    inp = write_text_csv(tmp_path / "in.csv", TEXTS[:20])
    argv = ["score", str(inp), str(tmp_path / "out.csv"), "--model", str(default_bundle)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip())  # exactly one JSON line on stdout
    assert {"rows_in", "scored", "quarantined", "seconds", "rows_per_s"} <= set(summary)
    assert summary["rows_in"] == 20 and "rows/s" not in captured.err  # no bar when not a TTY
    assert main(argv) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0


def _interrupted(inp: Path, out: Path, model: Path, **kw) -> None:
    """Leave the work directory a run killed right after start leaves behind."""
    prepare(ScoreConfig(inp, out, model=model, quiet=True, **kw))
    assert (out.parent / (out.name + ".parts") / "manifest.json").is_file()


def test_resume_refuses_other_input_model_or_options(tmp_path: Path, default_bundle: Path) -> None:
    inp, out = write_text_csv(tmp_path / "in.csv", TEXTS[:30]), tmp_path / "out.csv"
    _interrupted(inp, out, default_bundle, batch_size=16)
    with pytest.raises(RuntimeError, match="different options.*batch_size: 16 then, 32 now"):
        job(inp, out, default_bundle, batch_size=32)
    other = tmp_path / "other-model"
    shutil.copytree(default_bundle, other)
    card = json.loads((other / "card.json").read_text())
    card["version"] = "some-other-version"
    (other / "card.json").write_text(json.dumps(card))
    with pytest.raises(RuntimeError, match="different model"):
        job(inp, out, other, batch_size=16)
    write_text_csv(inp, TEXTS[:31])
    with pytest.raises(RuntimeError, match="different input file"):
        job(inp, out, default_bundle, batch_size=16)
    assert not out.exists()
    assert job(inp, out, default_bundle, batch_size=16, force=True)["rows_in"] == 31


def test_crash_between_publication_and_cleanup_resumes(tmp_path: Path, default_bundle: Path,
                                                       monkeypatch) -> None:
    from scoring.parts import WorkDir

    inp = write_text_csv(tmp_path / "in.csv", TEXTS[:50] + [""])
    job(inp, tmp_path / "ref.csv", default_bundle, part_rows=10)
    out = tmp_path / "out.csv"

    def crash(self) -> None:
        raise KeyboardInterrupt("killed while cleaning up")

    with monkeypatch.context() as m:
        m.setattr(WorkDir, "_cleanup", crash)
        with pytest.raises(KeyboardInterrupt):
            job(inp, out, default_bundle, part_rows=10)
    assert out.read_bytes() == (tmp_path / "ref.csv").read_bytes()  # published, parts remain
    assert (tmp_path / "out.csv.parts" / "manifest.json").is_file()
    summary = job(inp, out, default_bundle, part_rows=10)  # the same command again
    assert (summary["rows_in"], summary["scored"], summary["resumed_rows"]) == (51, 50, 51)
    assert out.read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert not (tmp_path / "out.csv.parts").exists()
