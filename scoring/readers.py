"""Streaming input readers: CSV, JSONL and Parquet files -> one :class:`Row` per record.

Readers never load a whole file: they yield rows one at a time. A record that cannot be scored
(missing or empty text, non-string value, undecodable bytes, malformed CSV/JSON) is still yielded,
with ``reason`` set, so the job can quarantine it and keep ``rows in = scored + quarantined``.
A file that cannot be read at all (missing, unknown column, not the claimed format) raises a
``ValueError``/``FileNotFoundError`` with a one-line message instead.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scoring.rows import RAW_EXCERPT, Row, excerpt, make_row

FORMATS = ("csv", "jsonl", "parquet")
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
              ".pq": "parquet"}
_BOM = b"\xef\xbb\xbf"


def detect_format(path: Path, explicit: str | None = None, role: str = "input") -> str:
    """The file format: ``explicit`` if given (and known), else from the file extension."""
    if explicit and explicit != "auto":
        if explicit not in FORMATS:
            raise ValueError(f"unsupported {role} format {explicit!r}; use one of {FORMATS}")
        return explicit
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"unsupported {role} format for {path} (extension {path.suffix!r}); "
                         f"use .csv, .jsonl or .parquet, or pass the format explicitly")
    return fmt


class _Reader:
    """Common state: path, columns, and how many bytes have been consumed (for progress)."""

    total_rows: int | None = None

    def check(self) -> None:
        """Raise a one-line error now if the file cannot be scored at all."""

    def columns(self) -> list[str]:
        """The input's column names (JSONL: the keys of its first JSON object)."""
        return []

    def __init__(self, path: Path, text_col: str, id_col: str | None) -> None:
        self.path, self.text_col, self.id_col = path, text_col, id_col
        self.total_bytes = path.stat().st_size
        self._fh: io.BufferedReader | None = None

    def bytes_read(self) -> int:
        """Bytes consumed so far (approximate: includes read-ahead)."""
        fh = self._fh
        return self.total_bytes if fh is None or fh.closed else fh.tell()

    def _unknown(self, col: str, have: list[str]) -> ValueError:
        return ValueError(f"{self.path}: unknown column {col!r} (columns: {', '.join(have)})")


class CsvReader(_Reader):
    """CSV with a header row; undecodable bytes are detected per record (surrogateescape)."""

    def check(self) -> None:
        """Fail early on an empty file or a missing column."""
        with open(self.path, "rb") as raw:
            self._header(csv.reader(self._text(raw)))

    def columns(self) -> list[str]:
        with open(self.path, "rb") as raw:
            try:
                return next(csv.reader(self._text(raw)), None) or []
            except csv.Error:
                return []

    @staticmethod
    def _text(raw: io.BufferedReader) -> io.TextIOWrapper:
        return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")

    def _header(self, reader: Any) -> tuple[int, int, int | None]:
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise ValueError(f"{self.path}: unreadable CSV header ({exc})") from None
        if header is None:
            raise ValueError(f"{self.path}: empty CSV file (no header row)")
        ti = self._index(header, self.text_col)
        ii = self._index(header, self.id_col) if self.id_col else None
        return len(header), ti, ii

    def rows(self) -> Iterator[Row]:
        """Every record after the header, good or bad, in file order."""
        with open(self.path, "rb") as raw:
            self._fh = raw
            reader = csv.reader(self._text(raw))
            yield from self._records(reader, *self._header(reader))

    def _index(self, header: list[str], col: str) -> int:
        if col not in header:
            raise self._unknown(col, header)
        return header.index(col)

    def _records(self, reader: Any, width: int, ti: int, ii: int | None) -> Iterator[Row]:
        """Records with the line each starts on; csv.Error and wrong widths become bad rows."""
        last = reader.line_num
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Row(last + 1, None, None, f"malformed CSV record: {exc}", None)
                last = reader.line_num
                continue
            line, last = last + 1, reader.line_num
            if not rec:
                continue  # blank line: not a record
            if len(rec) != width:
                yield Row(line, None, None, f"malformed CSV record: {len(rec)} fields, "
                          f"header has {width}", excerpt(",".join(rec)))
                continue
            yield make_row(line, rec[ti], rec[ii] if ii is not None else None, self.id_col,
                           ",".join(rec))


