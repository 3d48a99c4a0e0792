"""The BentoML service: ``bentoml serve service.app:SentimentService`` (or ``sentiment serve``).

``POST /predict`` is a typed ``@bentoml.api``: each request's texts go to the worker's
in-process adaptive batcher (core.batcher), which concatenates concurrent requests' texts into
one onnxruntime call and hands every request back its own slice, in order. ``POST /explain``
(core.explain: per-token running score) goes through the same batcher in slices, each counted
at its cost, and the web page (service.web) is mounted at ``/``. In front of
BentoML's router sit CORS (when SENTIMENT_CORS_ORIGINS is set) and the request gate
(service.middleware: auth, JSON only, body limit, validation). This module loads, verifies and
warms the model; errors become HTTP answers in service.errors.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import time
from typing import Any, cast

import bentoml
import numpy as np
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.batcher import (
    GIL_SWITCH_INTERVAL_S,
    INFERENCE_NICE,
    INLINE_MAX_TEXTS,
    Batcher,
    BatcherConfig,
)
from core.bundle import BundleError
from core.errors import SentimentError
from core.explain import ExplainItem, RowsItem, assemble, plan, score_items, slices
from core.runtime import Predictor, RuntimeOptions
from service.errors import error_response, status_of
from service.metrics import (
    install_gc_metrics,
    record_batch,
    record_batch_start,
    record_load,
    record_rejection,
    record_texts,
)
from service.middleware import RequestGate
from service.models import ExplainResponse, PredictResponse, texts_request
from service.openapi import complete_spec
from service.schema import Limits
from service.settings import Settings, load_settings
from service.shutdown import refuse_new_connections_on_sigterm
from service.web import page_routes

log = logging.getLogger("bentoml.sentiment")  # under "bentoml": shown by its log config
EXIT_BAD_BUNDLE = 3
FREEZE_AT_BATCHES = (1, 200)  # after the first batch (server set-up done) and once warm
WARMUP_TEXTS = ["a warm-up text to load the graph", "ok"]
PROTECTED = ("/predict", "/explain", "/model")
TEXT_ROUTES = ["/predict", "/explain"]
# Requests of INLINE_MAX_TEXTS+1 .. this many texts (and at most one batch) are tokenized on the
# event loop (_predict_rows): ~1.5 ms of loop time at most, outside the request's timeout clock.
LOOP_TOKENIZE_MAX_TEXTS = 64

SETTINGS = load_settings()  # read once per process: the decorators below need it
LIMITS = Limits(SETTINGS.max_texts, SETTINGS.max_chars, SETTINGS.max_body_bytes)
PredictRequest = texts_request("PredictRequest", LIMITS.max_texts, LIMITS.max_chars)
EXPLAIN_LIMITS = Limits(SETTINGS.explain_max_texts, SETTINGS.max_chars, SETTINGS.max_body_bytes)
ExplainRequest = texts_request("ExplainRequest", EXPLAIN_LIMITS.max_texts, EXPLAIN_LIMITS.max_chars)


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


def model_summary(predictor: Predictor, settings: Settings) -> dict[str, Any]:
    """The card summary plus the serving limits, for ``GET /model``."""
    limits = {"max_texts": settings.max_texts, "explain_max_texts": settings.explain_max_texts,
              "max_chars": settings.max_chars,
              "max_body_bytes": settings.max_body_bytes, "max_tokens": predictor.max_tokens}
    return {**predictor.bundle.summary(), "limits": limits}


async def get_model(request: Request) -> JSONResponse:
    """``GET /model``: what is being served (auth is checked by the gate)."""
    return JSONResponse(bentoml.get_current_service().summary)


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
        # the inference thread gets the GIL back within 0.1 ms, not 5 (see core.batcher)
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self.predictor = load_predictor_or_exit(SETTINGS, worker=True)
        self.summary = model_summary(self.predictor, SETTINGS)
        bundle = self.predictor.bundle
        self.envelope = json.dumps({"model": bundle.name, "version": bundle.version})[:-1]
        self.batcher = Batcher(self._score, BatcherConfig(
            max_batch_texts=SETTINGS.max_batch_size, max_wait_s=SETTINGS.max_latency_ms / 1000,
            timeout_s=SETTINGS.timeout_s, max_in_flight=SETTINGS.worker_concurrency(),
            cost_per_text_s=full_batch_cost(self.predictor, SETTINGS.max_batch_size),
            inline_max_texts=INLINE_MAX_TEXTS, inference_nice=INFERENCE_NICE),
            on_batch=record_batch_start, on_load=record_load)
        self.batches = 0
        gc.collect()  # after imports and warm-up: keep ~100k start-up objects out of full GCs
        gc.freeze()
        install_gc_metrics()
        if not refuse_new_connections_on_sigterm():
            log.warning("no listening socket or SIGTERM handler found: new connections during "
                        "shutdown will be reset instead of refused")
        log.info("serving %s version %s from %s", bundle.name, bundle.version, SETTINGS.model_dir)

    def _score(self, items: list[str | RowsItem]) -> list[dict[str, Any]]:
        """One batch: texts, pre-tokenized requests (``_predict_rows``) and slices of
        explanations (/explain), from one onnxruntime pass."""
        start = time.perf_counter()
        if all(isinstance(item, str) for item in items):
            texts = cast("list[str]", items)
            results = self.predictor.predict(texts, batch_size=SETTINGS.max_batch_size)
        else:
            texts = [item for item in items if isinstance(item, str)]
            results = score_items(self.predictor, list(items), batch_size=SETTINGS.max_batch_size)
        rows = len(texts) + sum(len(item.rows) for item in items if isinstance(item, RowsItem))
        record_batch(rows, time.perf_counter() - start)
        record_texts(texts, [r["label"] for r in results if "label" in r])
        self.batches += 1
        if self.batches in FREEZE_AT_BATCHES:  # BentoML builds more long-lived objects late
            gc.freeze()
        return results

    async def _predict_rows(self, texts: list[str]) -> list[dict[str, Any]]:
        """A mid-sized request, bound for the inference thread: tokenized here on the event loop
        and scored as one job of token rows, its results built here too, so that the two
        threads share its work (32-text capacity: see docs/decisions/batcher.md)."""
        rows = self.predictor.encode(texts)
        (scored,) = await self.batcher.submit([RowsItem(rows)], len(texts))
        results = self.predictor.to_results(scored["probs"])
        record_texts(texts, [r["label"] for r in results])
        return results

    def _respond(self, results: list[dict[str, Any]]) -> Response:
        body = f'{self.envelope}, "results": {json.dumps(results, ensure_ascii=False)}}}'
        return Response(body, media_type="application/json")

    async def _answer(self, texts: list[str]) -> Response:
        """One request's results from the batcher as a JSON response, or its error."""
        try:
            if INLINE_MAX_TEXTS < len(texts) <= min(SETTINGS.max_batch_size,
                                                    LOOP_TOKENIZE_MAX_TEXTS):
                return self._respond(await self._predict_rows(texts))
            return self._respond(await self.batcher.submit(texts))
        except SentimentError as exc:
            record_rejection(status_of(exc))
            return error_response(exc)

    async def _explain(self, texts: list[str]) -> Response:
        """Explanations of ``texts``: their rows go to the batcher in slices (core.explain), one
        after the other, each counted at its cost, so /predict requests arriving meanwhile wait
        for one slice at most; then the explanations are assembled from the slices' scores."""
        encoder = self.predictor.encoder
        todo = plan([ExplainItem(t, encoder.encode_spans(t)) for t in texts])
        probs = []
        try:
            for piece in slices(todo):
                probs.append((await self.batcher.submit([piece], piece.units))[0]["probs"])
        except SentimentError as exc:
            record_rejection(status_of(exc))
            return error_response(exc)
        return self._respond(assemble(self.predictor, todo, np.concatenate(probs)))

    @bentoml.api(route="/predict", input_spec=PredictRequest, output_spec=PredictResponse)
    async def predict(self, texts: list[str] | None = None, text: str | None = None) -> Any:
        """Score texts: ``{"texts": [...]}`` or ``{"text": "..."}`` -> one result per text, in
        order. The body is serialized once here (the schema is PredictResponse)."""
        return await self._answer(texts if texts is not None else [text or ""])

    @bentoml.api(route="/explain", input_spec=ExplainRequest, output_spec=ExplainResponse)
    async def explain(self, texts: list[str] | None = None, text: str | None = None) -> Any:
        """Explain texts (at most SENTIMENT_EXPLAIN_MAX_TEXTS): each text's prediction plus its
        tokens with character spans, the running score after each token, each token's step and
        leave-one-out effect (docs/explain.md). Batched with /predict at its cost."""
        return await self._explain(texts if texts is not None else [text or ""])


def spec_filter(spec: dict[str, Any]) -> dict[str, Any]:
    return complete_spec(spec, TEXT_ROUTES, PROTECTED, SETTINGS.api_key is not None)


SERVICE = cast("bentoml.Service[SentimentService]", SentimentService)
SERVICE.mount_asgi_app(Starlette(routes=[Route("/model", get_model, methods=["GET"]),
                                         *page_routes()]), path="/")
if SETTINGS.cors_origins:  # outermost of ours, so the gate's error answers carry CORS headers
    SERVICE.add_asgi_middleware(CORSMiddleware, allow_origins=SETTINGS.cors_origins,
                                         allow_methods=["GET", "POST", "OPTIONS"],
                                         allow_headers=["authorization", "content-type"])
SERVICE.add_asgi_middleware(RequestGate, limits=LIMITS,
                                     routes={"/predict": LIMITS, "/explain": EXPLAIN_LIMITS},
                                     api_key=SETTINGS.api_key_bytes(), protected=PROTECTED,
                                     spec_filter=spec_filter)
