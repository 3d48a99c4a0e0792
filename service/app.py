"""The BentoML service: ``bentoml serve service.app:SentimentService`` (or ``sentiment serve``).

``POST /predict`` is one adaptive-batching API: each request contributes its list of texts,
concurrent requests' texts are concatenated into one onnxruntime call and every request gets
back its own slice, in order. Batches are formed by service.batcher (default) or by BentoML's
dispatcher (``SENTIMENT_BATCHER=bentoml``). Request parsing and every client error live in the
ASGI gate (service.middleware); this module loads, verifies and warms the model.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import time

import bentoml
from bentoml.exceptions import ServiceUnavailable
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.bundle import BundleError
from core.runtime import Predictor, RuntimeOptions
from service import bentoml_fixes
from service.batch import score_batch
from service.batcher import Batcher, BatcherConfig, Rejected
from service.io import PredictInput, PredictOutput
from service.metrics import (
    install_gc_metrics,
    record_batch,
    record_batch_start,
    record_load,
    record_rejection,
)
from service.middleware import RequestGate
from service.schema import Limits
from service.settings import SERVICE_NAME, Settings, load_settings
from service.shutdown import refuse_new_connections_on_sigterm

log = logging.getLogger("bentoml.sentiment")  # under "bentoml": shown by its log config
EXIT_BAD_BUNDLE = 3
FREEZE_AT_BATCHES = (1, 200)  # after the first batch (server set-up done) and once warm
WARMUP_TEXTS = ["a warm-up text to load the graph", "ok"]

SETTINGS = load_settings()  # read once per process: the decorators below need it
# before BentoML builds this service's app and, in the parent process, its socket (see module)
bentoml_fixes.install(spread_connections=SETTINGS.reuse_port)
LIMITS = Limits(SETTINGS.max_texts, SETTINGS.max_chars, SETTINGS.max_body_bytes)
DIRECT = SETTINGS.direct_predict_active()


def load_predictor(settings: Settings) -> Predictor:
    """Load and verify the bundle, then run a warm-up inference so readiness means 'works'."""
    predictor = Predictor(settings.model_dir, RuntimeOptions(intra_op_threads=settings.ort_threads))
    probs = predictor.predict_proba(WARMUP_TEXTS)
    if probs.shape != (len(WARMUP_TEXTS), len(predictor.labels)):
        raise BundleError(f"warm-up returned shape {probs.shape}, expected "
                          f"({len(WARMUP_TEXTS)}, {len(predictor.labels)})")
    return predictor


def load_predictor_or_exit(settings: Settings, worker: bool) -> Predictor:
    """load_predictor, or print one clear line and exit with EXIT_BAD_BUNDLE."""
    try:
        return load_predictor(settings)
    except (BundleError, OSError, ValueError) as exc:
        log.critical("cannot serve model bundle %s: %s", settings.model_dir, exc)
        sys.stderr.write(f"sentiment service: cannot serve {settings.model_dir}: {exc}\n")
        sys.stderr.flush()
        if worker:  # a worker cannot raise SystemExit through BentoML's lifespan
            os._exit(EXIT_BAD_BUNDLE)
        raise SystemExit(EXIT_BAD_BUNDLE) from None


def full_batch_cost(predictor: Predictor, size: int, rounds: int = 3) -> float:
    """Seconds per text of a full batch of review-length texts (best of ``rounds``): the
    batcher's first estimate of how fast its queue drains, refined by real batches."""
    texts = [" ".join([WARMUP_TEXTS[0]] * 3)] * size  # ~21 tokens, like a short review
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        predictor.predict(texts, batch_size=size)
        best = min(best, time.perf_counter() - start)
    return best / size


def late_freeze(batches: int) -> None:
    """Freeze again without collecting (O(1)): BentoML builds its server after __init__ and the
    first requests import and build more long-lived objects; frozen, full collections skip them."""
    gc.freeze()
    log.info("gc.freeze() after %d batch(es): %d objects frozen in all", batches,
             gc.get_freeze_count())


