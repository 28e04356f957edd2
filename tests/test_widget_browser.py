"""The chat widget on the demo store page, in headless Chromium, against every real service."""
from __future__ import annotations

import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from sqlalchemy import func, select

from aisle.db import session_factory
from aisle.models import Conversation
from tests.accessibility import serious_violations
from tests.browser import browser  # noqa: F401  (fixture)
from tests.e2e_stack import ADMIN, STAFF_PASSWORD

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
    expect(page.locator("li.greeting")).to_contain_text("Aisle")
    starters = page.get_by_role("group", name="Suggested questions").get_by_role("button")
    expect(starters).to_have_count(4)
    page.get_by_role("button", name="Show me hiking boots").click()  # a starter is sent as it reads
    expect(page.locator("li.msg.shopper .bubble").last).to_have_text("Show me hiking boots")
    expect(starters).to_have_count(0)
    cards = page.locator("li.msg.bot .carousel article.card")
    expect(cards).to_have_count(2)
    expect(cards.first.locator("h3")).to_contain_text("Boots")
    # A picture (lazy, served by the web app) and a title linking to the product page; no picture: a
    # neutral placeholder; stock on every card.
    pictured = page.locator('article.card[data-sku="HB-600"]')
    expect(pictured.locator("img")).to_have_attribute("loading", "lazy")
    pictured.locator("img").scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelector('#aisle-widget').shadowRoot"
                           ".querySelectorAll('article.card img')].every(i => i.complete && i.naturalWidth > 0)")
    expect(pictured.get_by_role("link", name="Waterproof Leather Hiking Boots")).to_have_attribute(
        "href", stack_url(page) + "/products/HB-600")
    plain = page.locator('article.card[data-sku="HB-601"]')
    expect(plain.locator(".placeholder")).to_be_visible()
    expect(plain.locator("h3 a")).to_have_count(0)
    expect(cards.locator(".meta")).to_contain_text(["stock", "stock"])
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "widget-desktop.png"))
    title = cards.first.locator("h3").inner_text()
    cards.first.get_by_role("button", name=f"Details: {title}").click()
    expect(page.locator("li.msg.shopper").last).to_contain_text(f"Details: {title}")
    expect(bot_messages(page).last).to_contain_text(title)


def stack_url(page: Page) -> str:
    return page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2]


def shadow(page: Page, script: str):
    """Evaluate ``script`` (a function of the widget's shadow root) in the page."""
    return page.evaluate(f"() => ({script})(document.querySelector('#aisle-widget').shadowRoot)")


def empty_items(page: Page) -> list[str]:
    """Bubbles without words and messages that show nothing: what must never appear."""
    return shadow(page, "root => [...root.querySelectorAll('li.msg')].filter(li => "
                        "!li.innerText.replace(/\\d\\d:\\d\\d/g, '').trim() || "
                        "[...li.querySelectorAll('.bubble')].some(b => !b.innerText.trim())).map(li => li.outerHTML)")


def test_every_kind_of_reply_has_a_rendering_and_no_bubble_is_empty(page):
    open_widget(page)
    say(page, "show me running shoes")
    card = page.locator("li.msg.bot article.card").filter(has_text="Cushioned Road Running Shoes")
    expect(card).to_have_count(1)  # one card for the model, its colours as choices
    choices = card.get_by_role("group", name="Options for Cushioned Road Running Shoes").get_by_role("button")
    expect(choices).to_have_text(["Blue", "Black"])
    other = card.locator('.variant[aria-pressed="false"]')
    wanted = other.get_attribute("data-sku")
    other.click()
    expect(card).to_have_attribute("data-sku", wanted)
    expect(card.locator(f'.variant[data-sku="{wanted}"]')).to_have_attribute("aria-pressed", "true")
    card.get_by_role("button", name="Add to cart: Cushioned Road Running Shoes").click()
    cart = page.locator("li.msg.bot .cart").last
    expect(cart.locator(".cart-line")).to_have_count(1)
    expect(cart.locator(".cart-line")).to_have_attribute("data-sku", wanted)  # the colour that was chosen
    expect(cart.locator(".cart-qty")).to_contain_text("1 ×")
    expect(cart.locator(".cart-total")).to_contain_text("Total")
    expect(cart.locator("a.checkout")).to_have_count(0)  # Aisle's own demo cart: no store checkout
    say(page, "show me my cart")
    expect(page.locator("li.msg.bot .cart")).to_have_count(2)
    say(page, "show me kettles")
    expect(page.locator("li.msg.bot .carousel").last.locator("article.card").first).to_be_visible()
    say(page, "compare the first two")
    table = page.locator("li.msg.bot .comparison table").last
    expect(table.locator("thead th")).to_have_count(2)
    expect(table.get_by_role("rowheader", name="price")).to_be_visible()
    say(page, "where is my order 10001?")
    expect(page.locator("li.msg.shopper")).to_have_count(6)
    expect(bot_messages(page).last).to_contain_text("order")
    assert empty_items(page) == []


