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

import bentoml

from service.app import LIMITS, SETTINGS, load_predictor_or_exit, model_summary
from service.io import PredictInput, PredictOutput
from service.middleware import RequestGate

TARGET = "bench.nobatch_service:NoBatchService"


@bentoml.service(**{**SETTINGS.service_config(), "name": "sentiment-nobatch"})
class NoBatchService:
    """One onnxruntime call per request (no adaptive batching)."""

    def __init__(self) -> None:
        self.predictor = load_predictor_or_exit(SETTINGS, worker=True)
        self.predictor.options = replace(self.predictor.options, plan_chunks=False)
        self.summary = model_summary(self.predictor, SETTINGS)
        PredictOutput.bind(self.predictor.bundle.name, self.predictor.bundle.version)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ort")

    @bentoml.api(route="/predict", input_spec=PredictInput, output_spec=PredictOutput)
    async def predict(self, texts: list[str]) -> list[dict]:
        """Score one request's texts in one call."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.predictor.predict, texts)


NoBatchService.add_asgi_middleware(RequestGate, limits=LIMITS, api_key=SETTINGS.api_key_bytes())
