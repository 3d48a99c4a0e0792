"""Locust users for the sentiment service: real test-split texts, 1-text and multi-text requests.

Run it through `sentiment loadtest` (which starts the server, bounds the run and checks SLOs),
or by hand against a loopback server (a non-loopback --host or a missing --run-time is refused)::

    .venv/bin/locust -f load_tests/locustfile.py --headless -u 8 -r 8 -t 20s \
        --host http://127.0.0.1:3000 PredictUser

Options added to Locust's command line (all optional):
  --texts-file     fixture of texts (default load_tests/data/test_texts.json)
  --single-weight  relative weight of 1-text requests (default 3)
  --batch-weight   relative weight of multi-text requests (default 1)
  --batch-size     multi-text requests send 2..N texts (default 8)
  --pace           per-user requests/s via constant_throughput; 0 = closed loop, no wait
  --max-requests   stop the run after this many requests (default 200000)
  --raw-log        write every request's unrounded latency to this CSV at the end
  --exact-run-time stop after this many wall-clock seconds (the runner sets it, with -t as a
                   backstop 20 s later: Locust's own -t can fire seconds early under load)

`PredictUser` sends POST /predict (with `Authorization: Bearer $SENTIMENT_API_KEY` when that
variable is set, as for the server); `HealthUser` (tag "health", one user, 2 checks/s) probes
/livez and /readyz. A response is a failure, with the reason, unless it is HTTP 200 with one
well-formed result per text sent.
"""

from __future__ import annotations

import csv
import itertools
import logging
import os
import random
import time
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant_throughput, events, tag, task

from load_tests.checks import check_predict, require_loopback
from load_tests.make_fixture import DEFAULT_OUT, load_texts

log = logging.getLogger(__name__)

TEXTS: list[str] = []
LABELS: set[str] = set()  # filled from GET /model by the first user
RAW: list[tuple[float, float, str, int, str, int]] = []
USER_IDS = itertools.count(1)
STATE: dict[str, Any] = {"count": 0, "stopping": False}


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    parser.add_argument("--texts-file", default=str(DEFAULT_OUT), help="fixture of texts")
    parser.add_argument("--single-weight", type=int, default=3, help="weight of 1-text requests")
    parser.add_argument("--batch-weight", type=int, default=1, help="weight of multi-text requests")
    parser.add_argument("--batch-size", type=int, default=8, help="multi-text requests send 2..N")
    parser.add_argument("--pace", type=float, default=0.0, help="per-user requests/s (0: no wait)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after N requests")
    parser.add_argument("--raw-log", default="", help="CSV of unrounded latencies")
    parser.add_argument("--exact-run-time", type=float, default=0.0,
                        help="stop this many wall-clock seconds after the test starts")


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    """Load the texts and set the task mix from the options (once per Locust process)."""
    opts = environment.parsed_options
    if opts is None:
        return
    require_loopback(environment.host or "")  # load only ever goes to loopback
    if not opts.run_time:
        raise ValueError("give a bounded --run-time (-t), e.g. -t 30s")
    weights = (opts.single_weight, opts.batch_weight)
    if min(weights) < 0 or sum(weights) == 0:
        raise ValueError("--single-weight/--batch-weight must be >= 0 and not both 0")
    if opts.batch_size < 2:
        raise ValueError("--batch-size must be >= 2")
    TEXTS[:] = load_texts(Path(opts.texts_file))
    PredictUser.tasks = ([PredictUser.predict_one] * opts.single_weight
                         + [PredictUser.predict_batch] * opts.batch_weight)


