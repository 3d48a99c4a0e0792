"""BentoML input/output specs of ``POST /predict``: the OpenAPI schema plus the batching glue.

The input spec hands the batcher a plain ``list[str]`` per request (already validated by the
ASGI gate), so the adaptive batch is counted in texts; the output spec wraps a request's slice
of results as ``{"model", "version", "results"}``. Uses BentoML 1.4's IODescriptor
(``_bentoml_sdk.io_models``, pinned in constraints.txt).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from _bentoml_sdk.io_models import IODescriptor
from pydantic import ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from service.batch import ERROR_KEY
from service.batcher import Rejected
from service.middleware import TEXTS_KEY
from service.schema import Limits, parse_body

EXAMPLE_RESULT = {"label": "positive", "score": 0.93,
                  "scores": {"negative": 0.07, "positive": 0.93}}


class PredictInput(IODescriptor):
    """``{"texts": ["...", ...]}`` (1..max_texts texts) or ``{"text": "..."}``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "texts": ["A moving, beautifully acted film.", "Dull and far too long."]}})
    __root_input__: ClassVar[bool] = True

    texts: list[str] | None = Field(None, description="texts to score, in order (1..max_texts)")
    text: str | None = Field(None, description="single-text form; the answer has one result")

    @classmethod
    async def from_http_request(cls, request: Request, serde: Any) -> Any:
        """The request's texts: validated by the gate; parsed here only if the gate is absent."""
        texts = request.scope.get(TEXTS_KEY)
        if texts is None:
            texts = parse_body(await request.body(), Limits())
        return texts


class PredictResult(IODescriptor):
    """One text's answer."""

    label: str = Field(description="the most probable label")
    score: float = Field(description="probability of that label")
    scores: dict[str, float] = Field(description="probability of every label, in card order")


class PredictOutput(IODescriptor):
    """``{"model": name, "version": sha, "results": [one per text, in input order]}``."""

    model_config = ConfigDict(protected_namespaces=(), json_schema_extra={"example": {
        "model": "default", "version": "3f2a…", "results": [EXAMPLE_RESULT]}})
    _model: ClassVar[str] = ""
    _version: ClassVar[str] = ""

    model: str = Field(description="card name of the served bundle")
    version: str = Field(description="card version (sha) of the served bundle")
    results: list[PredictResult]

    @classmethod
    def bind(cls, model: str, version: str) -> None:
        """Set the model name and version put in every response (once, at service start)."""
        cls._model, cls._version = model, version

    @classmethod
    async def to_http_response(cls, obj: Any, serde: Any) -> Response:
        """Wrap one request's results (a list of dicts) in the response object."""
        if isinstance(obj, Rejected):  # the batcher's 429 / 503 / 504
            headers = {"Retry-After": str(obj.retry_after)} if obj.retry_after else None
            return Response(json.dumps({"error": obj.message, "status": obj.status}),
                            status_code=obj.status, media_type="application/json",
                            headers=headers)
        failed = [i for i, res in enumerate(obj) if ERROR_KEY in res]
        if failed:  # isolated by service.batch: only this request fails, and says where
            body = {"error": "internal error while scoring", "failed": failed,
                    "detail": obj[failed[0]][ERROR_KEY]}
            return Response(json.dumps(body), status_code=500, media_type="application/json")
        body = {"model": cls._model, "version": cls._version, "results": obj}
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")
