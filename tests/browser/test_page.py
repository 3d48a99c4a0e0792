"""The web page at / in headless Chromium against a real `sentiment serve`: typing scores the
text, the tokens and chart match /explain, the last running score shown is /predict's, a
negative example turns the bar negative, the API-key field works, the layout holds at 360 px,
and the page runs under its Content-Security-Policy without console errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.launcher import ServiceProcess
from tests.browser.conftest import API_KEY, WAIT_MS

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SENTENCE = "A moving, beautifully acted film, though the ending is a little too long."
NEGATIVE = "Dull, tedious and far too long."
TOL = 1e-6


def api(server: ServiceProcess, route: str, text: str, key: str | None = None) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    r = httpx.post(f"{server.url}{route}", json={"text": text}, headers=headers, timeout=30)
    r.raise_for_status()
    result: dict[str, Any] = r.json()["results"][0]
    return result


def wait_scored(page: Any, text: str, tokens: int) -> None:
    """Until the page shows the result of ``text`` (its token count, with the text box holding
    exactly that text and no request pending)."""
    page.wait_for_function(
        """([text, n]) => document.getElementById("text").value === text
             && document.getElementById("status").textContent.startsWith("Scored")
             && document.querySelectorAll("#tokens .tok.scored").length === n""",
        arg=[text, tokens], timeout=WAIT_MS)


def shown(page: Any) -> dict[str, Any]:
    """What the page shows, read from the DOM."""
    return page.evaluate("""() => ({
        label: document.getElementById("label").dataset.label,
        score: parseFloat(document.getElementById("score").dataset.value),
        sign: document.getElementById("bar").dataset.sign,
        colored: [...document.querySelectorAll("#tokens .tok.scored")]
            .filter((t) => t.style.backgroundColor !== "").length,
        tokens: [...document.querySelectorAll("#tokens .tok.scored")].map((t) => t.textContent),
        points: [...document.querySelectorAll("#chart circle.pt")]
            .map((c) => parseFloat(c.dataset.running)),
        model: document.getElementById("model-info").textContent,
        overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    })""")


def type_text(page: Any, text: str) -> None:
    box = page.locator("#text")
    box.fill("")
    box.press_sequentially(text)


def test_typing_explains_like_the_api(page_errors: tuple[Any, list[str]],
                                      page_servers: dict[str, ServiceProcess],
                                      artifacts: Path) -> None:
    page, errors = page_errors
    server = page_servers["open"]
    predicted, explained = api(server, "/predict", SENTENCE), api(server, "/explain", SENTENCE)
    card = httpx.get(f"{server.url}/model", timeout=30).json()
    response = page.goto(server.url + "/")
    assert response.ok and "default-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_function("() => document.getElementById('model-info').dataset.version")
    type_text(page, SENTENCE)
    wait_scored(page, SENTENCE, len(explained["tokens"]))
    seen = shown(page)
    assert seen["label"] == predicted["label"]
    assert seen["sign"] == ("positive" if predicted["scores"]["positive"] >= 0.5 else "negative")
    assert seen["colored"] == len(explained["tokens"])
    assert seen["tokens"] == [SENTENCE[t["start"]:t["end"]] for t in explained["tokens"]]
    assert len(seen["points"]) == len(explained["tokens"])
    assert abs(seen["points"][-1] - predicted["scores"]["positive"]) <= TOL
    assert abs(seen["score"] - predicted["scores"]["positive"]) <= TOL
    assert card["name"] in seen["model"] and card["version"] in seen["model"]
    assert f"{100 * card['metrics']['test']['accuracy']:.1f}%" in seen["model"]
    page.screenshot(path=str(artifacts / "page-1280.png"), full_page=True)
    assert (artifacts / "page-1280.png").stat().st_size > 10_000
    assert errors == []


def test_negative_example_by_keyboard(page_errors: tuple[Any, list[str]],
                                      page_servers: dict[str, ServiceProcess]) -> None:
    page, errors = page_errors
    server = page_servers["open"]
    explained = api(server, "/explain", NEGATIVE)
    page.goto(server.url + "/")
    page.locator("#text").focus()
    for _ in range(10):  # Tab from the text box to the negative example, then Enter
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent") == NEGATIVE:
            break
    page.keyboard.press("Enter")
    wait_scored(page, NEGATIVE, len(explained["tokens"]))
    seen = shown(page)
    assert seen["label"] == "negative" and seen["sign"] == "negative"
    assert abs(seen["points"][-1] - explained["scores"]["positive"]) <= TOL
    assert errors == []


def test_narrow_screen(browser: Any, page_servers: dict[str, ServiceProcess],
                       artifacts: Path) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    server = page_servers["open"]
    text = "The first hour is charming, but the ending is a clumsy, boring mess."
    explained = api(server, "/explain", text)
    page.goto(server.url + "/")
    page.locator("button.example", has_text="clumsy").click()
    wait_scored(page, text, len(explained["tokens"]))
    seen = shown(page)
    assert seen["overflow"] <= 0, "the page scrolls sideways at 360 px"
    assert len(seen["points"]) == len(explained["tokens"])
    page.screenshot(path=str(artifacts / "page-360.png"), full_page=True)
    assert (artifacts / "page-360.png").stat().st_size > 10_000
    context.close()


def test_no_inline_code(page_errors: tuple[Any, list[str]],
                        page_servers: dict[str, ServiceProcess]) -> None:
    page, errors = page_errors
    page.goto(page_servers["open"].url + "/")
    page.wait_for_function("() => document.getElementById('model-info').dataset.version")
    inline = page.evaluate("""() => ({
        scripts: document.querySelectorAll("script:not([src])").length,
        handlers: [...document.querySelectorAll("*")].flatMap((el) =>
            [...el.attributes].map((a) => a.name).filter((n) => n.startsWith("on"))),
        unlabelled: [...document.querySelectorAll("textarea, input, button")]
            .filter((el) => !(el.labels && el.labels.length) && !el.textContent.trim()
                    && !el.getAttribute("aria-label")).map((el) => el.id),
    })""")
    assert inline == {"scripts": 0, "handlers": [], "unlabelled": []}
    assert errors == []


def test_api_key_field(page_errors: tuple[Any, list[str]],
                       page_servers: dict[str, ServiceProcess]) -> None:
    page, errors = page_errors
    server = page_servers["auth"]
    explained = api(server, "/explain", SENTENCE, key=API_KEY)
    page.goto(server.url + "/")
    key_box = page.locator("#api-key")
    key_box.wait_for(state="visible")
    key_box.fill(API_KEY)
    key_box.press("Enter")
    page.wait_for_function("() => document.getElementById('model-info').dataset.version")
    type_text(page, SENTENCE)
    wait_scored(page, SENTENCE, len(explained["tokens"]))
    assert abs(shown(page)["points"][-1] - explained["scores"]["positive"]) <= TOL
    # the only errors: the browser's note of the 401 that revealed the key field
    assert all("401" in e for e in errors), errors

