"""POST /explain and the web page against real servers: the same contract as /predict (auth,
limits, JSON errors, OpenAPI), exact running scores, and the page's files and headers."""

from __future__ import annotations

import asyncio
import json

import bentoml
import httpx
import pytest

from core.explain import explain
from core.runtime import Predictor
from tests.service.test_app import BAD

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TEXTS = ["A moving, beautifully acted film.", "Dull, tedious and far too long.", "ok zqxwv"]
TOL = 1e-6


@pytest.fixture(scope="module")
def predictor(default_bundle) -> Predictor:
    return Predictor(default_bundle)


def test_explain_matches_predict_and_runtime(client, predictor):
    r = client.post("/explain", json={"texts": TEXTS})
    assert r.status_code == 200, r.text
    body = r.json()
    predicted = client.post("/predict", json={"texts": TEXTS}).json()
    assert body["model"] == predicted["model"] and body["version"] == predicted["version"]
    local = explain(predictor, TEXTS)
    for text, res, pred, mine in zip(TEXTS, body["results"], predicted["results"], local,
                                     strict=True):
        assert res["label"] == pred["label"] and res["target"] == "positive"
        assert abs(res["tokens"][-1]["running"] - pred["scores"]["positive"]) <= TOL
        assert [(t["start"], t["end"]) for t in res["tokens"]] == \
               [(t["start"], t["end"]) for t in mine["tokens"]]
        for got, want in zip(res["tokens"], mine["tokens"], strict=True):
            for key in ("running", "step", "loo"):
                assert abs(got[key] - want[key]) <= TOL
        assert text[res["tokens"][0]["start"]:res["tokens"][0]["end"]].lower() == \
               res["tokens"][0]["token"]
    made_up = body["results"][2]["tokens"]  # "ok zqxwv": WordPiece spells it, no [UNK]
    assert len(made_up) > 2 and not any(t["unk"] for t in made_up)
    one = client.post("/explain", json={"text": TEXTS[0]}).json()["results"][0]
    assert one == body["results"][0]


@pytest.mark.parametrize("name,body,ctype,status,words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_the_same_answer_as_predict(client, name, body, ctype, status, words):
    headers = {"content-type": ctype}
    got = client.post("/explain", content=body, headers=headers)
    want = client.post("/predict", content=body, headers=headers)
    assert got.status_code == want.status_code == status, got.text
    assert got.json() == want.json()


def test_explain_has_its_own_text_limit(auth_server, api_key):
    headers = {"authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=auth_server.url, timeout=30, headers=headers) as c:
        limits = c.get("/model").json()["limits"]
        n = limits["explain_max_texts"]
        assert n == 8 and limits["max_texts"] > n
        assert c.post("/explain", json={"texts": ["fine"] * n}).status_code == 200
        big = c.post("/explain", json={"texts": ["fine"] * (n + 1)})
        assert big.status_code == 413 and big.json()["max"] == n
        assert c.post("/predict", json={"texts": ["fine"] * (n + 1)}).status_code == 200


def test_explain_needs_the_key_and_the_page_does_not(auth_server, api_key):
    with httpx.Client(base_url=auth_server.url, timeout=30) as c:
        r = c.post("/explain", json={"text": "good"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        ok = c.post("/explain", json={"text": "good"},
                    headers={"authorization": f"Bearer {api_key}"})
        assert ok.status_code == 200
        for path in ("/", "/static/app.js", "/static/app.css"):
            assert c.get(path).status_code == 200, path


def test_page_files_and_headers(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    html = page.text
    assert '<script src="/static/app.js"' in html and "<script>" not in html
    assert "http://" not in html and "https://" not in html  # no CDN
    for path, kind in (("/static/app.js", "javascript"), ("/static/app.css", "text/css")):
        r = client.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"], path
        assert r.headers["content-security-policy"] == csp
    assert client.get("/static/missing.js").status_code == 404
    assert client.get("/docs.json").status_code == 200  # not shadowed by the page's routes


def test_openapi_describes_explain(client, auth_server):
    from openapi_spec_validator import validate

    spec = client.get("/docs.json").json()
    validate(spec)
    post = spec["paths"]["/explain"]["post"]
    assert {"200", "400", "413", "415", "422", "429", "503", "504"} <= set(post["responses"])
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["texts"]["maxItems"] == 8
    schemas = json.dumps(spec["components"]["schemas"])
    assert "ExplainResult" in schemas and "running" in schemas and "loo" in schemas
    secured = httpx.get(f"{auth_server.url}/docs.json").json()
    assert secured["paths"]["/explain"]["post"]["security"] == [{"bearer": []}]


def test_bentoml_clients_call_explain(server):
    with bentoml.SyncHTTPClient(server.url) as c:
        many = c.explain(texts=TEXTS[:2])
        one = c.explain(text=TEXTS[0])
    assert one["results"][0] == many["results"][0]

    async def call() -> dict:
        async with bentoml.AsyncHTTPClient(server.url) as ac:
            return await ac.explain(texts=TEXTS[:2])

    assert asyncio.run(call()) == many


def test_mixed_concurrent_requests_stay_exact(server, predictor):
    """/predict and /explain requests racing into the same batches keep their own answers."""
    texts = [f"{w} film with a {v} plot" for w in ("a great", "an awful", "a dull", "a superb")
             for v in ("charming", "weak", "moving")]
    expected = predictor.predict_proba(texts)[:, 1]

    async def fire() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as ac:
            calls = [ac.post("/explain" if i % 3 == 0 else "/predict", json={"text": t})
                     for i, t in enumerate(texts)]
            return await asyncio.gather(*calls)

    for i, r in enumerate(asyncio.run(fire())):
        assert r.status_code == 200, r.text
        res = r.json()["results"][0]
        assert abs(res["scores"]["positive"] - expected[i]) <= TOL
        assert ("tokens" in res) == (i % 3 == 0)
        if "tokens" in res:
            assert abs(res["tokens"][-1]["running"] - expected[i]) <= TOL