CHECKOUT = "https://shop.example/cart/RS-500:1"
OTHER_PAYLOAD = {"type": "delivery_estimate", "carrier": "UPS", "days": 3, "levels": [1, 2]}


def test_a_store_checkout_link_and_any_other_payload_are_shown(page):
    """The real stack's frames, with what a store's configuration adds (the cart's checkout_url) and a
    payload kind this widget has no special view for, added on the way to the page."""
    def relay(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(raw: str | bytes) -> None:
            frame = json.loads(raw)
            custom = frame.get("message", {}).get("custom") or {}
            if custom.get("type") == "cart":
                custom["checkout_url"] = CHECKOUT
                custom["items"][0]["checkout_url"] = CHECKOUT  # a store whose link takes one item
            ws.send(json.dumps(frame))
            if custom.get("type") == "cart":
                ws.send(json.dumps({"type": "message", "message": {
                    "id": 10**9, "author": "bot", "text": "", "custom": OTHER_PAYLOAD}}))

        server.on_message(to_page)

    page.route_web_socket(re.compile(r"/ws$"), relay)
    page.reload()
    open_widget(page)
    say(page, "show me running shoes")
    page.locator("li.msg.bot article.card").first.get_by_role("button", name="Add to cart", exact=False).click()
    checkout = page.locator("li.msg.bot .cart a.checkout")
    expect(checkout).to_have_text("Go to checkout")
    expect(checkout).to_have_attribute("href", CHECKOUT)
    expect(checkout).to_have_attribute("rel", "noopener")
    expect(page.locator("li.msg.bot .cart a.item-checkout")).to_have_attribute("href", CHECKOUT)
    other = page.locator(f'li.msg.bot[data-id="{10**9}"] dl.data')
    expect(other.locator("dt")).to_have_text(["carrier", "days"])  # its plain fields, as text
    expect(other.locator("dd")).to_have_text(["UPS", "3"])
    assert empty_items(page) == []


def conversations(stack) -> int:
    with session_factory(stack.settings.database_url)() as s:
        return s.scalar(select(func.count()).select_from(Conversation))


def test_a_page_view_opens_no_socket_and_creates_no_conversation(browser, stack):  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    before = conversations(stack)
    page.goto(stack.web_url + "/")
    page.goto(stack.web_url + "/products/KET-100")  # a second page view, still without opening the widget
    expect(page.get_by_role("button", name="Open chat with the Aisle shopping assistant")).to_be_visible()
    page.wait_for_timeout(1500)
    assert sockets == [] and conversations(stack) == before
    open_widget(page)
    expect(page.locator("li.greeting")).to_be_visible()
    page.wait_for_function("() => localStorage.getItem('aisle.conversation') !== null")
    assert len(sockets) == 1
    context.close()


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
    # the answer to "hello" (the greeting is a bot message too: counting both raced the answer)
    expect(page.locator("li.msg.bot:not(.greeting)")).to_have_count(1)
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
    expect(panel).to_have_attribute("aria-modal", "true")
    assert shadow(page, "root => getComputedStyle(root.querySelector('#aisle-input')).fontSize") == "16px"  # no iOS zoom
    say(page, "show me kettles")
    expect(page.locator("li.msg.bot .carousel article.card").first).to_be_visible()
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "widget-phone.png"))
    # Focus goes round inside the full-screen panel, both ways, never to the page behind it.
    for key in ["Tab"] * 25 + ["Shift+Tab"] * 25:
        page.keyboard.press(key)
        assert shadow(page, "root => Boolean(root.activeElement && root.querySelector('.panel')"
                            ".contains(root.activeElement))"), key
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(launcher).to_be_focused()
    # A product's button scrolled under the launcher: the launcher steps aside and the button takes the tap.
    ask = page.get_by_role("button", name="Ask Aisle about this").nth(2)
    page.evaluate("""([button, launcher]) => { const b = button.getBoundingClientRect(),
        l = launcher.getBoundingClientRect(); window.scrollBy(0, (b.top + b.height / 2) - (l.top + l.height / 2)); }""",
                  [ask.element_handle(), page.locator("#aisle-widget").element_handle()])
    expect(launcher).to_have_class("launcher tucked")
    ask.click(trial=True)  # Playwright checks that nothing covers it
    page.evaluate("() => window.scrollTo(0, 0)")
    expect(launcher).to_have_class("launcher")
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
    expect(page.locator("li.greeting")).to_be_visible()  # a fresh start, created only when they write
    assert stored_token(page) is None
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
        page.get_by_role("button", name="Open chat with the Aisle shopping assistant").click()
        expect(page.locator(".banner")).to_contain_text("Reconnecting")  # the socket was refused
        assert frames == []  # no welcome, no history
    finally:
        context.close()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, {"width": 360, "height": 740}],
                         ids=["desktop", "phone"])
