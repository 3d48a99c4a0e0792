"""The HTTP service against a real `bentoml serve` process: API, errors, batching, consistency."""

from __future__ import annotations

import asyncio
import json
import pickle
import random
import shutil
import time
from pathlib import Path

import bentoml
import httpx
import numpy as np
import pytest

from core.bundle import sha256_file
from core.runtime import Predictor
from devtools.launcher import ServiceProcess, ServiceStartError
from devtools.proc import descendants
from devtools.promtext import histogram, samples

pytestmark = [pytest.mark.slow, pytest.mark.integration]

WORDS = ["great", "awful", "moving", "boring", "the", "film", "plot", "acting", "superb",
         "dull", "a", "story", "with", "charming", "weak", "not", "very", "funny", "!"]


def random_texts(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=rng.randint(1, 40))) for _ in range(n)]


@pytest.fixture(scope="module")
def predictor(default_bundle) -> Predictor:
    return Predictor(default_bundle)


def assert_matches(results: list[dict], texts: list[str], predictor: Predictor) -> None:
    """Every result equals the runtime's own prediction for its text within 1e-6."""
    expected = predictor.predict_proba(texts)
    assert len(results) == len(texts)
    for res, row in zip(results, expected, strict=True):
        got = np.array([res["scores"][label] for label in predictor.labels])
        np.testing.assert_allclose(got, row, atol=1e-6, rtol=0)
        assert res["label"] == predictor.labels[int(np.argmax(row))]
        assert res["score"] == pytest.approx(max(res["scores"].values()), abs=1e-12)


def test_predict_texts(client, predictor, default_bundle):
    texts = ["A moving, beautifully acted film.", "Dull, tedious and far too long.", "ok"]
    r = client.post("/predict", json={"texts": texts})
    assert r.status_code == 200, r.text
    body = r.json()
    card = json.loads((default_bundle / "card.json").read_text())
    assert body["model"] == card["name"] and body["version"] == card["version"]
    assert set(body["results"][0]) == {"label", "score", "scores"}
    assert_matches(body["results"], texts, predictor)


def test_single_text_form_equals_list_form(client):
    one = client.post("/predict", json={"text": "a superb, charming story"}).json()
    many = client.post("/predict", json={"texts": ["a superb, charming story"]}).json()
    assert len(one["results"]) == 1
    assert one == many


