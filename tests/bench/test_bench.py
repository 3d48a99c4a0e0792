"""The benchmark's pieces on tiny settings: bare server parity, load generator, results structure.

No timing assertions: figures depend on the machine. Servers are real processes on loopback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest

from bench.report import results_markdown, targets
from bench.run import BenchOptions, failed_parts, run_all
from bench.servers import bare_process
from bench.service_bench import TARGETS, ServiceBenchConfig, load_texts, request_bodies
from core.runtime import Predictor
from devtools.loadgen import LoadSpec, run_load

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bare(default_bundle: Path):
    with bare_process(default_bundle) as proc:
        yield proc


def test_bare_server_answers_like_the_runtime(bare, default_bundle: Path) -> None:
    texts = load_texts()[:40] + ["ok", "x " * 300]
    body = httpx.post(f"{bare.url}/predict", json={"texts": texts}, timeout=30).json()
    predictor = Predictor(default_bundle)
    assert body["model"] == predictor.bundle.name and body["version"] == predictor.bundle.version
    assert body["results"] == predictor.predict(texts)  # exact floats through JSON
    single = httpx.post(f"{bare.url}/predict", json={"text": texts[0]}, timeout=30).json()
    assert single["results"] == predictor.predict(texts[:1])


def test_bare_server_rejects_bad_input_with_json(bare) -> None:
    r = httpx.post(f"{bare.url}/predict", json={"texts": []}, timeout=10)
    assert r.status_code == 422 and "empty" in r.json()["error"]
    r = httpx.post(f"{bare.url}/predict", content=b"{not json", timeout=10)
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"]


def test_loadgen_open_and_closed_loop(bare) -> None:
    bodies = request_bodies(load_texts(), 4)
    closed = run_load(LoadSpec(f"{bare.url}/predict", bodies, duration_s=0.8, connections=2,
                               warmup_s=0.1), bare.proc.pid)
    assert closed["mode"] == "closed" and closed["requests"] > 0 and closed["errors"] == 0
    assert closed["p50_ms"] <= closed["p99_ms"] <= closed["max_ms"]
    opened = run_load(LoadSpec(f"{bare.url}/predict", bodies, duration_s=1.0, rate=20,
                               connections=4, warmup_s=0.2), bare.proc.pid)
    assert opened["mode"] == "open" and opened["offered_rps"] == 20 and opened["errors"] == 0
    assert 10 <= opened["requests"] <= 18  # 0.8 s of slots at 20/s, no more
    cpu = opened["cpu"]
    assert cpu["server_cpu_s"] > 0 and cpu["client_cpu_s"] > 0 and 0 < cpu["client_share"] < 1


def test_loadgen_counts_failures(bare) -> None:
    bodies = [json.dumps({"texts": []}).encode()]  # every request is a 422
    out = run_load(LoadSpec(f"{bare.url}/predict", bodies, duration_s=0.5, connections=1,
                            warmup_s=0.0))
    assert out["requests"] > 0 and out["errors"] == out["requests"] and out["achieved_rps"] == 0


def test_bench_run_writes_results_and_markdown(default_bundle: Path, tmp_path: Path) -> None:
    cfg = ServiceBenchConfig(sizes=(1,), repeats=1, connections=4, capacity_s=0.6, step_s=0.5,
                             search_steps=1, fixed_s=0.5, warmup_s=0.1, p99_bounds_ms={1: 1000.0})
    opts = BenchOptions(bundle=default_bundle, parts=("service",), out=tmp_path / "results.json",
                        markdown=tmp_path / "RESULTS.md", service_config=cfg,
                        service_bundles=(default_bundle, default_bundle))  # no TF re-exports here
    run_all(opts)
    results = json.loads((tmp_path / "results.json").read_text())
    assert failed_parts(results) == [], results.get("service")
    assert {"meta", "service", "targets"} <= set(results) and "model" not in results
    size = results["service"]["sizes"]["1"]
    assert set(size["targets"]) == set(TARGETS)
    for t in size["targets"].values():
        assert t["capacity_rps"] > 0 and t["fixed_p50_ms"] <= t["fixed_p99_ms"]
    assert set(size["ratios"]) >= {"service_vs_bare_at_p99", "service_vs_nobatch_plain_at_p99"}
    assert [r["target"] for r in targets(results)] == [r["target"] for r in results["targets"]]
    text = (tmp_path / "RESULTS.md").read_text()
    assert text == results_markdown(results)
    assert "## Targets" in text and "## Service level" in text and "| 1 | bare |" in text
    assert "## Model level" not in text and results["meta"]["date"] in text


def test_results_markdown_names_the_run_and_the_machine() -> None:
    meta = {"date": "2026-01-02T03:04:05+00:00", "cpus": 2, "platform": "Linux-x", "python": "3.11.7",
            "libraries": {"onnxruntime": "1.32.0", "keras": None}, "loadavg_before": [0.5, 0.4, 0.3],
            "repeats": 3}
    text = results_markdown({"meta": meta, "batch": {"error": "RuntimeError: boom"}})
    assert text.startswith("# Benchmark results\n")
    for part in ("2026-01-02T03:04:05+00:00", "2 CPUs", "Linux-x", "onnxruntime 1.32.0",
                 "keras absent", "[0.5, 0.4, 0.3]", "## Targets", "batch part failed"):
        assert part in text, part
    assert "## Service level" not in text


def test_cli_bench_rejects_bad_arguments(capsys: pytest.CaptureFixture) -> None:
    from sentiment_cli.main import main

    assert main(["bench", "--repeats", "0", "--only", "batch"]) == 2
    assert "--repeats" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--only", "everything"])


def test_plain_and_fused_re_exports_match_the_bundle(tiny_bundle: Path, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from bench.plain_bundle import max_abs_diff, plain_bundle, rnn_node

    fused = onnx.load(str(tiny_bundle / "model.onnx"))
    if rnn_node(fused.graph) is None:
        pytest.skip("the tiny bundle is not a fused export")
    texts = load_texts()[:200]
    plain = plain_bundle(tiny_bundle, texts, cache=tmp_path)
    assert plain != tiny_bundle
    assert rnn_node(onnx.load(str(plain / "model.onnx")).graph) is None
    assert any(n.op_type == "Loop" for n in onnx.load(str(plain / "model.onnx")).graph.node)
    assert max_abs_diff(tiny_bundle, plain, texts) <= 1e-5
    assert plain_bundle(tiny_bundle, texts, cache=tmp_path) == plain  # cached
    from bench.fused_bundle import fused_bundle

    back = fused_bundle(plain, texts, cache=tmp_path)  # and back: plain -> fused, same weights
    assert rnn_node(onnx.load(str(back / "model.onnx")).graph) is not None
    assert max_abs_diff(tiny_bundle, back, texts) <= 1e-5
    assert fused_bundle(tiny_bundle, texts, cache=tmp_path) == tiny_bundle  # already fused


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