def test_store_page_with_the_widget_open_has_no_serious_accessibility_violations(browser, stack, viewport):  # noqa: F811
    context = browser.new_context(viewport=viewport, bypass_csp=True)  # axe is injected as a script
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(stack.web_url + "/")
    assert serious_violations(page) == []  # the closed launcher over the page
    open_widget(page)
    say(page, "show me running shoes")
    expect(page.locator("li.msg.bot article.card").first).to_be_visible()
    page.locator("li.msg.bot article.card").first.get_by_role("button", name="Add to cart", exact=False).click()
    expect(page.locator("li.msg.bot .cart")).to_have_count(1)
    assert serious_violations(page) == []
    page.goto(stack.web_url + "/products/RS-500")
    assert serious_violations(page) == []
    context.close()


CONSOLE_AREAS = ("/console", "/admin/", "/agent")
NOT_PAGES = (".csv", ".yml", ".json", "/logout", "/export")


def test_every_console_page_an_admin_reaches_has_no_serious_accessibility_violations(browser, stack):  # noqa: F811
    """Follows every link of the console from its home page (one page per kind: ids collapse)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(stack.web_url + "/login")
    assert serious_violations(page) == []
    page.get_by_label("Username").fill(ADMIN)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(stack.web_url + "/console")
    todo, seen, found = ["/console"], set(), {}
    while todo and len(seen) < 40:
        path = todo.pop(0)
        kind = "/".join("ID" if any(c.isdigit() for c in part) and len(part) > 3 else part
                        for part in path.split("?")[0].split("/"))
        if kind in seen:
            continue
        seen.add(kind)
        response = page.goto(stack.web_url + path)
        assert response and response.ok, path
        if problems := serious_violations(page):
            found[path] = problems
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            if href.startswith(CONSOLE_AREAS) and not any(x in href.split("?")[0] for x in NOT_PAGES):
                todo.append(href.split("#")[0])
    assert len(seen) >= 8, seen
    assert found == {}
    context.close()


SHOPIFY_EXPORT = Path(__file__).parent / "fixtures" / "shopify_products.csv"
SHOP = "https://shop.example.com"
# The smallest PNG (1x1): what the stand-in for Shopify's image CDN serves (no network here).
PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture(scope="module")
def shopify_stack(tmp_path_factory):
    """Every service over a store whose whole catalog came from a Shopify product export."""
    if os.environ.get("AISLE_SKIP_E2E") == "1":
        pytest.skip("AISLE_SKIP_E2E=1")
    from tests.e2e_stack import Stack

    stack = Stack.create(tmp_path_factory.mktemp("shopify-store"), catalog=SHOPIFY_EXPORT,
                         extra_env={"AISLE_STORE_URL": SHOP})
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop_all()


def test_a_catalog_imported_from_a_shopify_export_is_searchable_with_pictures_and_product_links(
        browser, shopify_stack):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    requested: list[str] = []

    def cdn(route):  # noqa: ANN001
        requested.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=PIXEL)

    page.route("https://cdn.shopify.com/**", cdn)
    try:
        page.goto(shopify_stack.web_url + "/")
        open_widget(page)
        say(page, "a merino sweater")
        card = page.locator("li.msg.bot .carousel article.card").first
        expect(card.locator("h3")).to_contain_text("Merino Crew Sweater")
        # The product page of the store (its handle), and the export's own picture, loaded.
        expect(card.locator("h3 a")).to_have_attribute("href", f"{SHOP}/products/merino-crew-sweater")
        picture = card.locator("img")
        expect(picture).to_have_attribute("src", re.compile(r"^https://cdn\.shopify\.com/.+\.jpg$"))
        picture.scroll_into_view_if_needed()
        page.wait_for_function("() => [...document.querySelector('#aisle-widget').shadowRoot"
                               ".querySelectorAll('article.card img')].every(i => i.complete && i.naturalWidth > 0)")
        assert requested and all(url.startswith("https://cdn.shopify.com/") for url in requested)
        # Its variants are choices on one card, not three cards of one sweater.
        expect(page.locator("li.msg.bot .carousel article.card h3", has_text="Merino Crew Sweater")).to_have_count(1)
    finally:
        context.close()
