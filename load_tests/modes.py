"""The three load-test modes: smoke, capacity (stepped closed loop) and latency at load (paced).

capacity: closed-loop users with no wait, stepped up (1, 2, 4, ...) until a step fails the
  failure/p99 gates or throughput stops growing (the knee); capacity is the highest requests/s
  of a step that met the gates.
latency: users paced with constant_throughput at a target rate below capacity. Closed-loop users
  send less when the server stalls, which hides stalls (coordinated omission); paced users keep
  the schedule, and a run whose achieved rate falls more than 5% short of the target is invalid.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

from load_tests.locust_run import LocustSpec
from load_tests.measure import measure, within

log = logging.getLogger(__name__)
MAX_SHORTFALL = 0.05


@dataclass
class Plan:
    """Shared settings of every run in a mode."""

    host: str
    out_dir: Path
    server_pid: int | None = None
    max_requests: int = 200_000
    single_weight: int = 3
    batch_weight: int = 1
    batch_size: int = 8
    texts_file: Path | None = None

    def spec(self, name: str, users: int, run_time_s: int, spawn_rate: float,
             pace: float = 0.0, health: bool = False) -> LocustSpec:
        return LocustSpec(self.host, self.out_dir, name, users, spawn_rate, run_time_s, pace,
                          self.max_requests, self.single_weight, self.batch_weight,
                          self.batch_size, health, self.texts_file)


def user_steps(start: int, max_users: int) -> list[int]:
    """Doubling user counts from start up to and including max_users."""
    if start < 1 or max_users < start:
        raise ValueError(f"need 1 <= start users ({start}) <= max users ({max_users})")
    steps, n = [], start
    while n < max_users:
        steps.append(n)
        n *= 2
    return steps + [max_users]


def stop_reason(steps: list[dict], slo: dict[str, float], min_gain: float = 0.05,
                patience: int = 2) -> str | None:
    """Why to stop stepping after the last step, or None to go on.

    Stop when the last step broke the failure/p99 gates, or at the knee: when `patience` steps
    in a row each gained less than `min_gain` over the best step before them (more users only
    add queueing; one noisy step on a shared machine is not enough to stop).
    """
    ok, why = within(steps[-1], slo)
    if not ok:
        return why
    flat = 0
    for i in range(len(steps) - 1, 0, -1):
        best = max(s["steady"]["rps"] for s in steps[:i])
        if steps[i]["steady"]["rps"] >= best * (1 + min_gain):
            break
        flat += 1
    if flat >= patience:
        best = max(s["steady"]["rps"] for s in steps)
        return f"knee: {flat} steps in a row less than {min_gain:.0%} above {best:.1f} req/s"
    return None


def capacity_of(steps: list[dict], slo: dict[str, float]) -> dict | None:
    """The step with the highest steady requests/s among those within the gates."""
    good = [s for s in steps if within(s, slo)[0]]
    return max(good, key=lambda s: s["steady"]["rps"]) if good else None


def run_capacity(plan: Plan, slo: dict[str, float], users: list[int], step_s: int) -> dict:
    """Step closed-loop users up until the gates break or the knee; return every step."""
    steps: list[dict] = []
    reason = "reached the largest user step"
    for n in users:
        spec = plan.spec(f"capacity_u{n:03d}", n, step_s, spawn_rate=max(n, 1))
        steps.append(measure(spec, plan.server_pid, warmup_s=2.0))
        s = steps[-1]["steady"]
        log.info("capacity step %d users: %.1f req/s, p99 %.1f ms, %d failures",
                 n, s["rps"], s["p99_ms"], s["failures"])
        why = stop_reason(steps, slo)
        if why:
            reason = why
            break
    best = capacity_of(steps, slo)
    return {"mode": "capacity", "steps": steps, "stop_reason": reason,
            "capacity_rps": best["steady"]["rps"] if best else 0.0,
            "capacity_users": best["users"] if best else 0}


def latency_users(rate: float, per_user_rate: float) -> int:
    """Enough paced users that each sends at most per_user_rate requests/s (at least 2)."""
    if rate <= 0 or per_user_rate <= 0:
        raise ValueError("target rate and per-user rate must be > 0")
    return max(2, math.ceil(rate / per_user_rate))


def rate_validity(target: float, achieved: float) -> tuple[float, bool]:
    """(fraction the achieved rate fell short of the target, whether the run is valid)."""
    shortfall = 1.0 - achieved / target
    return shortfall, shortfall <= MAX_SHORTFALL + 1e-12


def run_latency(plan: Plan, rate: float, duration_s: int, users: int) -> dict:
    """Paced users at `rate` requests/s in total; valid only if the achieved rate keeps up.

    `duration_s` is the measured (steady) part: the ramp and each user's first interval are
    added to Locust's run time and left out of the statistics.
    """
    pace = rate / users
    ramp_s = 2.0
    warmup_s = ramp_s + 1.0 / pace
    spec = plan.spec("latency", users, duration_s + math.ceil(warmup_s),
                     spawn_rate=users / ramp_s, pace=pace)
    run = measure(spec, plan.server_pid, warmup_s=warmup_s)
    achieved = run["steady"]["rps"]
    shortfall, valid = rate_validity(rate, achieved)
    return {"mode": "latency", "run": run, "target_rps": rate, "users": users,
            "per_user_rps": pace, "achieved_rps": achieved, "shortfall": shortfall,
            "valid": valid}


def run_smoke(plan: Plan, users: int = 4, duration_s: int = 10) -> dict:
    """A short closed-loop run with a health prober; everything must succeed."""
    spec = plan.spec("smoke", users, duration_s, spawn_rate=users, health=True)
    return {"mode": "smoke", "run": measure(spec, plan.server_pid, warmup_s=1.0)}


def without_rows(result: dict) -> dict:
    """A copy of a mode result without raw rows and specs, for summary.json."""
    def clean(run: dict) -> dict:
        return {k: v for k, v in run.items() if k != "rows"}
    out = dict(result)
    if "steps" in out:
        out["steps"] = [clean(s) for s in out["steps"]]
    if "run" in out:
        out["run"] = clean(out["run"])
    return out

