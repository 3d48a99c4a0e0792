"""The minimal hand-made alternative to the BentoML service: bare Starlette/uvicorn + onnxruntime.

Same bundle, same :class:`core.runtime.Predictor`, same request validation
(:func:`service.schema.parse_body`) and the same JSON contract as the service's ``POST /predict``
(``{"texts": [...]}`` or ``{"text": "..."}`` -> ``{"model", "version", "results"}``), but no
batching, no worker supervisor and no middleware: each request is scored inline on the event
loop. The benchmark serves it on a free loopback port next to the real service.

    python -m bench.bare_server --model-dir models/default --port 8123
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.bundle import load_bundle
from core.errors import ErrorKind, SentimentError
from core.paths import default_model_dir
from core.runtime import Predictor, RuntimeOptions
from service.errors import error_response
from service.schema import Limits, parse_body

log = logging.getLogger(__name__)
WARMUP_TEXTS = ["a warm-up text to load the graph", "ok"]


def response_body(predictor: Predictor, texts: list[str]) -> bytes:
    """The service's /predict answer for ``texts``, as JSON bytes."""
    body = {"model": predictor.bundle.name, "version": predictor.bundle.version,
            "results": predictor.predict(texts)}
    return json.dumps(body, ensure_ascii=False).encode()


def create_app(predictor: Predictor, limits: Limits | None = None) -> Starlette:
    """A Starlette app serving ``predictor`` at /predict, plus /readyz and /livez."""
    limits = limits or Limits()

    async def predict(request: Request) -> Response:
        body = await request.body()
        try:
            if len(body) > limits.max_body_bytes:
                raise SentimentError(ErrorKind.TOO_LARGE, "request body exceeds the limit of "
                                     f"{limits.max_body_bytes} bytes")
            texts = parse_body(body, limits)
        except SentimentError as exc:
            return error_response(exc)
        return Response(response_body(predictor, texts), media_type="application/json")

    async def ok(request: Request) -> Response:
        return Response(b"", status_code=200)

    return Starlette(routes=[Route("/predict", predict, methods=["POST"]),
                             Route("/readyz", ok), Route("/livez", ok)])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.bare_server", description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", type=Path, default=default_model_dir(), help="bundle to serve")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8123, help="HTTP port")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes, each with "
                   "its own session (as many as the service's workers, for a fair comparison)")
    return p.parse_args(argv)


def app_from_env() -> Starlette:
    """uvicorn factory for worker processes: bundle and threads from ``BARE_*`` variables."""
    predictor = Predictor(os.environ["BARE_MODEL_DIR"],
                          RuntimeOptions(intra_op_threads=int(os.environ.get("BARE_THREADS", "1"))))
    predictor.predict(WARMUP_TEXTS)
    return create_app(predictor)


def main(argv: Sequence[str] | None = None) -> int:
    """Load and warm the bundle, then serve it with uvicorn (no access log)."""
    import uvicorn

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    common = {"host": args.host, "port": args.port, "log_level": "warning", "access_log": False}
    if args.workers > 1:  # uvicorn needs an import string to start worker processes
        os.environ.update(BARE_MODEL_DIR=str(args.model_dir), BARE_THREADS=str(args.threads))
        load_bundle(args.model_dir)  # fail here, once, on a bad bundle
        uvicorn.run("bench.bare_server:app_from_env", factory=True, workers=args.workers, **common)
        return 0
    predictor = Predictor(args.model_dir, RuntimeOptions(intra_op_threads=args.threads))
    predictor.predict(WARMUP_TEXTS)
    uvicorn.run(create_app(predictor), **common)
    return 0


if __name__ == "__main__":
    sys.exit(main())
