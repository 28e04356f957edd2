"""rasa-webchat 1.0.1, the real npm bundle (scripts/ensure_webchat.sh), on a store page of another origin
with ``socketUrl`` pointed at Aisle's web app, in headless Chromium against every real service: product
cards, the conversation after a reload, and a live agent after handoff (also what the agent wrote while
the store page was closed). The REST webhook is sent a search through the same stack."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from aisle.config import REPO_ROOT
from aisle.db import session_factory
from aisle.models import Author, Conversation, Message
from tests.browser import agent_takes_over, browser  # noqa: F401  (fixture)
from tests.e2e_stack import AGENT_DISPLAY_NAME, API_AUTH, Stack, free_port, http_json

pytestmark = pytest.mark.e2e
WAIT_MS = 30_000
WEBCHAT = REPO_ROOT / "tests" / ".npm" / "rasa-webchat-1.0.1" / "lib" / "index.js"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A store that embeds rasa-webchat</title></head>
<body><main><h1>Store</h1><div id="webchat"></div></main>
<script src="rasa-webchat.js"></script>
<script>
  WebChat.default({socketUrl: "%s", socketPath: "/socket.io/", title: "Store assistant", embedded: true,
                   customMessageDelay: () => 0, params: {storage: "local"}},
                  document.getElementById("webchat"));
</script></body></html>
"""


@dataclass
class Store:
    shop_url: str  # the store's own site, serving rasa-webchat
    web_url: str  # the Aisle web app the widget talks to (and the agent console on it)