@events.request.add_listener
def _on_request(name: str, response_time: float, exception: Exception | None,
                context: dict, start_time: float | None = None, **_: Any) -> None:
    """Keep the unrounded latency and enforce the request bound."""
    RAW.append((start_time or 0.0, float(response_time), name, int(context.get("texts", 0)),
                "" if exception is None else str(exception)[:200], int(context.get("user", 0))))
    STATE["count"] += 1
    env = STATE.get("env")
    limit = env.parsed_options.max_requests if env is not None else 0
    if limit and STATE["count"] >= limit and not STATE["stopping"]:
        STATE["stopping"] = True
        log.warning("request bound %d reached: stopping", limit)
        gevent.spawn(env.runner.quit)


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    STATE["env"] = environment
    seconds = environment.parsed_options.exact_run_time if environment.parsed_options else 0.0
    if seconds > 0:
        gevent.spawn(_stop_at, environment, time.monotonic() + seconds)


def _stop_at(environment: Any, deadline: float) -> None:
    """Quit at a wall-clock deadline. Locust's -t timer runs on gevent's cached loop time,
    which lags after a slow start on a busy machine: we saw -t 8s end after 4 s."""
    while time.monotonic() < deadline:
        gevent.sleep(min(0.2, max(deadline - time.monotonic(), 0.0)))
    if not STATE["stopping"]:
        STATE["stopping"] = True
        environment.runner.quit()


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    """Write the raw latency log (start_time, latency_ms, name, texts, error, user)."""
    path = environment.parsed_options.raw_log if environment.parsed_options else ""
    if not path:
        return
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["start_time", "latency_ms", "name", "texts", "error", "user"])
        writer.writerows(RAW)


class PredictUser(FastHttpUser):
    """Sends POST /predict with 1 text or 2..batch-size texts, by the configured weights."""

    network_timeout = 30.0
    connection_timeout = 5.0

    def wait_time(self) -> float:
        pace = self.environment.parsed_options.pace if self.environment.parsed_options else 0.0
        if pace <= 0:
            return 0.0
        if not hasattr(self, "_pacer"):
            self._pacer = constant_throughput(pace)
        return self._pacer(self)

    def on_start(self) -> None:
        """Use the API key if one is set, learn the label set once, give paced users a phase."""
        self.uid = next(USER_IDS)
        key = os.environ.get("SENTIMENT_API_KEY", "").strip()
        self.auth = {"Authorization": f"Bearer {key}"} if key else {}
        if not LABELS:
            with self.client.get("/model", name="/model", headers=self.auth,
                                 catch_response=True) as resp:
                labels = (resp.json() or {}).get("labels") if resp.status_code == 200 else None
                if isinstance(labels, list) and labels:
                    LABELS.update(str(x) for x in labels)
        pace = self.environment.parsed_options.pace if self.environment.parsed_options else 0.0
        if pace > 0:
            # a random phase per user, so paced users do not fire in lock-step bursts;
            # constant_throughput measures each interval from _cp_last_run, so restart it here
            gevent.sleep(random.random() / pace)
            self._cp_last_run = time.perf_counter()
            self._cp_last_wait_time = 0.0

    def _predict(self, texts: list[str]) -> None:
        payload = {"text": texts[0]} if len(texts) == 1 else {"texts": texts}
        with self.client.post("/predict", json=payload, name="/predict", headers=self.auth,
                              catch_response=True,
                              context={"texts": len(texts), "user": self.uid}) as resp:
            reason = check_predict(resp.status_code, resp.content, len(texts), LABELS)
            if reason:
                resp.failure(reason)
            else:
                resp.success()

    @task
    def predict_one(self) -> None:
        self._predict([random.choice(TEXTS)])

    @task
    def predict_batch(self) -> None:
        size = random.randint(2, self.environment.parsed_options.batch_size)
        self._predict(random.sample(TEXTS, min(size, len(TEXTS))))


class HealthUser(FastHttpUser):
    """One prober hitting /livez and /readyz twice a second (select it by class name)."""

    fixed_count = 1
    wait_time = constant_throughput(2)

    @tag("health")
    @task
    def livez(self) -> None:
        self.client.get("/livez", name="/livez")

    @tag("health")
    @task
    def readyz(self) -> None:
        self.client.get("/readyz", name="/readyz")
