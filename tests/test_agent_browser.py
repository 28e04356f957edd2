"""Live handoff end to end in headless Chromium with two browser contexts: a shopper in the widget and
an agent in the console's inbox, against every real service."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from tests.browser import agent_logs_in, agent_takes_over, browser  # noqa: F401  (fixture)
from tests.e2e_stack import ADMIN, AGENT, AGENT_DISPLAY_NAME

pytestmark = pytest.mark.e2e
WAIT_MS = 30_000
SCREENSHOTS = os.environ.get("AISLE_SCREENSHOT_DIR")


def test_shopper_and_agent_chat_live_then_the_bot_resumes_and_the_agent_corrects(browser, stack):  # noqa: F811
    shopper_context, agent_context = browser.new_context(), browser.new_context()
    shopper, agent = shopper_context.new_page(), agent_context.new_page()
    for page in (shopper, agent):
        page.set_default_timeout(WAIT_MS)

    shopper.goto(stack.web_url + "/")
    shopper.get_by_role("button", name="Open chat with the Aisle shopping assistant").click()
    shopper.locator("#aisle-input").fill("I want to talk to a real person")
    shopper.keyboard.press("Enter")
    expect(shopper.locator("#aisle-widget .status")).to_contain_text("Waiting for a person")
    # The widget keeps the server's token, "<conversation id>.<signature>".
    token = shopper.evaluate("JSON.parse(localStorage.getItem('aisle.conversation')).token")
    cid = token.rpartition(".")[0]

    agent_takes_over(agent, stack.web_url, cid)
    expect(agent.get_by_role("heading", name="Live chat")).to_be_visible()
    expect(agent.locator("#live-log")).to_contain_text("I want to talk to a real person")  # the history first

    # Shoppers see the agent's display name, never the login (it would help guess logins).
    expect(shopper.locator("#aisle-widget .status")).to_have_text(f"Chatting with {AGENT_DISPLAY_NAME}")
    expect(shopper.locator("li.msg.system").last).to_contain_text(
        f"{AGENT_DISPLAY_NAME} from our team joined the chat.")
    agent.get_by_label("Message to the shopper").fill("Hi, I'm Eve from the team. How can I help?")
    agent.get_by_role("button", name="Send").click()
    expect(shopper.locator("li.msg.agent").last).to_contain_text("I'm Eve from the team")
    expect(shopper.locator("li.msg.agent").last).to_contain_text(f"{AGENT_DISPLAY_NAME} · our team")
    shopper.locator("#aisle-input").fill("Thanks! Can you ship my order to Canada?")
    shopper.keyboard.press("Enter")
    expect(agent.locator("#live-log")).to_contain_text("Can you ship my order to Canada?")

    agent.get_by_role("button", name="Hand back to the bot").click()
    expect(shopper.locator("li.msg.system").last).to_contain_text("handed you back")
    assert AGENT not in shopper.locator("#aisle-widget").inner_text()
    shopper.locator("#aisle-input").fill("show me kettles")
    shopper.keyboard.press("Enter")
    expect(shopper.locator("li.msg.bot .carousel article.card").first).to_be_visible()

    agent.goto(stack.web_url + "/agent/conversations?handoff=yes")
    agent.locator(f'a[href="/agent/conversations/{cid}"]').click()
    message = agent.locator("li.tm.shopper", has_text="Can you ship my order to Canada?")
    message.locator("summary").click()
    message.get_by_label("Right intent").select_option("faq")
    message.get_by_role("button", name="Save correction").click()
    expect(agent.locator("li.tm.shopper", has_text="Can you ship my order to Canada?")
           .locator("summary")).to_contain_text("Corrected to faq")
    with agent.expect_download() as download:
        agent.get_by_role("link", name="Export this conversation's corrections").click()
    exported = yaml.safe_load(open(download.value.path()).read())
    assert exported["nlu"] == [{"intent": "faq", "examples": "- Thanks! Can you ship my order to Canada?\n"}]
    shopper_context.close()
    agent_context.close()


# Records each browser notification the page shows (the real one is still shown).
RECORD_NOTIFICATIONS = """
window.__notifications = [];
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options) { window.__notifications.push(title); super(title, options); }
  static get permission() { return Real.permission; }
  static requestPermission(...args) { return Real.requestPermission(...args); }
};
"""


def test_the_inbox_alerts_shows_three_panes_inserts_canned_replies_and_shows_typing(browser, stack):  # noqa: F811
    from aisle.db import session_factory
    from bot.agent.canned import CannedReplies

    CannedReplies(session_factory(stack.settings.database_url)).create(
        "greet-shopper", "Hi, thanks for waiting! Let me look at that for you.", ADMIN)
    shopper_context = browser.new_context()
    agent_context = browser.new_context(viewport={"width": 1280, "height": 720})
    agent_context.grant_permissions(["notifications"], origin=stack.web_url)
    agent_context.add_init_script(RECORD_NOTIFICATIONS)
    shopper, agent = shopper_context.new_page(), agent_context.new_page()
    for page in (shopper, agent):
        page.set_default_timeout(WAIT_MS)

    agent_logs_in(agent, stack.web_url)
    agent.get_by_role("button", name="Turn on alerts").click()  # the click that lets the page ask and beep
    expect(agent.get_by_role("button", name="Turn off alerts")).to_be_visible()

    shopper.goto(stack.web_url + "/")
    shopper.get_by_role("button", name="Open chat with the Aisle shopping assistant").click()
    shopper.locator("#aisle-input").fill("show me kettles")
    shopper.keyboard.press("Enter")
    card = shopper.locator("li.msg.bot .carousel article.card").first
    expect(card).to_be_visible()
    product = card.locator("h3").inner_text()
    shopper.locator("#aisle-input").fill("I want to talk to a real person")
    shopper.keyboard.press("Enter")
    expect(shopper.locator("#aisle-widget .status")).to_contain_text("Waiting for a person")
    cid = shopper.evaluate("JSON.parse(localStorage.getItem('aisle.conversation')).token").rpartition(".")[0]

    expect(agent.locator("#alert-status")).to_have_text("A shopper is waiting: asked for a person")
    assert agent.evaluate("window.__notifications") == ["Aisle: a shopper is waiting"]
    row = agent.locator(f'li.row[data-id="{cid}"]')
    expect(row).to_contain_text("waiting")
    expect(row).to_contain_text("unassigned")
    row.get_by_role("button", name="Take").click()

    # Three panes side by side, the reply box in view without scrolling.
    panes = [agent.locator(f".pane.{name}").bounding_box() for name in ("inbox-list", "inbox-chat", "inbox-customer")]
    assert panes[0]["x"] < panes[1]["x"] < panes[2]["x"]
    reply_box = agent.get_by_label("Message to the shopper")
    assert reply_box.bounding_box()["y"] + reply_box.bounding_box()["height"] <= 720
    expect(agent.locator(f'li.row[data-id="{cid}"]')).to_contain_text(AGENT)
    expect(agent.locator("#customer")).to_contain_text("not verified")
    expect(agent.locator("#customer")).to_contain_text(product)  # products viewed in this conversation

    reply_box.press_sequentially("/greet")
    expect(agent.locator("#canned-menu").get_by_role("option")).to_have_count(1)
    if SCREENSHOTS:
        agent.screenshot(path=str(Path(SCREENSHOTS) / "agent-inbox.png"))
    reply_box.press("Enter")  # picks the reply; a second Enter sends it
    expect(reply_box).to_have_value("Hi, thanks for waiting! Let me look at that for you.")
    typing = shopper.locator("#aisle-widget .typing")
    expect(typing).to_be_visible()  # the agent is typing, by the display name the shopper knows
    expect(typing).to_have_attribute("aria-label", f"{AGENT_DISPLAY_NAME} is typing")
    reply_box.press("Enter")
    expect(shopper.locator("li.msg.agent").last).to_contain_text("thanks for waiting")
    expect(typing).to_be_hidden()

    shopper.locator("#aisle-input").press_sequentially("my parcel is")
    expect(agent.locator("#shopper-typing")).to_be_visible()
    shopper.keyboard.press("Enter")
    expect(agent.locator("#live-log")).to_contain_text("my parcel is")
    expect(agent.locator("#shopper-typing")).to_be_hidden()
    shopper_context.close()
    agent_context.close()
