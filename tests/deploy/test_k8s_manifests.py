"""Offline validation of deploy/k8s against the Kubernetes OpenAPI schemas (kubernetes-validate),
plus the properties the deployment guide promises (probes, resources, HPA, hardening)."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
VERSION = kubernetes_validate.latest_version()


def manifests() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def load(name: str) -> dict:
    return yaml.safe_load((K8S / name).read_text())


@pytest.mark.parametrize("path", manifests(), ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, VERSION, strict=True)


def test_validator_rejects_a_broken_deployment() -> None:
    doc = load("deployment.yaml")
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    assert sorted(load("kustomization.yaml")["resources"]) == [p.name for p in manifests()]


def test_deployment_probes_resources_and_hardening() -> None:
    pod = load("deployment.yaml")["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert {"cpu", "memory"} <= set(c["resources"]["requests"]) <= set(c["resources"]["limits"])
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["enableServiceLinks"] is False  # else SENTIMENT_PORT=tcp://... breaks settings
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    port = load("configmap.yaml")["data"]["SENTIMENT_PORT"]
    assert c["ports"][0]["containerPort"] == int(port)


def test_hpa_and_service_target_the_deployment() -> None:
    dep = load("deployment.yaml")
    hpa, svc = load("hpa.yaml"), load("service.yaml")
    assert hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
    assert 1 < hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
