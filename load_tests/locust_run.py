"""Run Locust headless as a bounded subprocess against a loopback host and measure the CPU split.

On 2 cores the load generator competes with the server for CPU, so every run records the CPU
seconds used by Locust (exact, from the reaped child's rusage), by the server's process tree
(psutil, when its pid is known) and by the whole machine (other work included).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from devtools.proc import tree_cpu_seconds
from load_tests.checks import require_loopback

log = logging.getLogger(__name__)
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class LocustSpec:
    """One bounded headless Locust run."""

    host: str
    out_dir: Path
    name: str
    users: int
    spawn_rate: float
    run_time_s: int
    pace: float = 0.0
    max_requests: int = 200_000
    single_weight: int = 3
    batch_weight: int = 1
    batch_size: int = 8
    health: bool = False
    texts_file: Path | None = None
    extra: list[str] = field(default_factory=list)

    @property
    def prefix(self) -> Path:
        return self.out_dir / self.name

    def command(self) -> list[str]:
        """The locust command line for this run."""
        p = self.prefix
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
               "--host", require_loopback(self.host), "-u", str(self.users),
               "-r", f"{self.spawn_rate:g}", "-t", f"{self.run_time_s + 20}s",
               "--exact-run-time", str(self.run_time_s), "--stop-timeout", "5",
               "--csv", str(p), "--csv-full-history", "--html", f"{p}.html", "--only-summary",
               "--loglevel", "WARNING", "--exit-code-on-error", "0",
               "--pace", f"{self.pace:g}", "--max-requests", str(self.max_requests),
               "--single-weight", str(self.single_weight), "--batch-weight", str(self.batch_weight),
               "--batch-size", str(self.batch_size), "--raw-log", f"{p}_raw.csv", *self.extra]
        if self.texts_file:
            cmd += ["--texts-file", str(self.texts_file)]
        return cmd + ["PredictUser"] + (["HealthUser"] if self.health else [])


def listener_pid(url: str) -> int | None:
    """The server process behind a loopback URL: the listener, or the `bentoml` process above it."""
    port = urllib.parse.urlsplit(url).port
    try:
        pids = {c.pid for c in psutil.net_connections(kind="tcp")
                if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid}
    except psutil.Error:
        return None
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            if proc.ppid() in pids:
                continue
            parent = proc.parent()
            while parent is not None and "bentoml" in " ".join(parent.cmdline()):
                proc, parent = parent, parent.parent()
            return proc.pid
        except psutil.Error:
            continue
    return None


def _busy_cpu() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)


def _sample(locust_pid: int, server_pid: int | None) -> tuple[float, float, float, float]:
    """(epoch s, Locust CPU s, server tree CPU s, machine busy CPU s) right now."""
    return (time.time(), tree_cpu_seconds(locust_pid), tree_cpu_seconds(server_pid), _busy_cpu())


def cpu_split(samples: list[tuple[float, float, float, float]], t0: float, t1: float,
              server_known: bool = True) -> dict:
    """Cores used by Locust, the server and the machine between the samples nearest [t0, t1]."""
    inside = [s for s in samples if t0 <= s[0] <= t1]
    if len(inside) < 2:
        inside = samples[:1] + samples[-1:]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        nan = float("nan")
        return {"wall_s": 0.0, "locust_cores": nan, "server_cores": nan,
                "machine_busy_cores": nan, "cores": psutil.cpu_count() or 0}
    (a, b), dt = (inside[0], inside[-1]), inside[-1][0] - inside[0][0]
    return {"wall_s": dt, "locust_cores": (b[1] - a[1]) / dt,
            "server_cores": (b[2] - a[2]) / dt if server_known else float("nan"),
            "machine_busy_cores": (b[3] - a[3]) / dt, "cores": psutil.cpu_count() or 0}


def run_locust(spec: LocustSpec, server_pid: int | None = None) -> dict:
    """Run Locust to completion (killed if it overruns), sampling CPU use twice a second."""
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    cmd = spec.command()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                      os.environ.get("PYTHONPATH")]))}
    log.info("locust %s: %d users, %ss", spec.name, spec.users, spec.run_time_s)
    deadline, samples = time.monotonic() + spec.run_time_s + 80, []
    with open(f"{spec.prefix}_locust.log", "w", encoding="utf-8") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        while proc.poll() is None:
            samples.append(_sample(proc.pid, server_pid))
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"locust run {spec.name} overran {spec.run_time_s + 80}s; "
                                   "killed")
            time.sleep(0.5)
    rc = proc.returncode
    if rc != 0 or not Path(f"{spec.prefix}_stats.csv").exists():
        tail = Path(f"{spec.prefix}_locust.log").read_text(encoding="utf-8", errors="replace")
        raise RuntimeError(f"locust run {spec.name} failed (exit {rc}): {tail.strip()[-400:]}")
    return {"spec": spec, "prefix": spec.prefix, "returncode": rc, "command": cmd,
            "samples": samples, "server_known": server_pid is not None}
