"""Readers: line numbers, ids, and every kind of bad record or bad file (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scoring_testlib import BAD_CSV_GOOD, BAD_CSV_REJECTED

from scoring.readers import detect_format, open_reader


def read(path: Path, fmt: str, id_col: str | None = None, text_col: str = "text") -> list:
    return list(open_reader(path, fmt, text_col, id_col).rows())


def test_csv_good_and_bad_records_keep_their_lines(bad_csv: Path) -> None:
    rows = read(bad_csv, "csv", id_col="id")
    good = [(r.line, r.rid, r.text) for r in rows if r.reason is None]
    assert good == BAD_CSV_GOOD
    bad = {r.line: r.reason for r in rows if r.reason is not None}
    assert set(bad) == set(BAD_CSV_REJECTED)
    for line, expected in BAD_CSV_REJECTED.items():
        assert expected in bad[line]
    assert all(r.raw for r in rows if r.reason)  # an excerpt to find the record by
    assert "\\xe9" in next(r.raw for r in rows if r.line == 9)


def test_csv_without_id_column_uses_line_numbers(bad_csv: Path) -> None:
    rows = read(bad_csv, "csv")
    good = [(r.line, r.rid) for r in rows if r.reason is None]
    assert good == [(2, 2), (3, 3), (10, 10), (11, 11)]  # line 10 has no id: fine without ids


def test_jsonl_records(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": 1, "text": "fine"}\n'
                     b'\n'
                     b'{"id": 2, "text": 5}\n'
                     b'{"id": 3}\n'
                     b'not json\n'
                     b'[1, 2]\n'
                     b'{"id": 4, "text": "caf\xe9"}\n'
                     b'{"id": null, "text": "x"}\n'
                     b'{"id": {"a": 1}, "text": "x"}\n'
                     b'{"id": "s", "text": "last"}')
    rows = read(path, "jsonl", id_col="id")
    assert [(r.line, r.rid, r.text) for r in rows if r.reason is None] == [(1, 1, "fine"),
                                                                          (10, "s", "last")]
    reasons = {r.line: r.reason for r in rows if r.reason}
    assert reasons[3].startswith("text is not a string")
    assert reasons[4] == "missing text"
    assert reasons[5].startswith("malformed JSON")
    assert reasons[6] == "not a JSON object"
    assert reasons[7].startswith("undecodable bytes")
    assert reasons[8] == "missing id"
    assert reasons[9].startswith("id is not a scalar")
    assert len(rows) == 9  # the blank line is not a record


def test_parquet_records(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"k": [7, 8, 9, 10], "text": ["ok", None, " ", "fine too"]}), path)
    rows = read(path, "parquet", id_col="k")
    assert [(r.line, r.rid, r.text) for r in rows if r.reason is None] == [(1, 7, "ok"),
                                                                          (4, 10, "fine too")]
    assert {r.line: r.reason for r in rows if r.reason} == {2: "missing text", 3: "empty text"}


@pytest.mark.parametrize("fmt,data", [
    ("csv", b"id,body\n1,hello\n"),
    ("jsonl", b'{"id": 1, "body": "hello"}\n'),
])
def test_unknown_column_is_a_file_error(tmp_path: Path, fmt: str, data: bytes) -> None:
    path = tmp_path / f"in.{fmt}"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="unknown column 'text'.*body"):
        read(path, fmt)


def test_unknown_parquet_column_and_non_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"body": ["x"]}), path)
    with pytest.raises(ValueError, match="unknown column 'text'"):
        read(path, "parquet")
    path.write_bytes(b"text\nnot parquet at all\n")
    with pytest.raises(ValueError, match="not a readable Parquet file"):
        read(path, "parquet")


def test_missing_empty_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read(tmp_path / "nope.csv", "csv")
    with pytest.raises(ValueError, match="not a regular file"):
        read(tmp_path, "csv")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty CSV"):
        read(empty, "csv")
    with pytest.raises(ValueError, match="unsupported input format"):
        detect_format(tmp_path / "data.xlsx")
    with pytest.raises(ValueError, match="unsupported output format 'xml'"):
        detect_format(tmp_path / "out.csv", "xml", "output")
    assert detect_format(tmp_path / "a.NDJSON") == "jsonl"
    assert detect_format(tmp_path / "a.txt", "csv") == "csv"
