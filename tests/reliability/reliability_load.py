"""Load shapes for the reliability tests: closed-loop capacity, open-loop offered load, probes.

Open loop means requests are sent on a fixed schedule whatever the server does (one fresh
connection each), so a stalling server is not spared load (no coordinated omission). Every loop
is bounded by a duration and a request count.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from reliability_http import Reply, request

ROOT = Path(__file__).resolve().parents[2]
TEXTS_FILE = ROOT / "load_tests" / "data" / "test_texts.json"
HOST = "127.0.0.1"


def fixture_texts() -> list[str]:
    """Real test-split texts the load-test engineer ships with load_tests/."""
    return json.loads(TEXTS_FILE.read_text(encoding="utf-8"))["texts"]


def predict_body(n: int, seed: int = 0) -> bytes:
    """A /predict body of ``n`` real texts (drawn with replacement past the fixture's size)."""
    texts, rng = fixture_texts(), random.Random(seed)
    picked = rng.sample(texts, n) if n <= len(texts) else rng.choices(texts, k=n)
    return json.dumps({"texts": picked}).encode()


async def closed_loop(port: int, body: bytes, headers: list, users: int, seconds: float,
                      max_requests: int = 20_000) -> tuple[float, list[Reply]]:
    """``users`` back-to-back clients for ``seconds``; returns (successful requests/s, replies)."""
    replies: list[Reply] = []
    deadline = time.perf_counter() + seconds

    async def user() -> None:
        while time.perf_counter() < deadline and len(replies) < max_requests:
            replies.append(await request(HOST, port, "POST", "/predict", headers, body, timeout=30))

    t0 = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(users)))
    ok = sum(r.status == 200 for r in replies)
    return ok / (time.perf_counter() - t0), replies


async def open_loop(port: int, body: bytes, headers: list, rate: float, seconds: float,
                    timeout: float) -> list[Reply]:
    """Send at ``rate`` requests/s for ``seconds`` (fresh connection each), collect all replies."""
    n = int(rate * seconds)
    t0 = time.perf_counter()
    tasks = []
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(
            request(HOST, port, "POST", "/predict", headers, body, timeout=timeout)))
    return list(await asyncio.gather(*tasks))


def get_status(port: int, path: str, timeout: float = 2.0) -> tuple[int, float]:
    """A blocking GET on a fresh socket: (status or 0, milliseconds)."""
    t0 = time.perf_counter()
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
        status = int(head.split()[1])
    except (OSError, IndexError, ValueError):
        status = 0
    return status, (time.perf_counter() - t0) * 1000


@dataclass
class Prober:
    """Polls ``path`` every ``every_s`` from its own thread (so client load cannot delay it)."""

    port: int
    path: str = "/livez"
    every_s: float = 0.05
    results: list[tuple[int, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Prober:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set() and len(self.results) < 100_000:
            self.results.append(get_status(self.port, self.path))
            self._stop.wait(self.every_s)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)


PROBE_SCRIPT = """
import json, socket, sys, time
port, every, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
out, end = [], time.monotonic() + seconds
while time.monotonic() < end and len(out) < 100000:
    t0 = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /livez HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
            status = int(s.recv(64).split()[1])
    except (OSError, IndexError, ValueError):
        status = 0
    out.append((status, (time.perf_counter() - t0) * 1000))
    time.sleep(every)
print(json.dumps(out))
"""


class ProbeProcess:
    """A /livez prober in its own process, so the load generator's GIL cannot delay it."""

    def __init__(self, port: int, every_s: float, seconds: float) -> None:
        import subprocess
        import sys

        self.proc = subprocess.Popen([sys.executable, "-c", PROBE_SCRIPT, str(port), str(every_s),
                                      str(seconds)], stdout=subprocess.PIPE, text=True)
        self.seconds = seconds

    def results(self) -> list[tuple[int, float]]:
        out, _ = self.proc.communicate(timeout=self.seconds + 30)
        return [tuple(x) for x in json.loads(out)]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]
