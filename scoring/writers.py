"""Output formats: turn scored rows into part files, and concatenate parts into the final file.

Every output row holds the input id (or the 1-based line number), the label, its score, one score
per class and the model version. CSV and Parquet flatten per-class scores into ``score_<label>``
columns; JSONL nests them under ``scores``. Floats are written with Python's shortest round-trip
repr, so the text formats carry the runtime's float32 values exactly. Rejected rows always go to a
JSONL quarantine file.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from scoring.rows import Row


class OutputFormat:
    """CSV or JSONL output: parts are byte strings, the final file is header + parts."""

    def __init__(self, fmt: str, labels: list[str], version: str, numeric_ids: bool) -> None:
        self.fmt, self.labels, self.version, self.numeric_ids = fmt, labels, version, numeric_ids
        # the input's ids go in "id"; without an id column, line numbers go in "line", so an
        # output "id" never holds anything but the input's own id
        self.id_name = "line" if numeric_ids else "id"

    @property
    def columns(self) -> list[str]:
        return [self.id_name, "label", "score", *[f"score_{lab}" for lab in self.labels], "model_version"]

    def write_probs(self, ids: list, probs: np.ndarray, fh: BinaryIO,
                    extras: list[dict] | None = None) -> None:
        """Write one part's rows (no header) from their probabilities, without a dict per row.

        The label is the first arg-max and every score the float32 value as a Python float, so
        the text equals formatting ``Predictor.to_results(probs)`` (tested). ``extras``: fields
        added to each JSONL row (``--explain``; JSONL only).
        """
        best = np.argmax(probs, axis=1).tolist()
        labels, version = self.labels, self.version
        if self.fmt == "csv":
            fh.write(csv_rows(ids, best, probs.tolist(), labels, version).encode("utf-8"))
            return
        rows = zip(ids, best, probs.tolist(), extras or [{}] * len(ids), strict=True)
        key = self.id_name
        lines = (json.dumps({key: rid, "label": labels[b], "score": row[b],
                             "scores": dict(zip(labels, row, strict=True)),
                             "model_version": version, **extra}, ensure_ascii=False) + "\n"
                 for rid, b, row, extra in rows)
        fh.write("".join(lines).encode("utf-8"))

    def assemble(self, parts: Iterable[Path], fh: BinaryIO) -> None:
        """Header (CSV only) followed by every part, byte for byte."""
        if self.fmt == "csv":
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow(self.columns)
            fh.write(buf.getvalue().encode("utf-8"))
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, fh, 1 << 20)


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def csv_rows(ids: list, best: list[int], rows: list[list[float]], labels: list[str],
             version: str) -> str:
    """CSV lines (id, label, score, one score per class, version), as ``csv.writer`` writes them.

    When no id, label or version needs quoting, the lines are joined directly, each float's repr
    computed once: 2x faster than ``csv.writer`` (18 vs 38 ms per 4,616 rows), which shortens
    the job's tail (its last part is written after the last batch) and the writer's hold on the
    GIL while the model runs. Otherwise ``csv.writer`` quotes as usual (tested equal).
    """
    plain = [str(rid) for rid in ids]
    if _NEEDS_QUOTES.search("".join([*plain, *labels, version])):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(
            [rid, labels[b], row[b], *row, version] for rid, b, row in zip(ids, best, rows,
                                                                          strict=True))
        return buf.getvalue()
    tail = f",{version}\n"
    lines = []
    for rid, b, row in zip(plain, best, rows, strict=True):
        scores = [repr(x) for x in row]
        lines.append(f"{rid},{labels[b]},{scores[b]},{','.join(scores)}{tail}")
    return "".join(lines)


class ParquetFormat(OutputFormat):
    """Parquet output: each part is a Parquet file; the final file has one row group per part."""

    def _schema(self) -> Any:
        import pyarrow as pa

        fields = [(self.id_name, pa.int64() if self.numeric_ids else pa.string()),
                  ("label", pa.string()), ("score", pa.float64())]
        fields += [(f"score_{lab}", pa.float64()) for lab in self.labels]
        return pa.schema(fields + [("model_version", pa.string())])

    def write_probs(self, ids: list, probs: np.ndarray, fh: BinaryIO,
                    extras: list[dict] | None = None) -> None:
        """One part as a Parquet file, built column by column (``extras``: JSONL only)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        best = np.argmax(probs, axis=1)
        labels = np.array(self.labels, dtype=object)
        cols = [ids if self.numeric_ids else [str(i) for i in ids], labels[best].tolist(),
                probs[np.arange(len(probs)), best].astype(np.float64)]
        cols += [probs[:, j].astype(np.float64) for j in range(len(self.labels))]
        cols.append([self.version] * len(probs))
        pq.write_table(pa.table(cols, schema=self._schema()), fh)

    def assemble(self, parts: Iterable[Path], fh: BinaryIO) -> None:
        import pyarrow.parquet as pq

        with pq.ParquetWriter(fh, self._schema()) as writer:
            for part in parts:
                table = pq.read_table(part)
                if table.num_rows:
                    writer.write_table(table)


def output_format(fmt: str, labels: list[str], version: str, numeric_ids: bool) -> OutputFormat:
    """The writer for ``fmt`` (csv, jsonl or parquet)."""
    cls = ParquetFormat if fmt == "parquet" else OutputFormat
    return cls(fmt, labels, version, numeric_ids)


def write_rejected(rows: list[Row], fh: BinaryIO) -> None:
    """Quarantine records: line, id (when known), reason and a raw excerpt, as JSONL."""
    lines = (json.dumps({"line": r.line, "id": r.rid, "reason": r.reason, "raw": r.raw},
                        ensure_ascii=False) + "\n" for r in rows)
    fh.write("".join(lines).encode("utf-8"))


def assemble_rejected(parts: Iterable[Path], fh: BinaryIO) -> None:
    """The quarantine file: every rejected part, byte for byte."""
    for part in parts:
        with open(part, "rb") as src:
            shutil.copyfileobj(src, fh, 1 << 20)
