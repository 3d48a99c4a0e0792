"""SLO gates: a small TOML file with one table per mode, checked against a run's numbers."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SLO = Path(__file__).resolve().parent / "slo.toml"
KEYS = {"max_failure_ratio", "p95_ms", "p99_ms", "min_rps"}


@dataclass(frozen=True)
class Check:
    """One SLO: what was required, what was measured, and whether it held."""

    name: str
    limit: float
    actual: float
    ok: bool

    def line(self) -> str:
        """One row of the summary table."""
        op = ">=" if self.name == "min_rps" else "<="
        verdict = "ok" if self.ok else "VIOLATED"
        return f"{self.name:<18} {op} {self.limit:<10g} measured {self.actual:<12.4g} {verdict}"


def load_slo(path: Path = DEFAULT_SLO, mode: str = "smoke") -> dict[str, float]:
    """The SLO table for a mode; unknown keys or non-numbers are errors, not silently ignored."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"SLO file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"SLO file {path} is not valid TOML: {exc}") from None
    table = data.get(mode)
    if not isinstance(table, dict):
        raise ValueError(f"SLO file {path} has no [{mode}] table")
    unknown = set(table) - KEYS
    if unknown:
        raise ValueError(f"SLO file {path} [{mode}]: unknown keys {sorted(unknown)}; "
                         f"allowed: {sorted(KEYS)}")
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"SLO file {path} [{mode}] {key} must be a number >= 0")
    return {k: float(v) for k, v in table.items()}


def check(slo: dict[str, float], stats: dict) -> list[Check]:
    """Compare {failures, count, rps, p95_ms, p99_ms} with the SLO; NaN never passes."""
    count = stats.get("count", 0)
    measured = {"max_failure_ratio": stats.get("failures", 0) / count if count else math.nan,
                "p95_ms": stats.get("p95_ms", math.nan), "p99_ms": stats.get("p99_ms", math.nan),
                "min_rps": stats.get("rps", math.nan)}
    checks = []
    for key in sorted(slo):
        actual, limit = float(measured[key]), slo[key]
        ok = actual >= limit if key == "min_rps" else actual <= limit
        checks.append(Check(key, limit, actual, bool(ok and not math.isnan(actual))))
    return checks
