"""Headless Chromium (Debian's package) driven by Playwright for Python; no browser download."""
from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    path = os.environ.get("AISLE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if os.environ.get("AISLE_SKIP_BROWSER") == "1":
        pytest.skip("AISLE_SKIP_BROWSER=1")
    if not path:
        pytest.fail("browser tests need Chromium: `apt-get install -y chromium` (make test does this as root), "
                    "or point AISLE_CHROMIUM at a Chromium binary, or set AISLE_SKIP_BROWSER=1 to skip them")
    return path


# Module scope: Playwright's sync API runs an event loop in this thread while it is open, and the
# async tests in later modules need the thread's loop back.
@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def agent_logs_in(agent, web_url: str, next_path: str = "/agent/queue") -> None:
    """The e2e stack's agent logs in to the console."""
    from tests.e2e_stack import AGENT, STAFF_PASSWORD

    agent.goto(f"{web_url}/login?next={next_path}")
    agent.get_by_label("Username").fill(AGENT)
    agent.get_by_label("Password").fill(STAFF_PASSWORD)
    agent.get_by_role("button", name="Log in").click()


def agent_takes_over(agent, web_url: str, conversation_id: str) -> None:
    """The e2e stack's agent logs in to the console and takes the waiting conversation."""
    from playwright.sync_api import expect

    agent_logs_in(agent, web_url)
    take = agent.locator(f'form[action="/agent/queue/{conversation_id}/take"] button')
    expect(take).to_be_visible()
    take.click()
