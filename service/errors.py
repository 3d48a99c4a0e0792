"""The one place where an error becomes an HTTP answer: status, JSON body and headers.

Every refusal of the service (the gate's, validation's, the batcher's) is a
:class:`core.errors.SentimentError`; this module maps its kind to a status code and renders
``{"error": message, "status": code, "kind": kind, ...detail}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import Response

from core.errors import ErrorKind, SentimentError

STATUS: dict[ErrorKind, int] = {
    ErrorKind.MALFORMED: 400,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNSUPPORTED_MEDIA: 415,
    ErrorKind.INVALID: 422,
    ErrorKind.TOO_BUSY: 429,
    ErrorKind.INTERNAL: 500,
    ErrorKind.OVERLOADED: 503,
    ErrorKind.TIMED_OUT: 504,
}
DESCRIPTIONS: dict[int, str] = {
    400: "the body is not valid JSON or not UTF-8",
    401: "missing or wrong API key (when SENTIMENT_API_KEY is set)",
    413: "too many texts, a text too long, or a body over the byte limit",
    415: "a Content-Type other than application/json",
    422: "valid JSON, but not a valid request (shape, types, empty texts)",
    429: "too many requests in flight (SENTIMENT_MAX_CONCURRENCY); see Retry-After",
    500: "internal error; see the server log",
    503: "overloaded: the queue would pass SENTIMENT_MAX_LATENCY_MS; see Retry-After",
    504: "not answered within SENTIMENT_TIMEOUT_S",
}


class ErrorBody(BaseModel):
    """Every error answer of the service."""

    error: str = Field(description="what went wrong, for a person")
    status: int = Field(description="the HTTP status code, repeated")
    kind: str = Field(description="machine-readable kind: " + ", ".join(k.value for k in ErrorKind))


def status_of(exc: SentimentError) -> int:
    return STATUS[exc.kind]


def error_body(exc: SentimentError) -> dict[str, Any]:
    """``{"error", "status", "kind", **detail}`` for ``exc``."""
    return {"error": exc.message, "status": status_of(exc), "kind": exc.kind.value, **exc.detail}


def error_headers(exc: SentimentError) -> dict[str, str]:
    headers = {}
    if exc.retry_after is not None:
        headers["retry-after"] = str(exc.retry_after)
    if exc.kind is ErrorKind.UNAUTHORIZED:
        headers["www-authenticate"] = "Bearer"
    return headers


def error_response(exc: SentimentError) -> Response:
    """The Starlette response for ``exc`` (returned by the API methods)."""
    return Response(json.dumps(error_body(exc)), status_code=status_of(exc),
                    media_type="application/json", headers=error_headers(exc))


Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def send_error(send: Send, exc: SentimentError) -> None:
    """Send the response for ``exc`` on a raw ASGI channel (the request gate)."""
    data = json.dumps(error_body(exc)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in error_headers(exc).items()]
    await send({"type": "http.response.start", "status": status_of(exc), "headers": headers})
    await send({"type": "http.response.body", "body": data, "more_body": False})
