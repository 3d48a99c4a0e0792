"""bench.batch_bench.run_batch_bench: the function `sentiment bench` calls returns real figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from scoring_testlib import make_texts

from bench.batch_bench import run_batch_bench
from bench.report import markdown_batch

pytestmark = pytest.mark.slow


def test_batch_bench_small(default_bundle: Path, tmp_path: Path) -> None:
    res = run_batch_bench(default_bundle, make_texts(300), scales=(1, 2), repeats=1,
                          batch_size=32, workdir=tmp_path)
    assert res["rows"] == 300 and res["batch_size"] == 32
    assert res["raw_ort_rows_per_s"] > 0 and res["engine_rows_per_s"] > 0
    ratios = res["engine_vs_raw_runs"]  # one raw/engine pair per repeat, run in turn
    assert len(ratios) == 1 and res["engine_vs_raw"] == pytest.approx(ratios[0], abs=1e-3)
    assert res["engine_vs_raw"] == pytest.approx(
        res["engine_rows_per_s"] / res["raw_ort_rows_per_s"], rel=1e-2)
    assert 0 < res["tokenize_share"] < 1
    assert [m["rows"] for m in res["memory"].values()] == [300, 600]
    # the child's own peak (VmHWM), not this test process's RSS inherited through fork
    assert all(50 < m["peak_rss_mib"] < 1024 for m in res["memory"].values())
    raw_rate = res["raw_ort_rows_per_s"]
    for m in res["memory"].values():  # a fresh process's rate against raw's, both measured
        assert m["vs_raw"] == pytest.approx(m["rows_per_s"] / raw_rate, rel=1e-2)
    text = markdown_batch(res)
    assert "x2 (600 rows, fresh process" in text and f"{res['memory']['x2']['vs_raw']:.2f}x" in text
    assert list(tmp_path.iterdir()) == []  # temporary inputs and outputs removed