class OverloadLogFilter(logging.Filter):
    """Log BentoML's load-shedding 503s as one warning line instead of an error traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ServiceUnavailable):
            record.msg, record.args = "%s: answered 503 (%s)", (record.getMessage(), exc)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


def model_summary(predictor: Predictor, settings: Settings) -> dict:
    """The card summary plus the serving limits, for ``GET /model``."""
    limits = {"max_texts": settings.max_texts, "max_chars": settings.max_chars,
              "max_body_bytes": settings.max_body_bytes, "max_tokens": predictor.max_tokens}
    return {**predictor.bundle.summary(), "limits": limits}


async def get_model(request: Request) -> JSONResponse:
    """``GET /model``: what is being served (auth is checked by the gate)."""
    return JSONResponse(bentoml.get_current_service().summary)


extra_routes = Starlette(routes=[Route("/model", get_model, methods=["GET"])])


@bentoml.service(**SETTINGS.service_config())
class SentimentService:
    """Sentiment classifier over a verified bundle, scored on onnxruntime with adaptive batching."""

    @bentoml.on_deployment
    def verify_bundle() -> None:
        """Runs once in the `bentoml serve` parent before any worker: a bad bundle ends it."""
        load_predictor_or_exit(SETTINGS, worker=False)

    def __init__(self) -> None:
        # One tokenizing thread per worker: the tokenizers library's own pool would compete with
        # the other workers for the cores (2.6 vs 2.1 ms CPU to tokenize 32 texts here).
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.predictor = load_predictor_or_exit(SETTINGS, worker=True)
        self.summary = model_summary(self.predictor, SETTINGS)
        PredictOutput.bind(self.predictor.bundle.name, self.predictor.bundle.version)
        self.batcher = Batcher(self._score, BatcherConfig(
            max_batch_texts=SETTINGS.max_batch_size, max_wait_s=SETTINGS.max_latency_ms / 1000,
            timeout_s=SETTINGS.timeout_s, max_in_flight=SETTINGS.worker_concurrency(),
            cost_per_text_s=full_batch_cost(self.predictor, SETTINGS.max_batch_size),
            inline_max_texts=SETTINGS.inline_max_texts,
            inference_nice=SETTINGS.inference_nice),
            on_batch=record_batch_start, on_load=record_load)
        self.batches = 0
        if SETTINGS.gc_freeze:  # after imports and warm-up: keep start-up objects out of GC
            gc.collect()
            gc.freeze()
        install_gc_metrics()
        if not refuse_new_connections_on_sigterm():
            log.warning("no listening socket or SIGTERM handler found: new connections during "
                        "shutdown will be reset instead of refused")
        logging.getLogger("bentoml._internal.server.http_app").addFilter(OverloadLogFilter())
        log.info("serving %s version %s from %s (POST /predict answered %s)",
                 self.predictor.bundle.name, self.predictor.bundle.version, SETTINGS.model_dir,
                 "directly by the ASGI gate" if DIRECT else "by BentoML's API handler")

    def _score(self, texts: list[str]) -> list[dict]:
        start = time.perf_counter()
        results = score_batch(self.predictor, texts, SETTINGS.max_batch_size)
        record_batch(texts, [r["label"] for r in results if "label" in r],
                     time.perf_counter() - start)
        self.batches += 1
        if self.batches in FREEZE_AT_BATCHES and SETTINGS.gc_freeze:
            late_freeze(self.batches)
        return results

    async def submit(self, texts: list[str]) -> list[dict] | Rejected:
        """One request's results from the inline batcher, or its 429 / 503 / 504."""
        try:
            return await self.batcher.submit(texts)
        except Rejected as exc:  # rendered by PredictOutput
            record_rejection(exc.status)
            return exc

    async def answer(self, texts: list[str]) -> Response:
        """The whole /predict response, for the ASGI gate's direct path."""
        return await PredictOutput.to_http_response(await self.submit(texts), None)

    if SETTINGS.batcher == "bentoml":
        @bentoml.api(route="/predict", batchable=True, max_batch_size=SETTINGS.max_batch_size,
                     max_latency_ms=SETTINGS.max_latency_ms, input_spec=PredictInput,
                     output_spec=PredictOutput)
        async def predict(self, texts: list[str]) -> list[dict]:
            """Score texts: {"texts": [...]} or {"text": "..."} -> one result per text."""
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.batcher.executor, self._score, texts)
    else:
        @bentoml.api(route="/predict", input_spec=PredictInput, output_spec=PredictOutput)
        async def predict(self, texts: list[str]) -> list[dict] | Rejected:
            """Score texts: {"texts": [...]} or {"text": "..."} -> one result per text."""
            return await self.submit(texts)


async def answer_directly(texts: list[str]) -> Response:
    """The gate's direct /predict path: the serving worker's SentimentService.answer."""
    return await bentoml.get_current_service().answer(texts)


SentimentService.mount_asgi_app(extra_routes, path="/")
SentimentService.add_asgi_middleware(RequestGate, limits=LIMITS,
                                     api_key=SETTINGS.api_key_bytes(),
                                     explain_503=SETTINGS.batcher == "bentoml",
                                     direct=answer_directly if DIRECT else None,
                                     server_header=f"BentoML Service/{SERVICE_NAME}")
