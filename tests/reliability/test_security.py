"""API key enforcement (and open health), sha256-verified bundles, no pickle, pip-audit."""

from __future__ import annotations

import ast
import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_figures import record
from reliability_http import request

from core.bundle import BundleError, load_bundle

ROOT = Path(__file__).resolve().parents[2]
JSON = [("Content-Type", "application/json")]
BODY = b'{"text": "a moving film"}'
AUDIT_TIMEOUT_S = 240

BAD_AUTH = {
    "no header": [],
    "empty header": [("Authorization", "")],
    "Bearer, no token": [("Authorization", "Bearer")],
    "Bearer, blank token": [("Authorization", "Bearer    ")],
    "wrong key": [("Authorization", "Bearer not-the-key")],
    "key prefix": [("Authorization", "Bearer reliability-key")],
    "key + suffix": [("Authorization", "Bearer reliability-key-7f3a9cX")],
    "Basic scheme": [("Authorization", "Basic cmVsaWFiaWxpdHkta2V5LTdmM2E5Yzo=")],
    "key without scheme": [("Authorization", "reliability-key-7f3a9c")],
    "key in X-API-Key": [("X-API-Key", "reliability-key-7f3a9c")],
    "key in cookie": [("Cookie", "api_key=reliability-key-7f3a9c")],
    "non-ASCII token": [("Authorization", "Bearer \xe9\xe9")],
}


@pytest.mark.slow
@pytest.mark.integration
def test_api_key_required_health_open(main_server, auth):
    port = main_server.port

    async def run() -> tuple[dict, dict, dict]:
        denied, open_, ok = {}, {}, {}
        for name, hdrs in BAD_AUTH.items():
            for method, path, body in (("POST", "/predict", BODY), ("GET", "/model", None),
                                       ("POST", "/predict?api_key=reliability-key-7f3a9c", BODY)):
                r = await request("127.0.0.1", port, method, path, hdrs + JSON, body)
                denied[f"{name} {method} {path}"] = (r.status, r.headers.get("www-authenticate"))
        for path in ("/livez", "/readyz", "/healthz", "/metrics"):
            open_[path] = (await request("127.0.0.1", port, "GET", path)).status
        for method, path, body in (("POST", "/predict", BODY), ("GET", "/model", None)):
            ok[path] = (await request("127.0.0.1", port, method, path, auth + JSON, body)).status
        return denied, open_, ok

    denied, open_, ok = asyncio.run(run())
    wrong = {k: v for k, v in denied.items() if v != (401, "Bearer")}
    record("API key", denied_cases=len(denied), got_401=len(denied) - len(wrong),
           health_open=open_, with_key=ok, passed=not wrong and set(open_.values()) == {200}
           and set(ok.values()) == {200})
    assert not wrong, wrong
    assert set(open_.values()) == {200}, open_
    assert set(ok.values()) == {200}, ok


def _tampered_copies(src: Path, root: Path) -> dict[str, Path]:
    """Copies of a bundle, each with one file changed."""
    out = {}
    edits = {
        "model.onnx byte flipped": lambda d: _flip(d / "model.onnx"),
        "tokenizer.json edited": lambda d: _append(d / "tokenizer.json", b" "),
        "card sha256 edited": lambda d: _edit_card(d),
        "model.onnx missing": lambda d: (d / "model.onnx").unlink(),
    }
    for name, edit in edits.items():
        dst = root / name.replace(" ", "_")
        shutil.copytree(src, dst)
        edit(dst)
        out[name] = dst
    return out


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _append(path: Path, extra: bytes) -> None:
    path.write_bytes(path.read_bytes() + extra)


def _edit_card(d: Path) -> None:
    card = json.loads((d / "card.json").read_text())
    card["files"]["model.onnx"]["sha256"] = "0" * 64
    (d / "card.json").write_text(json.dumps(card))


def test_bundles_verified_by_sha256(default_bundle, tmp_path):
    load_bundle(default_bundle)  # the shipped bundle verifies
    refused = {}
    for name, path in _tampered_copies(default_bundle, tmp_path).items():
        with pytest.raises(BundleError) as exc:
            load_bundle(path)
        refused[name] = str(exc.value)[:80]
    record("bundle sha256 verification", tampered=len(refused), refused=len(refused), passed=True)


UNSAFE_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal", "torch"}


def test_serving_code_never_unpickles():
    """No module of service/ or scoring/ imports a deserializer that can run code."""
    found = []
    for path in sorted([*(ROOT / "service").rglob("*.py"), *(ROOT / "scoring").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            elif isinstance(node, ast.keyword) and node.arg == "allow_pickle":
                names = ["allow_pickle"]
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names
                      if n in UNSAFE_MODULES | {"allow_pickle"}]
    assert not found, found


@pytest.mark.slow
def test_pip_audit_pinned_set(tmp_path):
    """Audit constraints.txt against PyPI's advisory data (skips if PyPI cannot be reached)."""
    exe = Path(sys.executable).with_name("pip-audit")
    out = tmp_path / "audit.json"
    cmd = [str(exe), "-r", str(ROOT / "constraints.txt"), "--no-deps", "--disable-pip",
           "-s", "pypi", "-f", "json", "-o", str(out), "--progress-spinner", "off",
           "--timeout", "15", "--cache-dir", str(tmp_path / "cache")]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=AUDIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip-audit did not finish within {AUDIT_TIMEOUT_S} s (PyPI unreachable?)")
    if not out.exists():
        if any(w in proc.stderr for w in ("ConnectionError", "Max retries", "resolve", "timed out")):
            pytest.skip(f"PyPI's vulnerability service unreachable: {proc.stderr.strip()[-200:]}")
        pytest.fail(f"pip-audit failed (exit {proc.returncode}): {proc.stderr[-500:]}")
    deps = json.loads(out.read_text())["dependencies"]
    vulns = {f"{d['name']}=={d['version']}": [v["id"] for v in d["vulns"]]
             for d in deps if d.get("vulns")}
    fixable = {k: v for k, v in vulns.items() if _has_fix(deps, k)}
    record("pip-audit", packages=len(deps), vulnerable_packages=len(vulns),
           advisories=sum(map(len, vulns.values())), vulnerable=vulns,
           with_fix_available=sorted(fixable), passed=not vulns)
    assert not vulns, f"known vulnerabilities in pinned packages: {vulns}"


def _has_fix(deps: list[dict], key: str) -> bool:
    name = key.split("==")[0]
    return any(d["name"] == name and any(v.get("fix_versions") for v in d["vulns"]) for d in deps)
