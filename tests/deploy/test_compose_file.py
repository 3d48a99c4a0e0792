"""Structure of docker-compose.yml: what both docker-compose v1.29 and Compose v2 accept, and
the hardening the deployment promises (host network, read-only root, no capabilities)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# The Compose Specification schema shipped by Debian's docker-compose 1.29 (apt docker-compose).
V1_SCHEMA = Path("/usr/lib/python3/dist-packages/compose/config/compose_spec.json")
# Keys v1.29 ignores or rejects, or v2 dropped: keep them out so both behave the same.
NOT_PORTABLE = {"deploy", "ports", "networks", "links", "container_name", "develop"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_top_level_is_compose_spec(compose: dict) -> None:
    assert "version" not in compose  # Compose spec: v1.29 and v2 both read it without one
    assert set(compose) - {"services"} <= {k for k in compose if k.startswith("x-")}
    assert set(compose["services"]) == {"sentiment", "score", "loadtest"}


@pytest.mark.parametrize("name", ["sentiment", "score", "loadtest"])
def test_every_service_is_hardened(compose: dict, name: str) -> None:
    svc = compose["services"][name]
    assert svc["network_mode"] == "host"
    assert svc["read_only"] is True
    assert any(t.startswith("/tmp:") for t in svc["tmpfs"])
    assert svc["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in svc["security_opt"]
    assert not NOT_PORTABLE & set(svc), NOT_PORTABLE & set(svc)


def test_server_health_limits_and_config(compose: dict) -> None:
    svc = compose["services"]["sentiment"]
    assert "/app/deploy/healthcheck.py" in svc["healthcheck"]["test"]
    assert svc["restart"] == "unless-stopped"
    assert svc["cpus"] and svc["mem_limit"]
    assert "SENTIMENT_ENV_FILE" in svc["env_file"]
    assert "profiles" not in svc  # `docker compose up` starts it


def test_jobs_are_behind_profiles(compose: dict) -> None:
    services = compose["services"]
    assert services["score"]["profiles"] == ["score"]
    assert services["score"]["entrypoint"] == ["sentiment", "score"]
    assert any(v.endswith(":/data/in:ro") for v in services["score"]["volumes"])
    assert services["loadtest"]["profiles"] == ["loadtest"]
    assert services["loadtest"]["build"]["args"]["EXTRAS"] == "serve,load"


def test_env_example_only_sets_known_settings() -> None:
    from service.settings import Settings

    lines = (ROOT / "deploy" / "sentiment.env.example").read_text().splitlines()
    keys = {ln.split("=", 1)[0] for ln in lines if ln.strip() and not ln.startswith("#")}
    fields = {f"SENTIMENT_{f.upper()}" for f in Settings.model_fields}
    assert keys and keys <= fields, keys - fields


@pytest.mark.skipif(not V1_SCHEMA.is_file(), reason="docker-compose 1.29 not installed")
def test_matches_docker_compose_v1_schema(compose: dict) -> None:
    schema = json.loads(V1_SCHEMA.read_text())
    jsonschema.Draft201909Validator(schema).validate(compose)


@pytest.mark.skipif(not V1_SCHEMA.is_file(), reason="docker-compose 1.29 not installed")
def test_v1_schema_rejects_unknown_service_keys(compose: dict) -> None:
    schema = json.loads(V1_SCHEMA.read_text())
    broken = {**compose, "services": {"sentiment": {**compose["services"]["sentiment"],
                                                    "read_only_root": True}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft201909Validator(schema).validate(broken)
