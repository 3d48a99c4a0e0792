"""One-screen text summaries of each mode, and the charts that go with them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from load_tests.report import _fmt, cpu_line, latency_table, per_second, plot
from load_tests.slo import Check, check


def steady_line(run: dict) -> str:
    """Rate and exact percentiles of the steady window, in one line."""
    s = run["steady"]
    return (f"steady window: {s['count']} requests in {s['window_s']:.1f}s = {s['rps']:.1f} req/s "
            f"({s['texts_per_s']:.1f} texts/s); exact p50 {_fmt(s['p50_ms'])} p95 "
            f"{_fmt(s['p95_ms'])} p99 {_fmt(s['p99_ms'])} max {_fmt(s.get('max_ms'))} ms")


def server_mismatch(run: dict, tolerance: float = 0.02) -> str | None:
    """A warning when the server counted other requests than the client sent."""
    srv, cli = run["server"].get("count"), run["client_all"]["count"]
    if srv is None or not cli or abs(srv - cli) <= max(2, tolerance * cli):
        return None
    return (f"WARNING: server histogram counted {srv} requests, the client sent {cli}: other "
            "traffic or a shared BENTOML_HOME (metrics dir); server columns are unreliable")


def run_block(run: dict) -> list[str]:
    """Latency table (Locust / exact / server), steady window, sizes, failures, CPU."""
    lines = [latency_table(run["locust"], run["client_all"], run["server"]), steady_line(run)]
    warn = server_mismatch(run)
    if warn:
        lines.append(warn)
    sizes = ", ".join(f"{k}: n={v['count']} p50 {v['p50_ms']:.2f} p99 {v['p99_ms']:.2f} ms"
                      for k, v in run["by_size"].items())
    lines.append(f"by request size: {sizes}")
    mb = run["server"].get("mean_batch_texts", math.nan)
    lines.append(f"server mean adaptive batch: {_fmt(mb)} requests per batch")
    reasons = run["steady"]["failure_reasons"] or run["client_all"]["failure_reasons"]
    if reasons:
        lines.append("failures: " + "; ".join(f"{n} x {r}" for r, n in reasons.items()))
    lines.append(cpu_line(run["cpu"], run["steady"]["rps"]))
    return lines


def checks_block(checks: list[Check], extra_fail: str | None = None) -> tuple[list[str], bool]:
    """SLO lines and the verdict; any extra failure also fails the verdict."""
    ok = all(c.ok for c in checks) and extra_fail is None
    lines = ["SLO checks:"] + ["  " + c.line() for c in checks]
    if extra_fail:
        lines.append(f"  {extra_fail}")
    lines.append(f"VERDICT: {'PASS' if ok else 'FAIL'}")
    return lines, ok


def smoke_summary(result: dict, slo: dict) -> tuple[str, bool]:
    """Smoke report text and whether it passed (health/model failures count too)."""
    run = result["run"]
    other = run["other_failures"]
    lines = ["== smoke run =="] + run_block(run)
    block, ok = checks_block(check(slo, run["steady"]),
                             f"{other} failed health/model requests" if other else None)
    return "\n".join(lines + block), ok


def capacity_summary(result: dict, slo: dict) -> tuple[str, bool]:
    """One row per user step, the capacity found, and the gates applied to that step."""
    head = (f"{'users':>5} {'req/s':>7} {'texts/s':>7} {'p50':>7} {'p95':>7} {'p99':>8} "
            f"{'lc p99':>7} {'srv p99':>8} {'fail':>4} {'batch':>5} {'cpu srv/lc':>10}")
    lines = ["== capacity (closed loop, no wait) ==",
             "p50/p95/p99: exact client ms, steady window; lc = Locust (rounded), srv = server "
             "histogram", head]
    for st in result["steps"]:
        s, srv, cpu = st["steady"], st["server"], st["cpu"]
        lines.append(f"{st['users']:>5} {s['rps']:>7.1f} {s['texts_per_s']:>7.1f} "
                     f"{s['p50_ms']:>7.2f} {s['p95_ms']:>7.2f} {s['p99_ms']:>8.2f} "
                     f"{_fmt(st['locust']['p99_ms'], 0):>7} {_fmt(srv.get('p99_ms')):>8} "
                     f"{s['failures']:>4} "
                     f"{_fmt(srv.get('mean_batch_texts'), 1):>5} "
                     f"{_fmt(cpu['server_cores']) + '/' + _fmt(cpu['locust_cores']):>10}")
    lines.append(f"stopped: {result['stop_reason']}")
    lines.append(f"CAPACITY: {result['capacity_rps']:.1f} req/s at {result['capacity_users']} "
                 f"users within p99 <= {_fmt(slo.get('p99_ms'))} ms")
    best = max((s for s in result["steps"] if s["users"] == result["capacity_users"]),
               key=lambda s: s["steady"]["rps"], default=None)
    stats = best["steady"] if best else {"count": 0}
    block, ok = checks_block(check(slo, stats), None if best else "no step met the gates")
    return "\n".join(lines + block), ok


def latency_summary(result: dict, slo: dict) -> tuple[str, bool]:
    """Target vs achieved rate (valid or not), the latency views, and the SLO verdict."""
    run = result["run"]
    valid = result["valid"]
    lines = ["== latency at load (paced users, constant_throughput) ==",
             f"target {result['target_rps']:.1f} req/s with {result['users']} users x "
             f"{result['per_user_rps']:.2f}/s; achieved {result['achieved_rps']:.1f} req/s "
             f"(short by {100 * result['shortfall']:.1f}%) -> "
             f"{'valid' if valid else 'INVALID (more than 5% short: the server fell behind)'}"]
    lines += run_block(run)
    block, ok = checks_block(check(slo, run["steady"]),
                             None if valid else "run INVALID: achieved rate > 5% below target")
    return "\n".join(lines + block), ok


def chart_run(run: dict, path: Path, title: str, target: float | None = None) -> Path:
    """Chart of one run's exact per-second percentiles and rate."""
    return plot(per_second(run["rows"]), path, title, target_rps=target)


def chart_capacity(result: dict, path: Path) -> Path:
    """Every step's per-second series laid end to end, with a mark at each step."""
    parts, marks, offset = [], [], 0.0
    for st in result["steps"]:
        ser = per_second(st["rows"])
        if not ser["t"].size:
            continue
        marks.append((offset, f"{st['users']}u"))
        parts.append({k: (v + offset if k == "t" else v) for k, v in ser.items()})
        offset += ser["t"][-1] + 1.0
    joined = {k: np.concatenate([p[k] for p in parts]) if parts else np.array([])
              for k in ("t", "rps", "p50", "p95", "p99")}
    return plot(joined, path, f"capacity: {result['capacity_rps']:.0f} req/s", marks=marks)