def test_json_with_charset_is_accepted(client):
    r = client.post("/predict", content=b'{"text": "fine"}',
                    headers={"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text


def test_model_card_summary(client, default_bundle):
    card = json.loads((default_bundle / "card.json").read_text())
    body = client.get("/model").json()
    assert body["labels"] == card["labels"] and body["version"] == card["version"]
    assert body["limits"] == {"max_texts": 8, "explain_max_texts": 8, "max_chars": 300,
                              "max_body_bytes": 4096,
                              "max_tokens": card["max_tokens"]}
    assert "metrics" in body or "metrics" not in card


def test_health_metrics_and_docs(client):
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200
    spec = client.get("/docs.json").json()
    post = spec["paths"]["/predict"]["post"]
    assert "example" in post["requestBody"]["content"]["application/json"]["schema"]
    assert "example" in post["responses"]["200"]["content"]["application/json"]["schema"]


BAD = [
    # (name, body bytes, content type, status, words in the error)
    ("invalid json", b'{"texts": [', "application/json", 400, "invalid JSON"),
    ("empty body", b"", "application/json", 400, "empty request body"),
    ("bad utf-8", b'{"text": "\xff\xfe"}', "application/json", 400, "UTF-8"),
    ("deep nesting", b"[" * 3000, "application/json", 400, "invalid JSON"),
    ("array", b'["a"]', "application/json", 422, "got array"),
    ("null", b"null", "application/json", 422, "got null"),
    ("empty list", b'{"texts": []}', "application/json", 422, "texts is empty"),
    ("texts not list", b'{"texts": "abc"}', "application/json", 422, "array of strings"),
    ("null item", b'{"texts": ["a", null]}', "application/json", 422, "texts[1]"),
    ("number item", b'{"texts": ["a", 3]}', "application/json", 422, "got number"),
    ("text null", b'{"text": null}', "application/json", 422, "text must be a string"),
    ("both forms", b'{"text": "a", "texts": ["b"]}', "application/json", 422, "exactly one"),
    ("unknown field", b'{"txt": "a"}', "application/json", 422, "unknown field"),
    ("whitespace text", b'{"text": " \\n\\t "}', "application/json", 422, "whitespace-only"),
    ("empty item", b'{"texts": ["ok", ""]}', "application/json", 422, "texts[1] is empty"),
    ("lone surrogate", b'{"texts": ["ok", "a\\ud800b"]}', "application/json", 422, "surrogate"),
    ("too many texts", json.dumps({"texts": ["a"] * 9}).encode(), "application/json", 413,
     "max_texts"),
    ("text too long", json.dumps({"text": "a" * 301}).encode(), "application/json", 413,
     "max_chars"),
    ("body too big", json.dumps({"text": "a" * 5000}).encode(), "application/json", 413,
     "max_body_bytes"),
    ("plain text", b"great movie", "text/plain", 415, "application/json"),
    ("form", b"text=great", "application/x-www-form-urlencoded", 415, "application/json"),
    ("pickle", pickle.dumps({"texts": ["a"]}), "application/vnd.bentoml+pickle", 415,
     "vnd.bentoml+pickle"),
]


@pytest.mark.parametrize("name,body,ctype,status,words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_clear_4xx(client, name, body, ctype, status, words):
    r = client.post("/predict", content=body, headers={"content-type": ctype})
    assert r.status_code == status, r.text
    err = r.json()
    assert isinstance(err, dict) and words in json.dumps(err), err


def test_streamed_body_is_counted_not_trusted(client):
    """A chunked body with no Content-Length is cut off at the byte limit."""
    def chunks():
        yield b'{"texts": ["'
        for _ in range(20):
            yield b"x" * 500
        yield b'"]}'

    r = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["limit"] == "max_body_bytes"


async def _fire(url: str, bodies: list[dict]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as ac:
        return await asyncio.gather(*(ac.post("/predict", json=b) for b in bodies))


def test_concurrent_mixed_requests_batch_and_match_runtime(server, client, predictor):
    """Concurrent requests of 1-6 texts: batches > 1 form, each answer is its own, exact."""
    rng = random.Random(7)
    bodies = [{"texts": random_texts(rng, rng.randint(1, 6))} for _ in range(48)]
    bodies += [{"text": t} for t in random_texts(rng, 16)]
    responses = asyncio.run(_fire(server.url, bodies))
    for body, r in zip(bodies, responses, strict=True):
        assert r.status_code == 200, r.text
        assert_matches(r.json()["results"], body.get("texts") or [body["text"]], predictor)
    hist = histogram(client.get("/metrics").text, "sentiment_batch_requests")
    assert hist["count"] > 0
    assert hist["count"] - hist["buckets"][1.0] > 0, f"no batch of 2+ requests: {hist}"


def test_every_request_path_matches_runtime(wide_server, predictor):
    """Concurrent requests (default limits) down every path: 1-8 texts tokenized in the batch,
    9-32 tokenized on the event loop and scored as token rows, 33-64 (more than one batch)
    scored in chunks. Each answer is its own, exact."""
    rng = random.Random(11)
    bodies = [{"texts": random_texts(rng, n)} for n in (1, 3, 8, 9, 17, 32, 33, 64) * 3]
    rng.shuffle(bodies)
    responses = asyncio.run(_fire(wide_server.url, bodies))
    for body, r in zip(bodies, responses, strict=True):
        assert r.status_code == 200, r.text
        assert_matches(r.json()["results"], body["texts"], predictor)


def counts(client) -> tuple[float, float, float]:
    """(texts scored by label, text lengths observed, batch rows) so far."""
    text = client.get("/metrics").text
    labelled = sum(s["value"] for s in samples(text, "sentiment_predictions_total"))
    return (labelled, histogram(text, "sentiment_text_length_chars")["count"],
            sum(s["value"] for s in samples(text, "sentiment_batch_texts_sum")))


@pytest.mark.parametrize("n", [2, 20, 50])  # tokenized in the batch / on the loop / chunked
def test_every_text_is_counted_once(wide_server, n):
    with httpx.Client(base_url=wide_server.url, timeout=30) as c:
        before = counts(c)
        assert c.post("/predict", json={"texts": [f"text {i}" for i in range(n)]}).is_success
        after = counts(c)
    assert [a - b for a, b in zip(after, before, strict=True)] == [n, n, n]


def test_service_metrics(client):
    client.post("/predict", json={"texts": ["great", "awful"]})
    text = client.get("/metrics").text
    labels = {s["labels"].get("label") for s in samples(text, "sentiment_predictions_total")}
    assert labels & {"positive", "negative"}
    assert histogram(text, "sentiment_text_length_chars")["count"] >= 2
    assert histogram(text, "sentiment_inference_seconds")["count"] >= 1
    assert histogram(text, "sentiment_batch_texts")["count"] >= 1
    assert any(s["labels"]["generation"] == "0"
               for s in samples(text, "sentiment_gc_pause_seconds_count"))


def test_access_log_is_switchable(client, server, auth_server):
    client.post("/predict", json={"text": "logged"})
    with httpx.Client(base_url=auth_server.url) as c:
        c.post("/predict", json={"text": "x"}, headers={"authorization": "Bearer nope"})
    time.sleep(0.5)  # the log line is written after the response
    assert "path=/predict" in server.output_tail(400)
    assert "path=/predict" not in auth_server.output_tail(400)


def test_api_key(auth_server, api_key):
    good = {"authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=auth_server.url, timeout=30) as c:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": api_key}):
            r = c.post("/predict", json={"text": "good"}, headers=headers)
            assert r.status_code == 401 and "API key" in r.json()["error"]
            assert c.get("/model", headers=headers).status_code == 401
        assert c.post("/predict", json={"text": "good"}, headers=good).status_code == 200
        assert c.get("/model", headers=good).status_code == 200
        for path in ("/livez", "/readyz", "/metrics"):
            assert c.get(path).status_code == 200
    assert f"web page: {auth_server.url}/" in auth_server.output_tail(400)


async def _fire_auth(url: str, key: str, n: int) -> list[httpx.Response]:
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers,
                                 limits=httpx.Limits(max_connections=n)) as ac:
        return await asyncio.gather(*(ac.post("/predict", json={"texts": ["a fine film"] * 64})
                                      for _ in range(n)))


def test_overload_is_a_clear_503(auth_server, api_key):
    """Past max_latency_ms (10 ms on this server) the batcher sheds load: 503 + Retry-After +
    JSON, counted on /metrics, no traceback in the log."""
    responses = asyncio.run(_fire_auth(auth_server.url, api_key, 40))
    shed = [r for r in responses if r.status_code == 503]
    assert shed and {r.status_code for r in responses} <= {200, 503}
    assert "overloaded" in shed[0].json()["error"] and shed[0].headers["retry-after"] == "1"
    assert "Traceback" not in auth_server.output_tail(2000)
    text = httpx.get(f"{auth_server.url}/metrics").text
    counted = sum(s["value"] for s in samples(text, "sentiment_rejected_total")
                  if s["labels"]["status"] == "503")
    assert counted == len(shed)


def break_bundle(src, dst, how: str):
    """A copy of the bundle whose model fails: a changed byte, or garbage with a matching sha."""
    shutil.copytree(src, dst)
    model = dst / "model.onnx"
    if how == "tampered":
        with open(model, "ab") as fh:
            fh.write(b"\0")
        return
    model.write_bytes(b"not an onnx graph")
    card = json.loads((dst / "card.json").read_text())
    card["files"]["model.onnx"]["sha256"] = sha256_file(model)
    (dst / "card.json").write_text(json.dumps(card))


@pytest.mark.parametrize("how,words", [("tampered", "sha256"), ("garbage", "onnxruntime")])
def test_broken_bundle_exits_non_zero_never_ready(default_bundle, tmp_path, how, words):
    bad = tmp_path / "bad"
    break_bundle(default_bundle, bad, how)
    proc = ServiceProcess({"SENTIMENT_MODEL_DIR": str(bad)}, ready_timeout=60)
    with pytest.raises(ServiceStartError, match=words):
        with proc:
            pass
    assert proc.proc.returncode == 3


def thread_nices(pid: int) -> list[int]:
    """The niceness of every thread of process ``pid`` (field 19 of /proc/<pid>/task/*/stat)."""
    out = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            out.append(int(stat.read_text().rsplit(")", 1)[1].split()[16]))
        except (OSError, IndexError, ValueError):
            continue  # the thread ended meanwhile
    return out


def test_workers_run_inference_below_the_event_loop(server, client):
    """Each worker's onnxruntime thread, started by its first batch larger than
    INLINE_MAX_TEXTS, runs at niceness INFERENCE_NICE (2); its other threads at 0."""
    rng = random.Random(3)
    bodies = [{"texts": random_texts(rng, 8)} for _ in range(64)]  # concurrent: batches > 8
    assert all(r.status_code == 200 for r in asyncio.run(_fire(server.url, bodies)))
    nices = {pid: thread_nices(pid) for pid in descendants(server.proc.pid)}
    niced = [pid for pid, ns in nices.items() if 2 in ns]
    assert niced, nices
    assert all(set(nices[pid]) == {0, 2} for pid in niced), nices


def test_bentoml_clients_call_predict_with_typed_arguments(server, predictor):
    texts = ["a superb, charming story", "dull"]
    with bentoml.SyncHTTPClient(server.url) as c:
        many = c.predict(texts=texts)
        one = c.predict(text=texts[0])
    assert_matches(many["results"], texts, predictor)
    assert one["results"][0] == many["results"][0]

    async def call() -> dict:
        async with bentoml.AsyncHTTPClient(server.url) as ac:
            return await ac.predict(texts=texts)

    assert asyncio.run(call()) == many


def test_cors_headers_on_success_errors_and_preflight(cors_server):
    from tests.service.conftest import CORS_ORIGIN

    origin = {"origin": CORS_ORIGIN}
    with httpx.Client(base_url=cors_server.url, timeout=30, headers=origin) as c:
        ok = c.post("/predict", json={"text": "fine"})
        bad = c.post("/predict", json={"texts": []})
        big = c.post("/predict", json={"texts": ["x"] * 9})
        wrong_type = c.post("/predict", content=b"x", headers={"content-type": "text/plain"})
        model = c.get("/model")
        pre = c.options("/predict", headers={"access-control-request-method": "POST",
                                             "access-control-request-headers": "content-type"})
        other = c.post("/predict", json={"text": "fine"}, headers={"origin": "https://evil.example"})
    for r, status in ((ok, 200), (bad, 422), (big, 413), (wrong_type, 415), (model, 200),
                      (pre, 200)):
        assert r.status_code == status, r.text
        assert r.headers.get("access-control-allow-origin") == CORS_ORIGIN, (status, r.headers)
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "access-control-allow-origin" not in other.headers


def test_no_cors_headers_by_default(client):
    r = client.post("/predict", json={"text": "fine"}, headers={"origin": "https://app.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_openapi_schema_is_valid_and_complete(client, auth_server):
    from openapi_spec_validator import validate

    spec = client.get("/docs.json").json()
    validate(spec)
    post = spec["paths"]["/predict"]["post"]
    assert {"200", "400", "401", "413", "415", "422", "429", "500", "503", "504"} <= set(
        post["responses"])
    error = post["responses"]["413"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorBody"}
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["texts"]["maxItems"] == 8  # SMALL_LIMITS
    assert body["properties"]["texts"]["items"]["maxLength"] == 300
    assert body["additionalProperties"] is False and len(body["oneOf"]) == 2
    assert "root_input" not in json.dumps(body)
    assert "get" in spec["paths"]["/model"] and "securitySchemes" not in spec["components"]
    secured = httpx.get(f"{auth_server.url}/docs.json").json()
    validate(secured)
    assert secured["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert secured["paths"]["/predict"]["post"]["security"] == [{"bearer": []}]
