"""Helpers shared by the scoring tests (a uniquely named module, importable from test files)."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

WORDS = ["the", "film", "is", "a", "great", "awful", "moving", "boring", "story", "with",
         "superb", "acting", "dull", "plot", "charming", "and", "clumsy", "funny", "but", "not"]


def make_texts(n: int, seed: int = 0) -> list[str]:
    """Texts from 1 to ~90 words (so some exceed max_tokens), with commas, quotes, unicode."""
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        words = rng.choices(WORDS, k=rng.choice([1, 3, 8, 15, 25, 40, 90]))
        if i % 7 == 0:
            words.insert(0, '"quoted", café —')
        texts.append(" ".join(words))
    return texts


def write_text_csv(path: Path, texts: list[str], ids: list | None = None) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"] if ids else ["text"])
        for i, text in enumerate(texts):
            w.writerow([ids[i], text] if ids else [text])
    return path


# Lines:          1          2                3-4                   5   6      7
BAD_CSV = (b'id,text,extra\n' b'a,good one,x\n' b'b,"multi\nline",x\n' b'\n' b'c,,x\n' b'd,  ,x\n'
           # 8                 9                         10               11
           b'e,too,many,x\n' b'f,caf\xe9 latin-1,x\n' b',no id here,x\n' b'g,"last, fine",x\n')
BAD_CSV_GOOD = [(2, "a", "good one"), (3, "b", "multi\nline"), (11, "g", "last, fine")]
BAD_CSV_REJECTED = {6: "empty text", 7: "empty text", 8: "malformed CSV", 9: "undecodable",
                    10: "missing id"}


def write_results(out, rows: list[tuple], fh) -> None:
    """Reference formatter: one part from ``(id, Predictor.to_results row)`` pairs, dict by dict,
    in ``out``'s format (the oracle the engine's array-based ``write_probs`` is checked against)."""
    flat = [[rid, res["label"], res["score"], *[res["scores"][lab] for lab in out.labels],
             out.version] for rid, res in rows]
    if out.fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        for row in flat:
            row[0] = row[0] if out.numeric_ids else str(row[0])
        cols = list(zip(*flat, strict=True)) if flat else [[] for _ in out.columns]
        pq.write_table(pa.table([list(c) for c in cols], schema=out._schema()), fh)
    elif out.fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(flat)
        fh.write(buf.getvalue().encode("utf-8"))
    else:
        fh.write("".join(json.dumps({out.id_name: rid, **res, "model_version": out.version},
                                    ensure_ascii=False) + "\n" for rid, res in rows).encode())
