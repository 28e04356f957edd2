"""The chat widget on the demo store page, in headless Chromium, against every real service."""
from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from aisle.db import session_factory
from aisle.models import Conversation
from tests.browser import browser  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e
WAIT_MS = 30_000
SCREENSHOTS = os.environ.get("AISLE_SCREENSHOT_DIR")


@pytest.fixture
def page(browser, stack):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(stack.web_url + "/")
    yield page
    context.close()


def open_widget(page: Page) -> None:
    page.get_by_role("button", name="Open chat with the Aisle shopping assistant").click()
    expect(page.locator("#aisle-input")).to_be_focused()


def say(page: Page, text: str) -> None:
    page.locator("#aisle-input").fill(text)
    page.keyboard.press("Enter")


def bot_messages(page: Page):
    return page.locator("li.msg.bot")


def test_store_page_greeting_search_cards_and_a_card_button(page):
    expect(page.locator("li.product").first).to_be_visible()
    open_widget(page)
    say(page, "hi")
    expect(bot_messages(page).last).to_contain_text("Aisle")
    say(page, "show me hiking boots")
    cards = page.locator("li.msg.bot .carousel article.card")
    expect(cards).to_have_count(2)
    expect(cards.first.locator("h3")).to_contain_text("Boots")
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "widget-desktop.png"))
    title = cards.first.locator("h3").inner_text()
    cards.first.get_by_role("button", name=f"Details: {title}").click()
    expect(page.locator("li.msg.shopper").last).to_contain_text(f"Details: {title}")
    expect(bot_messages(page).last).to_contain_text(title)


def test_ask_about_a_product_under_the_store_pages_csp(browser, stack):  # noqa: F811
    """The store page's CSP allows only Aisle's own files: its script (store.js) and the widget still work,
    and the browser reports no violation."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    response = page.goto(stack.web_url + "/")
    assert "frame-ancestors" in response.headers["content-security-policy"]
    product = page.locator("li.product").first
    title = product.locator("h2").inner_text()
    product.get_by_role("button", name="Ask Aisle about this").click()
    expect(page.locator("li.msg.shopper").last).to_contain_text(f"Tell me about the {title}")
    expect(bot_messages(page).last).to_contain_text(title)
    assert violations == []
    context.close()


def test_history_survives_a_reload(page):
    open_widget(page)
    say(page, "show me kettles")
    expect(page.locator("li.msg.bot .carousel article.card").first).to_be_visible()
    page.reload()
    open_widget(page)
    expect(page.locator("li.msg.shopper").first).to_contain_text("show me kettles")
    expect(page.locator("li.msg.bot .carousel article.card").first).to_be_visible()


def test_a_dropped_connection_recovers_and_delivers_what_was_typed(page, stack):
    open_widget(page)
    say(page, "hello")
    expect(bot_messages(page)).to_have_count(1)
    stack.stop("web")
    expect(page.locator(".banner")).to_contain_text("Reconnecting")
    say(page, "are you a bot?")  # typed while offline: kept and resent
    stack.start("web")
    stack.wait_until_healthy()
    expect(page.locator(".banner")).to_be_hidden()
    expect(bot_messages(page).last).to_contain_text("automated assistant")
    expect(page.locator("li.msg.shopper")).to_have_count(2)


def test_html_in_a_message_is_shown_as_text(page):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_widget(page)
    attack = "<img src=x onerror=alert(1)>"
    say(page, attack)
    expect(page.locator("li.msg.shopper .bubble").last).to_have_text(attack)
    expect(bot_messages(page).last).to_be_visible()
    assert page.locator("#aisle-widget li.msg img").count() == 0
    assert dialogs == []


def test_keyboard_and_phone_layout(browser, stack):  # noqa: F811
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(stack.web_url + "/")
    launcher = page.get_by_role("button", name="Open chat with the Aisle shopping assistant")
    launcher.focus()
    page.keyboard.press("Enter")
    panel = page.get_by_role("dialog", name="Aisle shopping assistant")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box and box["width"] == pytest.approx(360, abs=1)
    say(page, "show me kettles")
    expect(page.locator("li.msg.bot .carousel article.card").first).to_be_visible()
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "widget-phone.png"))
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(launcher).to_be_focused()
    context.close()


def stored_token(page: Page) -> str | None:
    return page.evaluate("() => (JSON.parse(localStorage.getItem('aisle.conversation') || 'null') || {}).token || null")


def test_end_chat_forgets_the_conversation_on_this_browser(page, stack):
    open_widget(page)
    say(page, "show me kettles")
    expect(page.locator("li.msg.bot .carousel article.card").first).to_be_visible()
    before = stored_token(page)
    page.get_by_role("button", name="End chat and forget this conversation on this device").click()
    expect(page.locator("li.msg.system").last).to_contain_text("You ended the chat")
    expect(page.locator("li.msg.shopper")).to_have_count(0)
    page.wait_for_function("old => { const e = JSON.parse(localStorage.getItem('aisle.conversation') || 'null');"
                           " return e && e.token !== old; }", arg=before)
    page.reload()  # the next person at this computer
    open_widget(page)
    say(page, "hi")
    expect(bot_messages(page).last).to_be_visible()
    expect(page.locator("li.msg.shopper")).to_have_count(1)
    assert "show me kettles" not in page.locator("#aisle-widget").inner_text()
    with session_factory(stack.settings.database_url)() as s:  # and the server closed it
        ended = s.get(Conversation, before.rpartition(".")[0]).ended_at
    assert ended is not None


def test_an_idle_conversation_is_not_reopened_after_a_reload(page):
    open_widget(page)
    say(page, "show me kettles")
    expect(page.locator("li.msg.bot .carousel article.card").first).to_be_visible()
    before = stored_token(page)
    # 31 minutes without a message (the default expiry is 30).
    page.evaluate("() => { const e = JSON.parse(localStorage.getItem('aisle.conversation'));"
                  " e.at = Date.now() - 31 * 60 * 1000; localStorage.setItem('aisle.conversation', JSON.stringify(e)); }")
    page.reload()
    open_widget(page)
    page.wait_for_function("old => { const e = JSON.parse(localStorage.getItem('aisle.conversation') || 'null');"
                           " return e && e.token !== old; }", arg=before)
    expect(page.locator("li.msg.shopper")).to_have_count(0)


def test_a_page_on_another_site_cannot_run_the_assistant(browser, stack):  # noqa: F811
    page_html = (f'<!doctype html><title>Not the store</title>'
                 f'<script src="{stack.web_url}/static/widget.js" defer></script>').encode()

    class OtherSite(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page_html)

        def log_message(self, *args) -> None:
            pass

    # Another origin on this machine (another port): a page that embeds the widget script.
    server = ThreadingHTTPServer(("127.0.0.1", 0), OtherSite)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        frames = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        expect(page.locator(".banner")).to_contain_text("Reconnecting")  # the socket was refused
        assert frames == []  # no welcome, no history
    finally:
        context.close()
        server.shutdown()
        server.server_close()
