"""A small closed-loop HTTP load generator (stdlib only) for like-for-like throughput figures.

N threads each keep one keep-alive connection and POST /predict back to back for D seconds;
the same generator, texts and settings are used against the container and the host service, so
the ratio of the two requests/s figures is what matters, not the absolute numbers (the
generator shares the machine's CPUs with the server).

    python deploy/loadgen.py http://127.0.0.1:3000 --connections 8 --duration 10
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time
import urllib.parse

TEXTS = ["A moving, beautifully acted film.", "Dull and far too long.",
         "The plot is thin but the cast is charming.", "I walked out after an hour.",
         "One of the best films of the year, funny and sharp.", "Not bad, not great."]


def worker(url: str, stop_at: float, headers: dict, out: list, errors: list) -> None:
    """One connection: POST single-text requests until ``stop_at``; record latencies (s)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    i = 0
    while time.monotonic() < stop_at:
        body = json.dumps({"texts": [TEXTS[i % len(TEXTS)]]})
        i += 1
        t0 = time.monotonic()
        try:
            conn.request("POST", "/predict", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            (out if resp.status == 200 else errors).append(time.monotonic() - t0)
        except (OSError, http.client.HTTPException):
            errors.append(time.monotonic() - t0)
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.close()


def run(url: str, connections: int = 8, duration: float = 10.0, warmup: float = 2.0,
        api_key: str = "") -> dict:
    """Warm up, then load for ``duration`` s; requests/s and latency percentiles (ms)."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    for _phase, secs in (("warmup", warmup), ("run", duration)):
        latencies: list[float] = []
        errors: list[float] = []
        stop_at = time.monotonic() + secs
        threads = [threading.Thread(target=worker, args=(url, stop_at, headers, latencies, errors))
                   for _ in range(connections)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
    lat = sorted(latencies) or [0.0]
    return {"connections": connections, "seconds": round(elapsed, 2), "requests": len(latencies),
            "errors": len(errors), "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(statistics.median(lat) * 1000, 2),
            "p99_ms": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url", help="service base URL on loopback, e.g. http://127.0.0.1:3000")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    a = p.parse_args()
    print(json.dumps(run(a.url, a.connections, a.duration, a.warmup)))


if __name__ == "__main__":
    main()
