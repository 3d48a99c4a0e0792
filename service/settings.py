"""Service configuration: one pydantic-settings class, every field read from ``SENTIMENT_*``.

Only what an operator running the service needs; each default suits one server on a small
(2-core) machine and is documented in its description (``sentiment serve --help`` and
docs/settings.md list them). Nothing is read at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.paths import default_model_dir

SERVICE_NAME = "sentiment"  # BentoML service name (also in its "Server" response header)
BACKSTOP_S = 2.0  # BentoML's own request timeout sits this far behind the batcher's


def default_host() -> str:
    """Loopback, except in a container built by BentoML (BENTOML_CONTAINERIZED=true)."""
    containerized = os.environ.get("BENTOML_CONTAINERIZED", "").lower() in ("true", "1", "yes")
    return "0.0.0.0" if containerized else "127.0.0.1"


class Settings(BaseSettings):
    """All knobs of the HTTP service (env prefix ``SENTIMENT_``, e.g. ``SENTIMENT_PORT=8080``)."""

    model_config = SettingsConfigDict(env_prefix="SENTIMENT_", extra="ignore",
                                      protected_namespaces=())

    model_dir: Path = Field(default_factory=default_model_dir, description="bundle directory "
                            "to serve (default: the shipped models/default)")
    host: str = Field(default_factory=lambda: default_host(), description="bind address "
                      "(default: 127.0.0.1; 0.0.0.0 when BENTOML_CONTAINERIZED is true)")
    port: int = Field(3000, ge=0, le=65535, description="HTTP port")
    workers: int = Field(1, ge=1, le=64, description="BentoML worker processes, each with its "
                         "own onnxruntime session and batcher. One per container, scaled with "
                         "replicas: the workers share one listening socket and a burst of "
                         "keep-alive connections can land on one of them")
    ort_threads: int = Field(1, ge=1, le=64, description="onnxruntime intra-op threads per "
                             "worker; keep workers x ort_threads <= cores")
    max_batch_size: int = Field(32, ge=2, le=4096, description="adaptive batching: most texts "
                                "scored in one onnxruntime call (CPU per text stops falling at "
                                "~32 for the shipped model)")
    max_latency_ms: int = Field(500, ge=10, le=600_000, description="load shedding: new "
                                "requests get 503 while the oldest queued one has waited longer, "
                                "or the queued texts would take longer (keep it below timeout_s)")
    timeout_s: float = Field(30.0, gt=0, description="per-request timeout (504 beyond)")
    max_concurrency: int | None = Field(None, ge=1, description="in-flight requests per server "
                                        "before 429, split evenly across workers; a timed-out "
                                        "request counts until its work has stopped (default: "
                                        "unlimited)")
    max_texts: int = Field(64, ge=1, description="most texts in one /predict request (413 "
                           "beyond)")
    explain_max_texts: int = Field(8, ge=1, description="most texts in one /explain request "
                                   "(413 beyond); an explanation costs ~1.5 n^2 RNN steps for "
                                   "n tokens, against n for /predict")
    max_chars: int = Field(5000, ge=1, description="most characters in one text (413 beyond)")
    max_body_bytes: int = Field(1_000_000, ge=64, description="most request body bytes, counted "
                                "on the incoming stream (413 beyond)")
    api_key: SecretStr | None = Field(None, description="if set, /predict, /explain and /model "
                                      "need 'Authorization: Bearer <key>'; health, metrics, docs "
                                      "and the web page stay open")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed to call the API from a browser "
        "(CORS), comma-separated, or * (default: none, CORS off)")
    access_log: bool = Field(True, description="BentoML per-request access log lines")
    tracing: bool = Field(False, description="OpenTelemetry spans; off by default: even "
                          "unsampled spans cost ~15% of a request's CPU")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.api_key is not None and not self.api_key.get_secret_value().strip():
            self.api_key = None  # SENTIMENT_API_KEY="" means auth off, not "empty key"
        return self

    def api_key_bytes(self) -> bytes | None:
        """The API key as bytes for a constant-time compare, or None when auth is off."""
        return None if self.api_key is None else self.api_key.get_secret_value().encode()

    def worker_concurrency(self) -> int | None:
        """This worker's share of max_concurrency (rounded up)."""
        if self.max_concurrency is None:
            return None
        return -(-self.max_concurrency // self.workers)

    def service_config(self) -> dict[str, Any]:
        """The ``@bentoml.service`` config these settings imply. The batcher enforces timeout
        and concurrency; BentoML's own timeout is a backstop behind it."""
        cfg: dict[str, Any] = {
            "name": SERVICE_NAME,
            "workers": self.workers,
            "traffic": {"timeout": self.timeout_s + BACKSTOP_S},
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
