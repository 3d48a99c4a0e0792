"""Completes BentoML's generated OpenAPI schema (``/docs.json``) with what it cannot infer.

BentoML builds each API's request and 200 response from the method's types; this adds every
error status the service can answer (with the JSON error schema), ``GET /model``, and the bearer
security scheme when an API key is set. Applied by the request gate to ``/docs.json``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from service.errors import DESCRIPTIONS, ErrorBody

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
TEXT_ROUTE_ERRORS = (400, 401, 413, 415, 422, 429, 500, 503, 504)
MODEL_PATH = {"get": {
    "tags": ["Service APIs"], "summary": "the served bundle", "operationId": "sentiment__model",
    "description": "The served bundle's card summary (name, version, labels, metrics) and the "
                   "serving limits.",
    "responses": {"200": {"description": "Successful Response", "content": {
        "application/json": {"schema": {"type": "object", "additionalProperties": True}}}}}}}


def _errors(statuses: Iterable[int]) -> dict[str, Any]:
    return {str(code): {"description": DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": ERROR_REF}}}
            for code in statuses}


def openapi_30(node: object) -> object:
    """Pydantic's JSON Schema ``anyOf: [X, {"type": "null"}]`` (OpenAPI 3.1 style) rewritten
    as ``X`` with ``nullable: true``, which is what the OpenAPI 3.0 document BentoML serves
    allows."""
    if isinstance(node, list):
        return [openapi_30(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: openapi_30(v) for k, v in node.items()}
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        del out["anyOf"]
        out.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
        out["nullable"] = True
    return out


def complete_spec(spec: dict[str, Any], text_routes: Iterable[str], protected: Iterable[str],
                  auth: bool) -> dict[str, Any]:
    """A copy of ``spec`` with error responses, ``GET /model`` and (with ``auth``) security."""
    out = openapi_30(spec)
    assert isinstance(out, dict)
    paths = out.setdefault("paths", {})
    paths.setdefault("/model", copy.deepcopy(MODEL_PATH))
    for route in text_routes:
        for op in paths.get(route, {}).values():
            op.setdefault("responses", {}).update(_errors(TEXT_ROUTE_ERRORS))
    schemas = out.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = ErrorBody.model_json_schema()
    if auth:
        out["components"].setdefault("securitySchemes", {})["bearer"] = {
            "type": "http", "scheme": "bearer",
            "description": "the value of SENTIMENT_API_KEY"}
        for route in protected:
            for op in paths.get(route, {}).values():
                op["security"] = [{"bearer": []}]
                op.setdefault("responses", {}).update(_errors([401]))
    return out
