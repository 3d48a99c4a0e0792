"""Service configuration: one pydantic-settings class, every field read from ``SENTIMENT_*``.

Each field's default is chosen for one server on a small (2-core) machine and documented in its
description; the README's "HTTP service" section lists them. Nothing is read at import time:
call :func:`load_settings` (the service does it once per process when its module is imported
by ``bentoml serve``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.paths import shipped_model_dir

SERVICE_NAME = "sentiment"  # BentoML service name (also in its "Server" response header)
BACKSTOP_S = 2.0  # BentoML's own request timeout sits this far behind the batcher's


def default_workers() -> int:
    """Usable CPU cores (affinity-aware), at most 4: one single-threaded worker per core."""
    return max(1, min(4, len(os.sched_getaffinity(0))))


class Settings(BaseSettings):
    """All knobs of the HTTP service (env prefix ``SENTIMENT_``, e.g. ``SENTIMENT_PORT=8080``)."""

    model_config = SettingsConfigDict(env_prefix="SENTIMENT_", extra="ignore",
                                      protected_namespaces=())

    model_dir: Path = Field(default_factory=shipped_model_dir, description="bundle directory to serve "
                            "(default: the shipped models/default)")
    host: str = Field("127.0.0.1", description="bind address; 0.0.0.0 inside a container")
    port: int = Field(3000, ge=0, le=65535, description="HTTP port")
    workers: int = Field(default_factory=lambda: default_workers(), ge=1, le=64,
                         description="BentoML worker processes, each with its own onnxruntime "
                         "session and batcher (default: usable CPU cores, at most 4)")
    reuse_port: bool = Field(True, description="one SO_REUSEPORT listening socket per worker, "
                             "so the kernel spreads new connections over the workers (with "
                             "BentoML's one shared socket a burst of connections lands on one "
                             "worker); the port is checked to be free first")
    ort_threads: int = Field(1, ge=1, le=64, description="onnxruntime intra-op threads per "
                             "worker; keep workers x ort_threads <= cores")
    batcher: Literal["inline", "bentoml"] = Field("inline", description="who forms batches: "
                                                  "'inline' (service.batcher: a batch starts as "
                                                  "soon as the model is free, with every request "
                                                  "queued meanwhile; admission control holds a "
                                                  "slot until the work ends) or 'bentoml' "
                                                  "(BentoML's adaptive-batching dispatcher)")
    max_batch_size: int = Field(32, ge=2, le=4096, description="adaptive batching: most texts "
                                "scored in one onnxruntime call (CPU per text stops falling "
                                "at ~32 for the shipped model)")
    inline_max_texts: int = Field(8, ge=0, le=4096, description="inline batcher: batches of at "
                                  "most this many texts run on the event loop itself instead of "
                                  "the onnxruntime thread (no thread hop); 0: always the thread")
    inference_nice: int = Field(2, ge=0, le=19, description="inline batcher: niceness added "
                                "to each worker's onnxruntime thread, so that under CPU "
                                "contention its event loop (admission, 429/503, health checks) "
                                "runs first; 0: same priority")
    max_latency_ms: int = Field(500, ge=10, le=600_000, description="load shedding: new "
                                "requests get 503 while the oldest queued one has waited longer, "
                                "or the queued texts would take longer (keep it below timeout_s); "
                                "with batcher=bentoml it also caps how long a batch is held open "
                                "(README, settings sweep)")
    max_texts: int = Field(64, ge=1, description="most texts in one request (413 beyond)")
    max_chars: int = Field(5000, ge=1, description="most characters in one text (413 beyond)")
    max_body_bytes: int = Field(1_000_000, ge=64, description="most request body bytes, "
                                "counted on the incoming stream (413 beyond)")
    api_key: SecretStr | None = Field(None, description="if set, /predict and /model need "
                                      "'Authorization: Bearer <key>'; health and metrics stay open")
    direct_predict: bool = Field(True, description="answer POST /predict in the service's "
                                 "ASGI gate instead of BentoML's router and API handler (still "
                                 "inside BentoML's metrics, access-log and timeout middleware; "
                                 "~30% less CPU per 1-text request). Only with batcher=inline "
                                 "and tracing off; false: the full BentoML path")
    access_log: bool = Field(True, description="BentoML per-request access log lines")
    tracing: bool = Field(False, description="OpenTelemetry spans for /predict and /model; off "
                          "by default: even unsampled spans cost ~15% of a request's CPU")
    gc_freeze: bool = Field(True, description="gc.freeze() after warm-up so full garbage "
                            "collections skip the ~100k start-up objects (shorter stalls)")
    timeout_s: float = Field(30.0, gt=0, description="per-request timeout (504 beyond)")
    max_concurrency: int | None = Field(None, ge=1, description="in-flight requests per "
                                        "server before 429, split evenly across workers; a "
                                        "timed-out request counts until its work has stopped "
                                        "(default: unlimited)")

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.api_key is not None and not self.api_key.get_secret_value().strip():
            self.api_key = None  # SENTIMENT_API_KEY="" means auth off, not "empty key"
        return self

    def api_key_bytes(self) -> bytes | None:
        """The API key as bytes for a constant-time compare, or None when auth is off."""
        return None if self.api_key is None else self.api_key.get_secret_value().encode()

    def worker_concurrency(self) -> int | None:
        """This worker's share of max_concurrency (rounded up, as BentoML splits it)."""
        if self.max_concurrency is None:
            return None
        return -(-self.max_concurrency // self.workers)

    def direct_predict_active(self) -> bool:
        """Whether /predict takes the direct path (needs the inline batcher; with tracing on,
        BentoML's handler adds the request-id header, so the full path is kept)."""
        return self.direct_predict and self.batcher == "inline" and not self.tracing

    def service_config(self) -> dict:
        """The ``@bentoml.service`` config these settings imply."""
        if self.batcher == "inline":  # service.batcher enforces both; BentoML's is a backstop
            traffic: dict = {"timeout": self.timeout_s + BACKSTOP_S}
        else:
            traffic = {"timeout": self.timeout_s}
            if self.max_concurrency:
                traffic["max_concurrency"] = self.max_concurrency
        cfg = {
            "name": SERVICE_NAME,
            "workers": self.workers,
            "traffic": traffic,
            "http": {"host": self.host, "port": self.port},
            "logging": {"access": {"enabled": self.access_log,
                                   "skip_paths": ["/livez", "/readyz", "/healthz", "/metrics"]}},
        }
        if not self.tracing:  # the OTel middleware skips excluded URLs before creating spans
            cfg["tracing"] = {"excluded_urls": [".*"]}
        return cfg


def load_settings() -> Settings:
    """Read the settings from the environment (raises pydantic.ValidationError on bad values)."""
    return Settings()
