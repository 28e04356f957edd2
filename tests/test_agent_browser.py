"""Live handoff end to end in headless Chromium with two browser contexts: a shopper in the widget and
an agent in the console, against every real service."""
from __future__ import annotations

import pytest
import yaml
from playwright.sync_api import expect

from tests.browser import agent_takes_over, browser  # noqa: F401  (fixture)
from tests.e2e_stack import AGENT, AGENT_DISPLAY_NAME

pytestmark = pytest.mark.e2e
WAIT_MS = 30_000


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