class JsonlReader(_Reader):
    """One JSON object per line; blank lines are skipped, undecodable lines quarantined."""

    def check(self) -> None:
        """Fail early if the first JSON object lacks a column (scans up to that object)."""
        for _, obj in self._parsed():
            if obj is not None:
                self._check_columns(obj)
                return

    def columns(self) -> list[str]:
        return next((list(obj) for _, obj in self._parsed() if obj is not None), [])

    def rows(self) -> Iterator[Row]:
        """Every non-blank line as a record, good or bad, in file order."""
        for row, _ in self._parsed():
            yield row

    def _parsed(self) -> Iterator[tuple[Row, dict | None]]:
        with open(self.path, "rb") as fh:
            self._fh = fh
            for line_no, raw in enumerate(fh, 1):
                if line_no == 1 and raw.startswith(_BOM):
                    raw = raw[len(_BOM):]
                if raw.strip():
                    yield self._parse(line_no, raw)

    def _parse(self, line_no: int, raw: bytes) -> tuple[Row, dict | None]:
        """One line -> a row (good or bad) and the parsed object when it is one."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            clean = raw.decode("utf-8", "backslashreplace")[:RAW_EXCERPT]
            return Row(line_no, None, None, "undecodable bytes (not valid UTF-8)", clean), None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            return Row(line_no, None, None, f"malformed JSON: {exc.msg}", excerpt(text)), None
        if not isinstance(obj, dict):
            return Row(line_no, None, None, "not a JSON object", excerpt(text)), None
        rid = obj.get(self.id_col) if self.id_col else None
        return make_row(line_no, obj.get(self.text_col), rid, self.id_col, text), obj

    def _check_columns(self, obj: dict) -> None:
        """The first object decides whether a column exists at all (a typo is a file error)."""
        for col in (self.text_col, self.id_col):
            if col and col not in obj:
                raise self._unknown(col, list(obj))


class ParquetReader(_Reader):
    """Parquet read batch by batch (only the needed columns); line = 1-based row index."""

    def __init__(self, path: Path, text_col: str, id_col: str | None, batch_rows: int = 8192):
        super().__init__(path, text_col, id_col)
        import pyarrow.parquet as pq

        try:
            self._pf = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for non-Parquet files
            raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None
        names = self._pf.schema_arrow.names
        for col in (text_col, id_col):
            if col and col not in names:
                raise self._unknown(col, names)
        self.total_rows = self._pf.metadata.num_rows
        self._batch_rows, self._done = batch_rows, 0

    def columns(self) -> list[str]:
        return list(self._pf.schema_arrow.names)

    def bytes_read(self) -> int:
        """Estimated from the share of rows read (Parquet is read by column chunks)."""
        return self.total_bytes * self._done // max(1, self.total_rows or 1)

    def rows(self) -> Iterator[Row]:
        """Every row, reading only the text (and id) columns, one batch at a time."""
        cols = [self.text_col] + ([self.id_col] if self.id_col else [])
        for batch in self._pf.iter_batches(batch_size=self._batch_rows, columns=cols):
            texts = batch.column(0).to_pylist()
            ids = batch.column(1).to_pylist() if self.id_col else [None] * len(texts)
            for text, rid in zip(texts, ids, strict=True):
                self._done += 1
                yield make_row(self._done, text, rid, self.id_col, repr(text))


AUTO_ID = "auto"
ID_COLUMN = "id"


def open_reader(path: Path, fmt: str, text_col: str, id_col: str | None) -> _Reader:
    """A reader for ``path`` in format ``fmt``; raises a one-line error for a bad file.
    ``id_col`` "auto": the input's ``id`` column if it has one, else none (line numbers)."""
    if not path.exists():
        raise FileNotFoundError(f"input file {path} does not exist")
    if not path.is_file():
        raise ValueError(f"input {path} is not a regular file")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ValueError(f"cannot read input {path}: {exc.strerror}") from None
    cls = {"csv": CsvReader, "jsonl": JsonlReader, "parquet": ParquetReader}[fmt]
    if id_col == AUTO_ID:
        id_col = ID_COLUMN if ID_COLUMN in cls(path, text_col, None).columns() else None
    reader = cls(path, text_col, id_col)
    reader.check()
    return reader
