"""bench.explain_bench's pieces that need no server: the 30-token text and the summary."""

from __future__ import annotations

from pathlib import Path

from bench.explain_bench import summarize, text_with_tokens
from bench.service_bench import load_texts
from core.runtime import Predictor


def test_text_has_the_asked_number_of_tokens(default_bundle: Path) -> None:
    predictor = Predictor(default_bundle)
    for n in (30, 7):
        text = text_with_tokens(predictor, load_texts(), n)
        assert len(predictor.encode([text])[0]) == n


def test_summary_medians_ratios_and_targets() -> None:
    def rnd(e50: float, ratio: float) -> dict:
        return {"quiet": {"explain": {"p50_ms": e50, "p99_ms": 9.0, "server_cpu_ms_per_request": 4.0},
                          "predict": {"p50_ms": 1.0, "p99_ms": 2.0, "server_cpu_ms_per_request": 0.5}},
                "mixed": {"predict_alone": {"p99_ms": 3.0}, "predict_mixed": {"p99_ms": 3.0 * ratio},
                          "explain_mixed": {"p99_ms": 12.0}, "predict_p99_ratio": ratio}}

    s = summarize([rnd(4.0, 1.2), rnd(6.0, 1.4), rnd(4.5, 2.0)])
    assert s["explain_p50_ms"] == 4.5 and s["mixed_predict_p99_ratio"] == 1.4
    assert s["cost_ratio_cpu"] == 8.0 and s["latency_ratio_p50"] == 4.5
    assert s["meets_p50_target"] and s["meets_mixed_target"]
