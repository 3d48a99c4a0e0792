"""Loopback HTTP measurement of the service with `wrk`: requests/s, p50/p99, server CPU/request.

    python -m service.httpbench --concurrency 1 8 32 --texts 1 32 --seconds 10

Starts one server (service.launcher) per configuration given as SENTIMENT_* overrides, warms it
up, then runs `wrk -t1 -c<C> -d<S>s --latency` per (texts, concurrency) and reads the server
processes' CPU time from /proc, so results on a shared machine can be read as "CPU ms per
request" as well as wall-clock figures. `wrk` is closed-loop (coordinated omission): p99 under
stalls is under-sampled. Needs the `wrk` binary (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from service.launcher import ServiceProcess, descendants
from service.metrics import histogram, samples

WORDS = ("a moving beautifully acted film with superb cast and story that stays with you dull "
         "tedious far too long plot acting charming weak funny not very").split()
CLK_TCK = os.sysconf("SC_CLK_TCK")


def request_body(n_texts: int, seed: int = 1) -> str:
    """A /predict body with ``n_texts`` review-like texts of 10-30 words."""
    rng = random.Random(seed)
    return json.dumps({"texts": [" ".join(rng.choices(WORDS, k=rng.randint(10, 30)))
                                 for _ in range(n_texts)]})


def wrk_script(body: str, directory: Path) -> Path:
    path = directory / f"body{len(body)}.lua"
    path.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    f"wrk.body = [[{body}]]\n")
    return path


def tree_cpu_seconds(pid: int) -> float:
    """utime+stime of ``pid`` and its live descendants (the BentoML workers)."""
    total = 0
    for p in (pid, *descendants(pid)):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # stat fields 14, 15: utime, stime
    return total / CLK_TCK


def server_stats(url: str) -> dict[str, float]:
    """Counters read from /metrics: ORT batches and texts, gen-2 GC pauses and their seconds."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    batch = histogram(text, "sentiment_batch_texts")
    gen2 = [s for s in samples(text, "sentiment_gc_pause_seconds_count")
            if s["labels"].get("generation") == "2"]
    gen2_sum = [s for s in samples(text, "sentiment_gc_pause_seconds_sum")
                if s["labels"].get("generation") == "2"]
    return {"batches": batch["count"],
            "texts": sum(s["value"] for s in samples(text, "sentiment_batch_texts_sum")),
            "gc2": sum(s["value"] for s in gen2), "gc2_s": sum(s["value"] for s in gen2_sum)}


def to_ms(value: str) -> float:
    num, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(num) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, script: Path, conns: int, seconds: int) -> dict:
    """One wrk run: requests, rps, p50/p99 ms, non-2xx count."""
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s",
                          str(script), f"{url}/predict"], capture_output=True, text=True,
                         timeout=seconds + 60, check=True).stdout
    pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": to_ms(pct["50"]), "p99_ms": to_ms(pct["99"]),
            "non_2xx": int(errors.group(1)) if errors else 0}


def measure(env: dict[str, str], texts: list[int], conns: list[int], seconds: int) -> list[dict]:
    """Start one server with ``env`` and measure every (texts, concurrency) pair."""
    rows = []
    with ServiceProcess(env) as svc, tempfile.TemporaryDirectory() as tmp:
        for n in texts:
            script = wrk_script(request_body(n), Path(tmp))
            run_wrk(svc.url, script, 2, 3)  # warm-up (also trains the batcher)
            for c in sorted(conns):
                time.sleep(2)  # let requests queued by the previous run drain
                cpu0, st0 = tree_cpu_seconds(svc.proc.pid), server_stats(svc.url)
                res = run_wrk(svc.url, script, c, seconds)
                cpu, st1 = tree_cpu_seconds(svc.proc.pid) - cpu0, server_stats(svc.url)
                d = {k: st1[k] - st0[k] for k in st0}
                res.update(texts=n, conns=c, cpu_ms_per_req=1000 * cpu / max(1, res["requests"]),
                           mean_batch=d["texts"] / max(1, d["batches"]), gc2=d["gc2"],
                           gc2_ms=1000 * d["gc2_s"] / max(1, d["gc2"]),
                           load1=os.getloadavg()[0], env=env)
                rows.append(res)
                print(json.dumps(res), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--texts", type=int, nargs="+", default=[1, 32])
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--env", nargs="*", default=[], metavar="KEY=VALUE",
                   help="SENTIMENT_* overrides for the server (default: access log off)")
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("httpbench: `wrk` not found (apt-get install wrk)")
    env = {"SENTIMENT_ACCESS_LOG": "false", **dict(kv.split("=", 1) for kv in args.env)}
    rows = measure(env, args.texts, args.concurrency, args.seconds)
    print("| texts/request | connections | requests/s | texts/s | p50 ms | p99 ms | "
          "server CPU ms/request | texts per ORT batch | gen-2 GCs (mean ms) | non-2xx | "
          "load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['texts']} | {r['conns']} | {r['rps']:.0f} | {r['rps'] * r['texts']:.0f} | "
              f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['cpu_ms_per_req']:.2f} | "
              f"{r['mean_batch']:.1f} | {r['gc2']:.0f} ({r['gc2_ms']:.0f}) | {r['non_2xx']} | "
              f"{r['load1']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
