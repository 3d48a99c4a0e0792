"""BentoML without adaptive batching: the service's own pieces behind a non-batchable /predict.

The benchmark's "simple BentoML" baseline (serve it on the plain tf2onnx export): the same
settings, request gate, bundle loading, warm-up and response format as ``service.app``, but
``@bentoml.api`` without ``batchable``, so every request is one onnxruntime call: its texts
padded to the longest, without the runtime's length-planned chunks (whose cost model fits the
fused kernel; on the plain export's ``Loop``, which pays per time step, not per row, they cost
more calls for little saved work). Used only while the service itself has no setting that
turns batching off.

    SENTIMENT_MODEL_DIR=... bentoml serve bench.nobatch_service:NoBatchService
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import bentoml
from starlette.responses import JSONResponse

from core.errors import SentimentError
from service.app import LIMITS, SETTINGS, PredictRequest, load_predictor_or_exit, model_summary
from service.errors import error_response
from service.middleware import RequestGate
from service.models import PredictResponse

TARGET = "bench.nobatch_service:NoBatchService"


@bentoml.service(**{**SETTINGS.service_config(), "name": "sentiment-nobatch"})
class NoBatchService:
    """One onnxruntime call per request (no adaptive batching)."""

    def __init__(self) -> None:
        self.predictor = load_predictor_or_exit(SETTINGS, worker=True)
        self.predictor.options = replace(self.predictor.options, plan_chunks=False)
        self.summary = model_summary(self.predictor, SETTINGS)
        self.envelope = {"model": self.predictor.bundle.name,
                         "version": self.predictor.bundle.version}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ort")

    @bentoml.api(route="/predict", input_spec=PredictRequest, output_spec=PredictResponse)
    async def predict(self, texts: list[str] | None = None, text: str | None = None) -> Any:
        """Score one request's texts in one call."""
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self.executor, self.predictor.predict,
                                                 texts if texts is not None else [text or ""])
        except SentimentError as exc:
            return error_response(exc)
        return JSONResponse({**self.envelope, "results": results})


NoBatchService.add_asgi_middleware(RequestGate, limits=LIMITS, routes={"/predict": LIMITS},
                                   api_key=SETTINGS.api_key_bytes())
