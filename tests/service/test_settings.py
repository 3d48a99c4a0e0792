"""Settings: SENTIMENT_* environment, documented defaults, and the BentoML config they imply."""

from __future__ import annotations

import pydantic
import pytest

from core.paths import shipped_model_dir
from service.settings import BACKSTOP_S, Settings


def test_defaults_are_documented_and_serve_the_shipped_bundle(monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("SENTIMENT_"):
            monkeypatch.delenv(key)
    s = Settings()
    assert s.model_dir == shipped_model_dir() and (shipped_model_dir() / "card.json").is_file()
    assert (s.max_texts, s.max_chars, s.max_body_bytes) == (64, 5000, 1_000_000)
    assert s.api_key is None and s.api_key_bytes() is None
    assert 1 <= s.workers <= 4 and s.ort_threads == 1
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"


def test_env_prefix_and_service_config(monkeypatch):
    monkeypatch.setenv("SENTIMENT_WORKERS", "2")
    monkeypatch.setenv("SENTIMENT_ACCESS_LOG", "false")
    monkeypatch.setenv("SENTIMENT_MAX_CONCURRENCY", "50")
    monkeypatch.setenv("SENTIMENT_API_KEY", "k1")
    s = Settings()
    cfg = s.service_config()
    # the in-process batcher enforces the cap (25 per worker) and the timeout itself;
    # BentoML keeps a later timeout as a backstop and no cap of its own
    assert cfg["workers"] == 2 and "max_concurrency" not in cfg["traffic"]
    assert s.worker_concurrency() == 25
    assert cfg["traffic"]["timeout"] == s.timeout_s + BACKSTOP_S
    assert cfg["logging"]["access"]["enabled"] is False
    assert s.api_key_bytes() == b"k1" and "k1" not in repr(s)


def test_concurrency_is_split_over_workers_and_cors_origins_parse(monkeypatch):
    monkeypatch.setenv("SENTIMENT_WORKERS", "3")
    monkeypatch.setenv("SENTIMENT_MAX_CONCURRENCY", "10")
    monkeypatch.setenv("SENTIMENT_CORS_ORIGINS", "https://a.example, http://localhost:8080")
    s = Settings()
    assert s.service_config()["traffic"] == {"timeout": s.timeout_s + BACKSTOP_S}
    assert s.worker_concurrency() == 4
    assert s.cors_origins == ["https://a.example", "http://localhost:8080"]


def test_every_setting_is_a_serve_option_with_its_description():
    from sentiment_cli.main import build_parser

    parser = build_parser(["serve"])
    sub = next(a for a in parser._actions if a.dest == "command").choices["serve"]
    helps = {a.dest: a.help for a in sub._actions}
    for field, info in Settings.model_fields.items():
        if field == "api_key":  # environment only: `ps` would show a command-line key
            assert "SENTIMENT_API_KEY" in sub.epilog
            continue
        assert info.description and info.description.replace("%", "%%") in helps[field]
        assert f"SENTIMENT_{field.upper()}" in helps[field]


def test_blank_api_key_means_auth_off(monkeypatch):
    monkeypatch.setenv("SENTIMENT_API_KEY", "  ")
    assert Settings().api_key_bytes() is None


def test_bad_values_are_rejected(monkeypatch):
    monkeypatch.setenv("SENTIMENT_MAX_BATCH_SIZE", "1")
    with pytest.raises(pydantic.ValidationError):
        Settings()
