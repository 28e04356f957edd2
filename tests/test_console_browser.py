"""The knowledge-base console in headless Chromium against every real service: an admin logs in,
edits an answer, publishes it, and the bot gives the new answer in the chat within seconds."""
from __future__ import annotations

import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser import browser  # noqa: F401  (fixture)
from tests.e2e_stack import ADMIN, STAFF_PASSWORD

pytestmark = pytest.mark.e2e
QUESTION = "Do you offer gift wrapping?"
REACH_LIMIT_S = 5.0


def ask(stack, text: str) -> str:
    status, body = stack.chat(f"kb-{uuid.uuid4().hex[:12]}", text)
    assert status == 200, body
    return " ".join(m["text"] for m in body["messages"])


def test_an_edited_and_published_answer_reaches_the_chat(browser, stack):  # noqa: F811
    assert "gift wrapping is $4.99" in ask(stack, QUESTION)
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(stack.web_url + "/admin/faq")
    expect(page).to_have_url(f"{stack.web_url}/login?next=/admin/faq")
    page.get_by_label("Username").fill(ADMIN)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Knowledge base")).to_be_visible()

    page.get_by_label("Search").fill("gift wrap")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Can I send a gift with a message or gift wrap?").click()
    marker = f"Gift wrapping is **free** until Sunday (note {uuid.uuid4().hex[:6]})."
    page.get_by_label("Answer").fill(marker)
    expect(page.locator("#preview strong")).to_have_text("free")  # live preview, rendered safely
    page.get_by_label("Status").select_option("draft")
    page.get_by_label("What changed").fill("holiday offer")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    assert marker not in ask(stack, QUESTION)  # a draft is not served

    page.get_by_role("button", name="Publish").click()
    published = time.monotonic()
    expect(page.locator("h1 .status")).to_have_text("published")
    while marker not in (answer := ask(stack, QUESTION)):
        assert time.monotonic() - published < REACH_LIMIT_S, f"still the old answer: {answer}"
    print(f"published edit reached the chat in {time.monotonic() - published:.2f} s")
    expect(page.get_by_role("cell", name="holiday offer")).to_be_visible()  # in the version history
    context.close()
