"""A small, efficient HTTP/1.1 load generator on asyncio streams (keep-alive, loopback only).

Two modes, both over a fixed pool of keep-alive connections:

* **open loop** (``rate`` given): request *i* is due at ``t0 + i / rate`` whatever the server
  does; a connection takes the next due slot when it is free, and latency is measured from the
  slot's *due* time, so a server stall shows up as latency of every request it delayed
  (no coordinated omission). A run whose achieved rate falls short of the offered one is
  reported as such (``achieved_ratio``), never silently accepted.
* **closed loop** (``rate=None``): every connection sends its next request as soon as the last
  answer arrived — the server's saturation throughput (its latencies hide stalls).

No HTTP library sits in the hot path: requests are pre-built bytes, answers are read by
``Content-Length``. The generator shares the 2 cores with the server, so every run reports
the CPU seconds it used and the server's process group used (the CPU split).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np

from devtools.proc import tree_cpu_seconds


@dataclass(frozen=True)
class LoadSpec:
    """One run: where, what (a cycle of JSON bodies), how fast and for how long."""

    url: str  # e.g. http://127.0.0.1:3000/predict
    bodies: Sequence[bytes]
    duration_s: float = 3.0
    rate: float | None = None  # requests/s (open loop); None = closed loop
    connections: int = 16
    warmup_s: float = 0.5  # answers due in the first warmup_s are not counted
    max_requests: int = 200_000  # hard bound on requests sent in one run
    timeout_s: float = 5.0  # per request
    drain_s: float = 0.5  # open loop: stop taking late slots this long after the end


@dataclass
class Samples:
    """Raw outcome of a run: per-request due time, latency (s) and status."""

    due: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    status: list[int] = field(default_factory=list)


def build_request(url: str, body: bytes) -> bytes:
    """A complete keep-alive POST with a JSON body."""
    parts = urlsplit(url)
    head = (f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one response; return its status (Content-Length framing only)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    else:
        if b"chunked" in head.lower():
            raise ConnectionError("chunked responses are not supported by the load generator")
    if length:
        await reader.readexactly(length)
    return status


class _Run:
    """Shared state of one run: the slot counter, the clock origin, the samples."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.requests = [build_request(spec.url, b) for b in spec.bodies]
        self.slots = itertools.count()
        self.samples = Samples()
        self.t0 = 0.0
        self.end = 0.0

    def next_due(self) -> tuple[int, float] | None:
        """The next slot and its due time (monotonic), or None when the run is over."""
        i = next(self.slots)
        if i >= self.spec.max_requests or time.monotonic() > self.end + self.spec.drain_s:
            return None
        due = self.t0 + i / self.spec.rate if self.spec.rate else time.monotonic()
        return None if due >= self.end else (i, due)


async def _connection(run: _Run) -> None:
    parts = urlsplit(run.spec.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    s, n = run.samples, len(run.requests)
    try:
        while (slot := run.next_due()) is not None:
            i, due = slot
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(run.requests[i % n])
            try:
                status = await asyncio.wait_for(read_response(reader), run.spec.timeout_s)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                s.due.append(due), s.latency.append(time.monotonic() - due), s.status.append(0)
                writer.close()
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                continue
            s.due.append(due), s.latency.append(time.monotonic() - due), s.status.append(status)
    finally:
        writer.close()


async def _run(spec: LoadSpec) -> tuple[Samples, float, float]:
    run = _Run(spec)
    run.t0 = time.monotonic() + 0.05  # let every connection open first
    run.end = run.t0 + spec.duration_s
    await asyncio.gather(*(_connection(run) for _ in range(spec.connections)))
    return run.samples, run.t0, time.monotonic()


def summarize(samples: Samples, spec: LoadSpec, t0: float) -> dict:
    """Percentiles (ms) and rates of the answers due after the warm-up window."""
    due = np.asarray(samples.due) - t0
    keep = due >= spec.warmup_s
    lat = np.asarray(samples.latency)[keep] * 1000.0
    status = np.asarray(samples.status, dtype=np.int64)[keep]
    done = due[keep] + lat / 1000.0
    window = max(spec.duration_s - spec.warmup_s, float(done.max()) - spec.warmup_s if done.size else 0.0)
    ok = lat[status == 200]
    out = {"mode": "open" if spec.rate else "closed", "offered_rps": spec.rate,
           "connections": spec.connections, "duration_s": spec.duration_s,
           "requests": int(lat.size), "errors": int((status != 200).sum()),
           "achieved_rps": float(ok.size / window)}
    for name, q in (("p50_ms", 50), ("p90_ms", 90), ("p99_ms", 99)):
        out[name] = float(np.percentile(lat, q)) if lat.size else None  # None: nothing answered
    out["max_ms"] = float(lat.max()) if lat.size else None
    out["achieved_ratio"] = out["achieved_rps"] / spec.rate if spec.rate else None
    return out


def run_load(spec: LoadSpec, server_pid: int | None = None) -> dict:
    """Run one load and return its summary plus the client/server CPU split."""
    cpu0, srv0, wall0 = time.process_time(), tree_cpu_seconds(server_pid), time.monotonic()
    samples, t0, _ = asyncio.run(_run(spec))
    wall = time.monotonic() - wall0
    out = summarize(samples, spec, t0)
    client = time.process_time() - cpu0
    server = tree_cpu_seconds(server_pid) - srv0
    out["cpu"] = {"wall_s": wall, "client_cpu_s": client, "server_cpu_s": server,
                  "client_cores": client / wall, "server_cores": server / wall,
                  "client_share": client / (client + server) if client + server else None}
    return out


async def _run_many(specs: Sequence[LoadSpec]) -> list[tuple[Samples, float, float]]:
    return list(await asyncio.gather(*(_run(spec) for spec in specs)))


def run_loads(specs: Sequence[LoadSpec], server_pid: int | None = None) -> list[dict]:
    """Several loads at the same time on one event loop (e.g. a mix of routes, each at its own
    rate), summarized one by one; the CPU split (in each summary) is that of all of them."""
    cpu0, srv0, wall0 = time.process_time(), tree_cpu_seconds(server_pid), time.monotonic()
    runs = asyncio.run(_run_many(specs))
    wall = time.monotonic() - wall0
    client = time.process_time() - cpu0
    server = tree_cpu_seconds(server_pid) - srv0
    cpu = {"wall_s": wall, "client_cpu_s": client, "server_cpu_s": server,
           "client_cores": client / wall, "server_cores": server / wall}
    return [{**summarize(samples, spec, t0), "cpu": cpu}
            for (samples, t0, _), spec in zip(runs, specs, strict=True)]
