"""`sentiment serve`: verify a bundle, print the docs URL, then exec `bentoml serve`.

Options map onto the SENTIMENT_* settings (service/settings.py); options not given keep the
environment's value or the documented default. The API key is only read from the environment
(SENTIMENT_API_KEY), never from the command line, where `ps` would show it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

# option -> (settings field, type, help)
OPTIONS = {
    "--model": ("model_dir", Path, "bundle directory"),
    "--host": ("host", str, "bind address (0.0.0.0 to listen on every interface)"),
    "--port": ("port", int, "HTTP port"),
    "--workers": ("workers", int, "BentoML worker processes"),
    "--ort-threads": ("ort_threads", int, "onnxruntime intra-op threads per worker"),
    "--batcher": ("batcher", str, "who forms batches: inline (service.batcher) or bentoml"),
    "--max-batch-size": ("max_batch_size", int, "adaptive batching: most texts per batch"),
    "--max-latency-ms": ("max_latency_ms", int, "load shedding: queueing-wait budget (503 past)"),
    "--timeout-s": ("timeout_s", float, "per-request timeout (504 past)"),
    "--max-concurrency": ("max_concurrency", int, "in-flight requests before 429"),
    "--max-texts": ("max_texts", int, "most texts per request"),
    "--max-chars": ("max_chars", int, "most characters per text"),
    "--max-body-bytes": ("max_body_bytes", int, "most request body bytes"),
}


def add_arguments(name: str, p: argparse.ArgumentParser) -> None:
    from service.settings import Settings

    for flag, (field, typ, text) in OPTIONS.items():
        info = Settings.model_fields[field]
        default = info.default_factory() if info.default_factory else info.default
        p.add_argument(flag, type=typ, default=None, dest=field,
                       help=f"{text} (env SENTIMENT_{field.upper()}; default: {default})")
    p.add_argument("--no-access-log", action="store_true",
                   help="turn off per-request access log lines (env SENTIMENT_ACCESS_LOG=false)")


def child_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment for `bentoml serve`: ours plus SENTIMENT_* for every option given."""
    env = dict(os.environ)
    for field, _typ, _text in OPTIONS.values():
        value = getattr(args, field, None)
        if value is not None:
            env[f"SENTIMENT_{field.upper()}"] = str(value)
    if getattr(args, "no_access_log", False):
        env["SENTIMENT_ACCESS_LOG"] = "false"
    env.setdefault("BENTOML_DO_NOT_TRACK", "True")
    return env


def run(name: str, args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from core.bundle import load_bundle
    from service.launch import APP_ROOT, bentoml_command, check_port_free
    from service.settings import Settings

    env = child_env(args)
    os.environ.update(env)
    try:
        settings = Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ValueError(f"bad setting {err['loc'][0]}: {err['msg']}") from None
    bundle = load_bundle(settings.model_dir)  # BundleError (a RuntimeError) -> one line, exit 2
    if settings.port:
        try:
            check_port_free(settings.host, settings.port)
        except OSError as exc:
            raise ValueError(f"cannot listen on {settings.host}:{settings.port}: "
                             f"{exc.strerror}") from None
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    print(f"serving {bundle.name} ({bundle.version}) from {settings.model_dir}")
    print(f"API docs: http://{shown}:{settings.port}/  (OpenAPI: /docs.json)", flush=True)
    cmd = bentoml_command(settings.port, settings.host)
    os.chdir(APP_ROOT)
    os.execve(cmd[0], cmd, env)  # replaces this process: signals reach bentoml directly
    return 0  # not reached
