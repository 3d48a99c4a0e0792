"""What keeps `sentiment bench --quick` short: part order and set-up overlap, server start-up
order, the cached model-level exports, the quick settings and no RESULTS.md.

Servers are replaced by recording fakes here (real ones are exercised in test_bench.py).
"""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest

import bench.run as bench_run
import bench.servers as servers
from bench.service_bench import ServiceBenchConfig


class FakeServer:
    """Records start/ready/stop in a shared event list instead of running a process."""

    def __init__(self, name: str, events: list[str]) -> None:
        self.name, self.events = name, events

    def start(self) -> FakeServer:
        self.events.append(f"start {self.name}")
        return self

    def ready(self) -> FakeServer:
        self.events.append(f"ready {self.name}")
        return self

    def stop(self) -> None:
        self.events.append(f"stop {self.name}")


def test_running_targets_overlaps_set_up_with_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    monkeypatch.setattr(servers, "bentoml_process", lambda *a, **k: FakeServer("service", events))
    monkeypatch.setattr(servers, "bare_process", lambda *a, **k: FakeServer("bare", events))
    monkeypatch.setattr(servers, "nobatch_process", lambda *a, **k: FakeServer("nobatch", events))

    def plain() -> Path:
        events.append("build plain")
        return Path("plain")

    with servers.running_targets(Path("b"), plain, {}, lambda: events.append("set-up")) as procs:
        assert set(procs) == {"service", "bare", "nobatch_plain"}
        events.append("measure")
    assert events[:7] == ["start service", "start bare", "build plain", "start nobatch", "set-up",
                          "ready service", "ready bare"]
    assert events[7:9] == ["ready nobatch", "measure"]
    assert sorted(events[9:]) == ["stop bare", "stop nobatch", "stop service"]


def test_running_targets_stops_started_servers_when_plain_build_fails(
        monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    monkeypatch.setattr(servers, "bentoml_process", lambda *a, **k: FakeServer("service", events))
    monkeypatch.setattr(servers, "bare_process", lambda *a, **k: FakeServer("bare", events))

    def broken() -> Path:
        raise RuntimeError("no plain bundle")

    with pytest.raises(RuntimeError, match="no plain bundle"):
        with servers.running_targets(Path("b"), broken, {}):
            pass
    assert sorted(e for e in events if e.startswith("stop")) == ["stop bare", "stop service"]


def test_run_all_runs_service_first_and_hands_over_model_set_up(
        monkeypatch: pytest.MonkeyPatch, default_bundle: Path, tmp_path: Path) -> None:
    order: list[str] = []

    def service(opts, shared):
        order.append("service")
        shared["model_prepared"] = "prepared during server start-up"
        return {}

    def model(opts, shared):
        order.append("model")
        return {"prepared": shared.get("model_prepared")}

    monkeypatch.setattr(bench_run, "RUNNERS", {
        "model": model, "service": service,
        "batch": lambda o, s: order.append("batch") or {},
        "explain": lambda o, s: order.append("explain") or {}})
    opts = bench_run.BenchOptions(bundle=default_bundle, quick=True, out=tmp_path / "r.json")
    results = bench_run.run_all(opts)
    assert order == ["service", "model", "batch", "explain"]
    assert results["model"]["prepared"] == "prepared during server start-up"
    assert set(results["meta"]["seconds"]) == {"service", "model", "batch", "explain"}
    assert (tmp_path / "r.json").is_file()


def test_quick_cli_writes_results_quick_and_no_markdown(monkeypatch: pytest.MonkeyPatch) -> None:
    from sentiment_cli.main import main

    seen = {}

    def fake_run_all(opts):
        seen["opts"] = opts
        return {"meta": {}}

    monkeypatch.setattr(bench_run, "run_all", fake_run_all)
    monkeypatch.setattr("bench.report.blocks", lambda results: {})
    saved = signal.getsignal(signal.SIGTERM)  # the command installs its own handler
    try:
        assert main(["bench", "--quick"]) == 0
    finally:
        signal.signal(signal.SIGTERM, saved)
    opts = seen["opts"]
    assert opts.quick and opts.markdown is None and opts.out.name == "results-quick.json"


def test_quick_service_settings_are_shorter_but_complete() -> None:
    full, quick = ServiceBenchConfig(), ServiceBenchConfig.quick()
    assert quick.sizes == full.sizes and quick.p99_bounds_ms == full.p99_bounds_ms
    assert 1 <= quick.search_steps < full.search_steps and quick.repeats == 1
    for name in ("capacity_s", "step_s", "fixed_s", "max_run_s"):
        assert getattr(quick, name) < getattr(full, name)


@pytest.mark.slow
def test_model_exports_are_cached_and_checked(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf2onnx")
    from bench import model_engines

    monkeypatch.setenv("SENTIMENT_BENCH_CACHE", str(tmp_path))
    card = {"labels": ["negative", "positive"], "hyperparameters": {
        "model": {"embedding_dim": 8, "units": 8, "bidirectional": False}}}
    rng = np.random.default_rng(1)
    seqs = [list(rng.integers(1, 60, size=rng.integers(1, 20))) for _ in range(64)]
    engines, info = model_engines.build_engines(card, "lstm", 60, seqs)
    assert not info["exports_cached"] and max(info["parity_vs_keras"].values()) <= 1e-5
    assert info["ops"]["fused"].get("LSTM") == 1 and "Loop" in info["ops"]["plain"]
    again, info2 = model_engines.build_engines(card, "lstm", 60, seqs)
    assert info2["exports_cached"] and max(info2["parity_vs_keras"].values()) <= 1e-5
    x = model_engines.make_batches(seqs, 8, seed=3)[0]
    assert np.allclose(again["fused"](x), engines["keras"](x), atol=1e-5)

    # a stale cache entry (here: another model's export) is detected and rebuilt
    folder = next((tmp_path / "model-engines").iterdir())
    other, _ = model_engines.build_engines(card, "gru", 60, seqs)
    gru_folder = next(p for p in (tmp_path / "model-engines").iterdir() if p != folder)
    (folder / "fused.onnx").write_bytes((gru_folder / "fused.onnx").read_bytes())
    _, info3 = model_engines.build_engines(card, "lstm", 60, seqs)
    assert not info3["exports_cached"] and max(info3["parity_vs_keras"].values()) <= 1e-5
