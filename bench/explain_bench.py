"""Explanations served: ``/explain`` of one 30-token text against ``/predict`` of the same text,
and ``/predict``'s latency with and without 10% ``/explain`` requests mixed in.

* **quiet**: one connection, closed loop (the next request when the last is answered) on our
  service alone: p50/p99 of each route and the server CPU per request (their cost ratio);
* **mixed**: ``/predict`` open loop at a fixed rate, alone, then with ``/explain`` added at a
  ninth of that rate (10% of all requests), for the same time; rounds alternate the two. The
  figure is ``/predict``'s p99 mixed over alone (target: at most 1.5).

Figures are medians over rounds. Speed targets are checked here, never in tests. Run
``python -m bench.explain_bench [--quick]`` on a quiet machine; it prints JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.service_bench import load_texts
from bench.service_bench import median_of as median
from core.paths import default_model_dir
from core.runtime import Predictor
from devtools.launcher import ServiceProcess
from devtools.loadgen import LoadSpec, run_load, run_loads

log = logging.getLogger(__name__)
TARGET_P50_MS = 5.0
TARGET_P99_RATIO = 1.5


@dataclass
class ExplainBenchConfig:
    tokens: int = 30
    quiet_s: float = 5.0
    mixed_s: float = 8.0
    predict_rps: float = 200.0
    rounds: int = 3
    connections: int = 16
    service_env: dict[str, str] = field(default_factory=lambda: {"SENTIMENT_ACCESS_LOG": "false"})

    @classmethod
    def quick(cls) -> ExplainBenchConfig:
        return cls(quiet_s=1.5, mixed_s=2.5, rounds=1)


def text_with_tokens(predictor: Predictor, texts: list[str], n: int) -> str:
    """The first text with exactly ``n`` tokens, else the first ``n`` tokens of all of them."""
    encoder = predictor.encoder
    for text in texts:
        if len(encoder.encode_spans(text).ids) == n:
            return text
    joined = " ".join(texts)
    return joined[:encoder.encode_spans(joined).offsets[n - 1][1]]


def body(text: str) -> bytes:
    return json.dumps({"text": text}).encode()


def quiet(url: str, data: bytes, seconds: float, pid: int) -> dict[str, Any]:
    """Closed loop on one connection: latency, and server CPU per request."""
    run_load(LoadSpec(url, [data], duration_s=0.3, connections=1, warmup_s=0.0), pid)  # warm
    out = run_load(LoadSpec(url, [data], duration_s=seconds, connections=1, warmup_s=0.0), pid)
    out["server_cpu_ms_per_request"] = 1000 * out["cpu"]["server_cpu_s"] / max(1, out["requests"])
    return out


def mixed(svc: ServiceProcess, bodies: dict[str, bytes], cfg: ExplainBenchConfig) -> dict[str, Any]:
    """/predict at ``predict_rps``, alone, then with /explain at a ninth of it."""
    pid = svc.proc.pid if svc.proc else None

    def spec(route: str, rate: float, connections: int) -> LoadSpec:
        return LoadSpec(f"{svc.url}/{route}", [bodies[route]], duration_s=cfg.mixed_s, rate=rate,
                        connections=connections, warmup_s=0.5)

    alone = run_loads([spec("predict", cfg.predict_rps, cfg.connections)], pid)[0]
    both = run_loads([spec("predict", cfg.predict_rps, cfg.connections),
                      spec("explain", cfg.predict_rps / 9, 4)], pid)
    ratio = (both[0]["p99_ms"] / alone["p99_ms"]) if alone["p99_ms"] and both[0]["p99_ms"] else None
    return {"predict_alone": alone, "predict_mixed": both[0], "explain_mixed": both[1],
            "predict_p99_ratio": ratio}


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline figures (medians over rounds) and whether they meet the targets."""
    s = {"explain_p50_ms": median(rounds, "quiet", "explain", "p50_ms"),
         "explain_p99_ms": median(rounds, "quiet", "explain", "p99_ms"),
         "predict_p50_ms": median(rounds, "quiet", "predict", "p50_ms"),
         "predict_p99_ms": median(rounds, "quiet", "predict", "p99_ms"),
         "explain_cpu_ms": median(rounds, "quiet", "explain", "server_cpu_ms_per_request"),
         "predict_cpu_ms": median(rounds, "quiet", "predict", "server_cpu_ms_per_request"),
         "mixed_predict_p99_alone_ms": median(rounds, "mixed", "predict_alone", "p99_ms"),
         "mixed_predict_p99_ms": median(rounds, "mixed", "predict_mixed", "p99_ms"),
         "mixed_explain_p99_ms": median(rounds, "mixed", "explain_mixed", "p99_ms"),
         "mixed_predict_p99_ratio": median(rounds, "mixed", "predict_p99_ratio")}
    if s["explain_cpu_ms"] and s["predict_cpu_ms"]:
        s["cost_ratio_cpu"] = s["explain_cpu_ms"] / s["predict_cpu_ms"]
    if s["explain_p50_ms"] and s["predict_p50_ms"]:
        s["latency_ratio_p50"] = s["explain_p50_ms"] / s["predict_p50_ms"]
    s["meets_p50_target"] = s["explain_p50_ms"] is not None and s["explain_p50_ms"] <= TARGET_P50_MS
    ratio = s["mixed_predict_p99_ratio"]
    s["meets_mixed_target"] = ratio is not None and ratio <= TARGET_P99_RATIO
    return s


def run_explain_bench(bundle: Path | None = None, cfg: ExplainBenchConfig | None = None
                      ) -> dict[str, Any]:
    cfg = cfg or ExplainBenchConfig()
    bundle = bundle or default_model_dir()
    text = text_with_tokens(Predictor(bundle), load_texts(), cfg.tokens)
    bodies = {"predict": body(text), "explain": body(text)}
    load_before = os.getloadavg()
    rounds = []
    with ServiceProcess({**cfg.service_env, "SENTIMENT_MODEL_DIR": str(bundle)}) as svc:
        pid = svc.proc.pid if svc.proc else None
        assert pid is not None
        for i in range(cfg.rounds):
            log.info("explain bench: round %d/%d", i + 1, cfg.rounds)
            rounds.append({"quiet": {route: quiet(f"{svc.url}/{route}", data, cfg.quiet_s, pid)
                                     for route, data in bodies.items()},
                           "mixed": mixed(svc, bodies, cfg)})
    return {"config": asdict(cfg), "text": text, "bundle": str(bundle),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "summary": summarize(rounds), "rounds": rounds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short runs, one round")
    p.add_argument("--model", type=Path, default=None, help="bundle (default: the shipped one)")
    p.add_argument("--predict-rps", type=float, default=None, help="mixed load's /predict rate")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = ExplainBenchConfig.quick() if args.quick else ExplainBenchConfig()
    if args.predict_rps:
        cfg.predict_rps = args.predict_rps
    result = run_explain_bench(args.model, cfg)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(json.dumps({"loadavg_before": result["loadavg_before"], **result["summary"]}, indent=1))


if __name__ == "__main__":
    main()
