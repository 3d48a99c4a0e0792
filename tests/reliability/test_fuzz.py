"""Schemathesis against the service's own /docs.json: positive and negative data, >= 500 cases
per operation and mode, bounded in time. Pass: no 5xx, negative data rejected, responses match
the schema."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from reliability_figures import record
from schemathesis.checks import not_a_server_error
from schemathesis.config._checks import NegativeDataRejectionConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]
CASES, BUDGET_S = 500, 90  # per operation and mode; wall-clock bound per operation and mode
CHECKS = [not_a_server_error, response_schema_conformance, negative_data_rejection]


def fuzz_operation(operation, mode: GenerationMode, url: str, headers: dict) -> dict:
    """Run up to CASES generated cases (or BUDGET_S seconds); count statuses and failures."""
    statuses: Counter = Counter()
    failures: list[str] = []
    started = time.monotonic()

    @settings(max_examples=CASES, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        if time.monotonic() - started > BUDGET_S:
            return
        try:
            response = case.call_and_validate(base_url=url, headers=headers, checks=CHECKS,
                                               timeout=10)
            statuses[response.status_code] += 1
        except Exception as exc:  # a failed check (or transport error): count and keep going
            statuses["failed"] += 1
            if len(failures) < 5:
                failures.append(f"{type(exc).__name__}: {str(exc)[:300]}")

    run()
    return {"cases": sum(statuses.values()), "statuses": dict(statuses), "failures": failures,
            "seconds": round(time.monotonic() - started, 1)}


def test_schemathesis_positive_and_negative(main_server, auth):
    schema = schemathesis.openapi.from_url(f"{main_server.url}/docs.json")
    # "rejected" means any client error: the service also answers 413 (limits) and 415
    schema.config.checks.negative_data_rejection = NegativeDataRejectionConfig(
        expected_statuses=["4xx"])
    headers = dict(auth)
    results = {}
    for op in schema.get_all_operations():
        operation = op.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET":
                continue  # parameterless GETs (health, metrics): one possible request, nothing
                # to negate; hypothesis stops after that one distinct case
            key = f"{operation.method.upper()} {operation.path} {mode.value}"
            results[key] = fuzz_operation(operation, mode, main_server.url, headers)
    server_errors = sum(n for r in results.values() for s, n in r["statuses"].items()
                        if isinstance(s, int) and s >= 500)
    failed = sum(r["statuses"].get("failed", 0) for r in results.values())
    record("schemathesis fuzzing", per_operation={k: {"cases": r["cases"], "statuses": r["statuses"],
                                                      "s": r["seconds"]} for k, r in results.items()},
           server_errors=server_errors, failed_checks=failed, passed=not failed)
    predict = [r for k, r in results.items() if k.startswith("POST /predict")]
    assert server_errors == 0
    assert len(predict) == 2 and all(r["cases"] >= CASES for r in predict), \
        {k: r["cases"] for k, r in results.items()}
    assert not failed, {k: r["failures"] for k, r in results.items() if r["failures"]}
