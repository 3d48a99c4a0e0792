"""Unicode texts: 200 and exactly the same scores on repeat, alone or in a batch."""

from __future__ import annotations

import unicodedata

import httpx
import pytest
from reliability_figures import record

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TEXTS = {
    "emoji": "What a film 😍🔥👏 loved it",
    "emoji ZWJ sequence": "family night 👨‍👩‍👧‍👦 and a flag 🏳️‍🌈",
    "emoji skin tones": "👍🏽👍🏿 great",
    "CJK": "这部电影非常感人，演技一流。",
    "Japanese": "とても退屈な映画でした",
    "Korean": "정말 재미있는 영화였어요",
    "Arabic (RTL)": "فيلم رائع جدا وممتع",
    "Hebrew (RTL)": "סרט משעמם מאוד",
    "RTL override mark": "great \u202efilm\u202c ending",
    "combining marks": "Zalgo ţ̷̛̖e̸͓̔x̴̣̀t̶̰̊ and a fine plot",
    "Devanagari": "बहुत अच्छी फ़िल्म",
    "Thai": "หนังเรื่องนี้ดีมาก",
    "math and symbols": "𝔤𝔯𝔢𝔞𝔱 ∑∞ ≠ boring ©®™",
    "zero-width chars": "gr\u200beat fi\u200dlm \ufeffok",
}
NORMAL_FORMS = ["Café crème, naïve Zoë, fiancée", "Ǆemal résumé — Ångström", "한국어 영화"]


def scores(client: httpx.Client, auth: dict, texts: list[str]) -> list[dict]:
    r = client.post("/predict", json={"texts": texts}, headers=auth)
    assert r.status_code == 200, (texts, r.status_code, r.text)
    return [res["scores"] for res in r.json()["results"]]


def test_unicode_texts_score_stably(main_server, auth):
    headers = dict(auth)
    forms = []
    for text in NORMAL_FORMS:
        forms += [("NFC " + text, unicodedata.normalize("NFC", text)),
                  ("NFD " + text, unicodedata.normalize("NFD", text))]
    cases = list(TEXTS.items()) + forms
    unstable, requests = [], 0
    with httpx.Client(base_url=main_server.url, timeout=30) as client:
        singles = {}
        for name, text in cases:
            first, second = scores(client, headers, [text]), scores(client, headers, [text])
            requests += 2
            singles[name] = first[0]
            if first != second:
                unstable.append(name)
        batch = []
        for i in range(0, len(cases), 16):  # the main server's max_texts
            batch += scores(client, headers, [t for _, t in cases[i:i + 16]])
            requests += 1
    batch_diff = max(abs(b[k] - singles[n][k]) for (n, _), b in zip(cases, batch, strict=True)
                     for k in b)
    nfc_nfd_same = sum(singles["NFC " + t] == singles["NFD " + t] for t in NORMAL_FORMS)
    record("unicode", texts=len(cases), requests=requests, unstable=len(unstable),
           max_batch_vs_single_diff=float(f"{batch_diff:.2e}"),
           nfc_equals_nfd=f"{nfc_nfd_same}/{len(NORMAL_FORMS)}",
           passed=not unstable and batch_diff <= 1e-6)
    assert not unstable, unstable
    assert batch_diff <= 1e-6
