"""The figures each reliability test measured, printed as a table at the end of the run."""

from __future__ import annotations

import json
import os

FIGURES: dict[str, dict] = {}


def record(test: str, passed: bool | None = None, **figures: object) -> None:
    """Keep one test's figures for the end-of-run table (and $RELIABILITY_FIGURES, as JSON)."""
    FIGURES[test] = {**figures, **({} if passed is None else {"passed": passed})}


def write_summary(write_line) -> None:
    """Print every recorded test's figures; also save them to $RELIABILITY_FIGURES if set."""
    for name, figs in FIGURES.items():
        write_line(f"{name}: {json.dumps(figs, ensure_ascii=False)}")
    out = os.environ.get("RELIABILITY_FIGURES")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(FIGURES, fh, indent=1, ensure_ascii=False)