@pytest.fixture(scope="module")
def store(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A web app on the stack's services that accepts the store's origin (AISLE_WIDGET_ORIGINS), and the
    store's site on another port: a static server with rasa-webchat."""
    if not WEBCHAT.exists():
        pytest.skip(f"{WEBCHAT.relative_to(REPO_ROOT)} is missing: scripts/ensure_webchat.sh fetches it "
                    "with npm (make test runs it); it skips the download when npm is not installed")
    shop_port, web_port = free_port(), free_port()
    shop_url, web_url = f"http://127.0.0.1:{shop_port}", f"http://127.0.0.1:{web_port}"
    site = tmp_path_factory.mktemp("store-site")
    (site / "rasa-webchat.js").write_bytes(WEBCHAT.read_bytes())
    (site / "index.html").write_text(PAGE % web_url)
    stack.start("web", "web-webchat", {"AISLE_WEB_PORT": str(web_port), "AISLE_WIDGET_ORIGINS": shop_url})
    shop = subprocess.Popen([sys.executable, "-m", "http.server", str(shop_port), "--bind", "127.0.0.1",
                             "--directory", str(site)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        stack.wait_healthy("web-webchat", f"{web_url}/health")
        yield Store(shop_url, web_url)
    finally:
        shop.terminate()
        shop.wait(timeout=10)
        stack.stop("web-webchat")


def say(page: Page, text: str) -> None:
    page.locator(".rw-new-message").fill(text)
    page.locator(".rw-new-message").press("Enter")


def session_id(page: Page) -> str:
    return json.loads(page.evaluate("localStorage.getItem('chat_session')"))["session_id"]


def shopper_texts(stack: Stack, cid: str) -> list[str]:
    with session_factory(stack.settings.database_url)() as s:
        query = select(Message.text).where(Message.conversation_id == cid, Message.author == Author.shopper)
        return list(s.scalars(query.order_by(Message.id)))


def wait_for_shopper_text(stack: Stack, cid: str, text: str) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while text not in shopper_texts(stack, cid):
        assert time.monotonic() < deadline, f"{text!r} not in the transcript: {shopper_texts(stack, cid)}"
        time.sleep(0.2)


def test_rasa_webchat_through_aisle_cards_reload_and_a_live_agent(browser, stack, store):  # noqa: F811
    shopper_context, agent_context = browser.new_context(), browser.new_context()
    shopper, agent = shopper_context.new_page(), agent_context.new_page()
    for page in (shopper, agent):
        page.set_default_timeout(WAIT_MS)
    shopper.route("https://fonts.googleapis.com/**", lambda route: route.abort())  # the bundle's font

    shopper.goto(store.shop_url + "/")
    say(shopper, "show me kettles")
    card = shopper.locator(".rw-carousel-card").first
    expect(card).to_be_visible()
    expect(card.locator(".rw-carousel-card-subtitle")).to_contain_text("$")
    title = card.locator(".rw-carousel-card-title").inner_text()
    cid = session_id(shopper)
    with session_factory(stack.settings.database_url)() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None and conversation.channel == "socketio"
    assert shopper_texts(stack, cid) == ["show me kettles"]  # no init payload, no page-view conversation
    answers = shopper.locator(".rw-response").count()
    card.locator(".rw-reply", has_text="Details").click()  # a card's button, through Aisle, read as clicked
    wait_for_shopper_text(stack, cid, f"Details: {title}")
    expect(shopper.locator(".rw-response").nth(answers)).to_be_visible()  # and the bot answered it

    shopper.reload()  # rasa-webchat redraws its stored conversation once Aisle confirms the same session
    expect(shopper.locator(".rw-carousel-card").first).to_be_visible()
    expect(shopper.locator(".rw-client", has_text="show me kettles")).to_be_visible()
    assert session_id(shopper) == cid
    shopper.locator(".rw-carousel-card").first.locator(".rw-reply", has_text="Similar").click()
    wait_for_shopper_text(stack, cid, f"Similar: {title}")  # a redrawn button still reads as clicked

    say(shopper, "I want to talk to a real person")
    expect(shopper.locator(".rw-response", has_text="asked a person from our team")).to_be_visible()
    agent_takes_over(agent, store.web_url, cid)
    expect(agent.locator("#live-log")).to_contain_text("I want to talk to a real person")
    expect(shopper.locator(".rw-response", has_text="joined the chat")).to_be_visible()
    agent.get_by_label("Message to the shopper").fill("Hi, I'm Eve from the team. How can I help?")
    agent.get_by_role("button", name="Send").click()
    from_agent = shopper.locator(".rw-response",
                                 has_text=f"{AGENT_DISPLAY_NAME} (our team): Hi, I'm Eve from the team")
    expect(from_agent).to_be_visible()
    say(shopper, "Thanks! Can you ship my order to Canada?")
    expect(agent.locator("#live-log")).to_contain_text("Can you ship my order to Canada?")
    shopper.goto("about:blank")  # the shopper looks elsewhere while the agent answers
    agent.get_by_label("Message to the shopper").fill("Yes, we ship to Canada in 5-7 days.")
    agent.get_by_role("button", name="Send").click()
    expect(agent.locator("#live-log")).to_contain_text("we ship to Canada in 5-7 days")
    shopper.goto(store.shop_url + "/")
    expect(shopper.locator(".rw-response", has_text="(our team): Yes, we ship to Canada")).to_be_visible()
    expect(shopper.locator(".rw-response", has_text="(our team): Yes, we ship to Canada")).to_have_count(1)
    agent.get_by_role("button", name="Hand back to the bot").click()
    expect(shopper.locator(".rw-response", has_text="handed you back")).to_be_visible()
    shopper_context.close()
    agent_context.close()


def test_the_rest_webhook_answers_a_search_with_text_then_product_cards(stack, store):
    url = f"{store.web_url}/webhooks/rest/webhook"
    status, body = http_json("POST", url, {"sender": "rest-user", "message": "show me kettles"})
    assert status == 401 and "API key" in body["error"]
    status, replies = http_json("POST", url, {"sender": "rest-user", "message": "show me kettles"},
                                headers=API_AUTH)
    assert status == 200, replies
    assert all(r["recipient_id"] == "rest-user" for r in replies)
    cards = next(r["custom"] for r in replies if "custom" in r)
    assert cards["type"] == "product_cards" and cards["products"]
    assert cards["products"][0]["title"] in replies[0]["text"]  # the text lists what the cards show
