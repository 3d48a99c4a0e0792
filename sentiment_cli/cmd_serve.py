"""`sentiment serve`: verify a bundle, print the docs URL, then exec `bentoml serve`.

Every option is one SENTIMENT_* setting (service/settings.py); options not given keep the
environment's value or the documented default. The API key is only read from the environment
(SENTIMENT_API_KEY), never from the command line, where `ps` would show it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

SECRET = ("api_key",)


def _flag(field: str) -> str:
    return "--" + ("model" if field == "model_dir" else field.replace("_", "-"))


def _default(info: Any) -> object:
    return info.default_factory() if info.default_factory else info.default


def _help(info: Any, env: str) -> str:
    return f"{info.description} (env {env}; default: {_default(info)})".replace("%", "%%")


def add_arguments(name: str, p: argparse.ArgumentParser) -> None:
    from service.settings import Settings

    for field, info in Settings.model_fields.items():
        env = f"SENTIMENT_{field.upper()}"
        if field in SECRET:
            p.epilog = f"{env}: {info.description} (environment only)"
            continue
        kind = info.annotation
        if kind is bool:
            p.add_argument(_flag(field), action=argparse.BooleanOptionalAction, default=None,
                           dest=field, help=_help(info, env))
            continue
        typ = Path if field == "model_dir" else (str if field == "cors_origins" else None)
        typ = typ or next((t for t in (int, float, str) if t is kind or t in getattr(
            kind, "__args__", ())), str)
        p.add_argument(_flag(field), type=typ, default=None, dest=field,
                       help=_help(info, env))


def child_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment for `bentoml serve`: ours plus SENTIMENT_* for every option given."""
    from service.settings import Settings

    env = dict(os.environ)
    for field in Settings.model_fields:
        value = getattr(args, field, None)
        if value is not None:
            env[f"SENTIMENT_{field.upper()}"] = str(value).lower() if isinstance(value, bool) \
                else str(value)
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
    print(f"web page: http://{shown}:{settings.port}/  (OpenAPI: /docs.json)", flush=True)
    cmd = bentoml_command(settings.port, settings.host)
    os.chdir(APP_ROOT)
    os.execve(cmd[0], cmd, env)  # replaces this process: signals reach bentoml directly
    return 0  # not reached
