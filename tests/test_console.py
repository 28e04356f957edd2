"""Console accounts and the knowledge-base admin pages: login, roles, CSRF, throttling, and the KB
workflows over HTTP against an in-process app and a scratch database."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from sqlalchemy import select

from aisle.config import REPO_ROOT
from aisle.db import session_factory
from aisle.models import AuditEvent, ConsoleSession, FaqEntry, FaqStatus, Role, User
from bot.app import create_app
from bot.console.accounts import AccountError, create_user
from bot.console.session_store import SqlSessionStorage
from tests.web_fixtures import web_settings

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path):
    settings = web_settings(tmp_path)
    db = session_factory(settings.database_url)
    create_user(db, "ada", PASSWORD, Role.admin, "test")
    create_user(db, "sam", PASSWORD, Role.agent, "test")
    return settings


@pytest.fixture
async def client(settings):
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


def token_in(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def login(client, username: str, password: str = PASSWORD):
    token = token_in(await (await client.get("/login")).text())
    return await client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                             "next": "/admin/faq"}, allow_redirects=False)


async def csrf(client, path: str = "/admin/faq/new") -> str:
    return token_in(await (await client.get(path)).text())


def entry_form(token: str, **values) -> dict:
    return {"csrf_token": token, "question": "Do you ship to Canada?", "answer": "Yes, **5-8 days**.",
            "category": "shipping", "status": "draft", "alternatives": "Ship to Toronto?", "tags": "canada",
            "do": "save", **values}


# No action server runs for these tests, so the similar-entries check cannot run and a save needs the
# admin's "Save anyway" (test_a_save_the_similarity_check_could_not_vet_needs_confirming).
UNCHECKED = "save-anyway"


def upload(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def entries(settings):
    with session_factory(settings.database_url)() as s:
        return list(s.scalars(select(FaqEntry)))


async def test_nothing_is_reachable_without_login(client):
    for path in ("/console", "/admin/faq", "/admin/faq/new", "/admin/faq/try", "/admin/audit",
                 "/admin/faq/export?format=csv"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/login?next="), path
    resp = await client.post("/admin/faq/new", data={"question": "x"}, allow_redirects=False)
    assert resp.status == 403  # no session, so no CSRF token either


async def test_login_sets_a_safe_cookie_and_logout_ends_the_session(client):
    resp = await login(client, "ada")
    assert resp.status == 303 and resp.headers["Location"] == "/admin/faq"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = await client.get("/admin/faq")
    assert page.status == 200 and "Content-Security-Policy" in page.headers
    token = token_in(await page.text())
    assert (await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)).status == 303
    resp = await client.get("/admin/faq", allow_redirects=False)
    assert resp.status == 303


async def test_wrong_passwords_are_refused_and_then_throttled(client):
    for _ in range(5):
        assert (await login(client, "ada", "wrong password!")).status == 401
    resp = await login(client, "ada")  # the right password, but too many failures just happened
    assert resp.status == 429 and "Too many failed attempts" in await resp.text()


@pytest.mark.parametrize("target", ["//evil.example/", "/\t/evil.example", "/\n/evil.example", "/ /evil.example",
                                    "/\\evil.example", "https://evil.example/"])
async def test_a_next_parameter_cannot_redirect_off_site(client, target):
    token = token_in(await (await client.get("/login")).text())
    resp = await client.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token,
                                             "next": target}, allow_redirects=False)
    assert resp.headers["Location"] == "/console"


async def test_spaces_or_case_in_the_name_do_not_get_fresh_tries(client, settings):
    for name in ("ada", " ada", "ada\t", "ADA", " a d a "):
        assert (await login(client, name, "wrong password!")).status == 401
    resp = await login(client, " ada ")  # the right password, but five failures for this name already
    assert resp.status == 429
    with session_factory(settings.database_url)() as s:
        failed = s.scalars(select(AuditEvent).where(AuditEvent.action == "user.login_failed")).all()
    assert len(failed) == 5 and {e.target for e in failed} == {"user:ada"}


async def test_a_bad_csrf_token_changes_nothing(client, settings):
    await login(client, "ada")
    resp = await client.post("/admin/faq/new", data=entry_form("not-the-token"), allow_redirects=False)
    assert resp.status == 403
    resp = await client.post("/admin/faq/new", data={k: v for k, v in entry_form("x").items() if k != "csrf_token"})
    assert resp.status == 403
    assert entries(settings) == []


async def test_agents_can_read_but_not_change_the_knowledge_base(client, settings):
    await login(client, "ada")
    token = await csrf(client)
    await client.post("/admin/faq/new", data=entry_form(token, do=UNCHECKED))
    [entry] = entries(settings)
    await client.post("/logout", data={"csrf_token": token})

    await login(client, "sam")
    assert (await client.get("/admin/faq")).status == 200
    assert (await client.get("/admin/faq/try")).status == 200
    token = token_in(await (await client.get("/admin/faq")).text())
    for path, data in ((f"/admin/faq/{entry.id}/status", {"status": "published"}),
                       (f"/admin/faq/{entry.id}", entry_form(token, answer="Hacked")),
                       ("/admin/faq/new", entry_form(token, question="Another?"))):
        resp = await client.post(path, data={**data, "csrf_token": token})
        assert resp.status == 403, path
    for path in (f"/admin/faq/{entry.id}", "/admin/faq/new", "/admin/audit", "/admin/faq/export"):
        assert (await client.get(path)).status == 403, path
    [after] = entries(settings)
    assert (after.answer, after.status, after.version) == ("Yes, **5-8 days**.", FaqStatus.draft, 1)


async def test_edit_preview_publish_diff_restore_and_audit(client, settings):
    await login(client, "ada")
    token = await csrf(client)
    preview = await client.post("/admin/faq/new", data=entry_form(token, answer="<script>x</script> **bold**",
                                                                 do="preview"))
    page = await preview.text()
    assert "&lt;script&gt;x&lt;/script&gt; <strong>bold</strong>" in page and entries(settings) == []

    resp = await client.post("/admin/faq/new", data=entry_form(token, do=UNCHECKED), allow_redirects=False)
    entry_url = resp.headers["Location"].split("?")[0]
    await client.post(entry_url, data=entry_form(token, answer="Yes, in 3 days.", summary="faster now"))
    await client.post(f"{entry_url}/status", data={"csrf_token": token, "status": "published"})
    [entry] = entries(settings)
    assert (entry.version, entry.status, entry.answer) == (3, FaqStatus.published, "Yes, in 3 days.")

    diff = await (await client.get(f"{entry_url}/diff?from=1&to=3")).text()
    assert "-Yes, **5-8 days**." in diff and "+Yes, in 3 days." in diff
    await client.post(f"{entry_url}/restore", data={"csrf_token": token, "version": "1"})
    [entry] = entries(settings)
    assert (entry.version, entry.answer, entry.status) == (4, "Yes, **5-8 days**.", FaqStatus.draft)

    with session_factory(settings.database_url)() as s:
        actions = [(a.username, a.action) for a in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert ("ada", "user.login") in actions and ("ada", "faq.restore") in actions
    assert "faq.restore" in await (await client.get("/admin/audit")).text()


async def test_a_save_the_similarity_check_could_not_vet_needs_confirming(client, settings):
    await login(client, "ada")
    token = await csrf(client)
    resp = await client.post("/admin/faq/new", data=entry_form(token), allow_redirects=False)
    page = await resp.text()
    assert resp.status == 409 and "check for similar entries could not run" in page
    assert 'value="save-anyway"' in page and 'value="Do you ship to Canada?"' in page  # nothing typed is lost
    assert entries(settings) == []
    resp = await client.post("/admin/faq/new", data=entry_form(token, do="save-anyway"), allow_redirects=False)
    assert resp.status == 303 and len(entries(settings)) == 1


async def test_windows_line_breaks_from_the_form_are_stored_as_newlines(client, settings):
    """Finding: browsers send textarea line breaks as \r\n; stored as such, the widget showed "- Visa" as
    text while the console preview showed a list."""
    await login(client, "ada")
    token = await csrf(client)
    answer, alternatives = "We take:\r\n- Visa\r\n- Amex\r\rThat's all.", "Ship to Toronto?\r\nShip to Quebec?"
    resp = await client.post("/admin/faq/new", data=entry_form(token, answer=answer, alternatives=alternatives,
                                                                do=UNCHECKED), allow_redirects=False)
    entry_url = resp.headers["Location"].split("?")[0]
    [entry] = entries(settings)
    assert (entry.answer, entry.alternatives) == ("We take:\n- Visa\n- Amex\n\nThat's all.",
                                                  ["Ship to Toronto?", "Ship to Quebec?"])
    # Only the answer changes, so no similarity check (and no confirmation) is needed.
    await client.post(entry_url, data=entry_form(token, answer="Yes:\r\n- in 3 days", alternatives=alternatives))
    [entry] = entries(settings)
    assert (entry.answer, entry.version) == ("Yes:\n- in 3 days", 2)


async def test_import_is_validated_whole_and_export_round_trips(client, settings):
    await login(client, "ada")
    token = await csrf(client, "/admin/faq/import")
    bad = "question,answer,category\nShip to Canada?,Yes,shipping\n,Missing question,shipping\n"
    resp = await client.post("/admin/faq/import", data={"csrf_token": token, "file": upload(bad), "format": "csv"})
    assert resp.status == 400 and "line 3: &#39;question&#39; is required" in await resp.text()
    assert entries(settings) == []

    good = "question,answer,category,status\nShip to Canada?,Yes,shipping,published\nGift cards?,Yes,gift cards,\n"
    resp = await client.post("/admin/faq/import", data={"csrf_token": token, "file": upload(good), "format": "csv"})
    assert resp.status == 200 and "2 created" in await resp.text()
    exported = await (await client.get("/admin/faq/export?format=yaml")).text()
    assert "Ship to Canada?" in exported and "status: published" in exported


async def test_try_a_question_says_when_the_action_server_is_down(client):
    await login(client, "ada")
    page = await (await client.get("/admin/faq/try?q=do+you+ship+abroad")).text()
    assert "not answering right now" in page


def test_account_rules(settings):
    db = session_factory(settings.database_url)
    with pytest.raises(AccountError, match="already exists"):
        create_user(db, "ADA", PASSWORD, Role.admin, "test")
    with pytest.raises(AccountError, match="at least 10"):
        create_user(db, "bob", "short", Role.agent, "test")
    with pytest.raises(AccountError, match="username"):
        create_user(db, "b", PASSWORD, Role.agent, "test")


def console_sessions(settings) -> int:
    with session_factory(settings.database_url)() as s:
        return len(s.scalars(select(ConsoleSession)).all())


async def test_anonymous_login_page_visits_store_no_session(client, settings):
    """Pen test: every anonymous GET /login stored a session row. The login form's CSRF token now lives
    in a cookie until the login succeeds."""
    for _ in range(5):
        resp = await client.get("/login")
        assert resp.status == 200 and "aisle_console" not in resp.headers.get("Set-Cookie", "")
    assert console_sessions(settings) == 0
    assert (await login(client, "ada")).status == 303
    assert console_sessions(settings) == 1


async def test_a_login_form_token_works_only_with_its_own_cookie(client, settings):
    token = token_in(await (await client.get("/login")).text())
    async with TestClient(TestServer(create_app(settings))) as stranger:  # no cookie: a forged form post
        resp = await stranger.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token},
                                   allow_redirects=False)
        assert resp.status == 403
        await stranger.get("/login")  # a cookie of its own does not make someone else's token valid
        resp = await stranger.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token},
                                   allow_redirects=False)
        assert resp.status == 403
    assert console_sessions(settings) == 0


@pytest.mark.parametrize("scheme, always_secure, secure", [("http", False, False), ("https", False, True),
                                                          ("http", True, True)])
def test_the_session_cookie_is_secure_over_https(settings, scheme, always_secure, secure):
    storage = SqlSessionStorage(session_factory(settings.database_url), secure=always_secure)
    request = make_mocked_request("POST", "/login").clone(scheme=scheme)
    response = web.Response()
    storage.save_request_cookie(request, response, "k" * 43, max_age=60)
    cookie = response.cookies["aisle_console"]
    assert bool(cookie["secure"]) is secure and cookie["httponly"] and cookie["samesite"] == "Strict"


def test_staff_display_names_from_the_command_line(tmp_path):
    """``create-user --display-name`` / ``set-display-name``: what shoppers see, never the login."""
    env = {**os.environ, "AISLE_DATA_DIR": str(tmp_path), "AISLE_ADMIN_PASSWORD": PASSWORD}
    subprocess.run([sys.executable, "-m", "aisle", "migrate"], cwd=REPO_ROOT, env=env, check=True, capture_output=True)

    def bot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True)

    def names() -> dict[str, str | None]:
        with session_factory(f"sqlite:///{tmp_path / 'aisle.db'}")() as s:
            return dict(s.execute(select(User.username, User.display_name)).all())

    refused = bot("create-user", "--username", "sam.k", "--display-name", " Sam.K ")
    assert refused.returncode != 0 and "must differ from the login name" in refused.stderr and names() == {}
    made = bot("create-user", "--username", "sam.k", "--role", "agent", "--display-name", "Sam")
    assert made.returncode == 0 and "shoppers see 'Sam'" in made.stdout
    assert bot("create-admin", "--username", "ada.l").returncode == 0
    assert names() == {"sam.k": "Sam", "ada.l": None}  # None: shoppers see DEFAULT_DISPLAY_NAME
    assert bot("set-display-name", "--username", "ada.l", "--display-name", "Ada").returncode == 0
    assert bot("set-display-name", "--username", "sam.k").returncode == 0  # back to the default
    assert names() == {"sam.k": None, "ada.l": "Ada"}
    assert "printable" in bot("set-display-name", "--username", "ada.l", "--display-name", "x" * 81).stderr


@pytest.fixture(scope="module")
def action_server(tmp_path_factory):
    """The real action server (Procfile command) over a scratch data dir with the demo knowledge base;
    the console's similar-entries check and "try a question" call it as in production."""
    if os.environ.get("AISLE_SKIP_E2E") == "1":
        pytest.skip("AISLE_SKIP_E2E=1")
    from tests.e2e_stack import Stack

    stack = Stack.create(tmp_path_factory.mktemp("kb-console"))
    stack.start("actions")
    try:
        stack.wait_healthy("actions", stack.settings.action_url.rsplit("/webhook", 1)[0] + "/health", 180)
        yield stack
    finally:
        stack.stop_all()


DEMO_GIFT_WRAP = "Can I send a gift with a message or gift wrap?"


@pytest.mark.e2e
async def test_a_new_entry_like_an_existing_one_shows_it_and_needs_confirming(action_server):
    """Finding: a second gift-wrapping entry ($5 next to the demo's $4.99) was saved without a word, and
    the bot then answered either price with high confidence."""
    from aisle.internal_auth import bearer_headers
    from tests.e2e_stack import ADMIN, STAFF_PASSWORD, http_json

    async with TestClient(TestServer(create_app(action_server.settings))) as client:
        await login(client, ADMIN, STAFF_PASSWORD)
        token = await csrf(client)
        before = len(entries(action_server.settings))
        duplicate = entry_form(token, question="Do you gift wrap orders?", alternatives="Can you wrap my present?",
                               answer="Yes, gift wrapping is $5 per item.", category="gift cards",
                               status="published", tags="gift wrap")
        resp = await client.post("/admin/faq/new", data=duplicate, allow_redirects=False)
        page = await resp.text()
        assert resp.status == 409 and "Not saved: a published entry is this close to it already" in page
        assert "gift wrapping is $4.99 per item" in page  # the existing answer, to compare with
        row = re.search(r'<a href="/admin/faq/(\d+)">' + re.escape(DEMO_GIFT_WRAP) + r'</a></td>\s*<td>([\d.]+)', page)
        assert row and float(row.group(2)) >= 0.55, page  # the bot's own score, with the bar it is held to
        assert 'value="save-anyway"' in page and len(entries(action_server.settings)) == before

        resp = await client.post("/admin/faq/new", data={**duplicate, "do": "save-anyway"}, allow_redirects=False)
        assert resp.status == 303 and len(entries(action_server.settings)) == before + 1
        entry_url = resp.headers["Location"].split("?")[0]
        shown = await (await client.get(entry_url)).text()  # the saved entry lists its neighbours too
        neighbours = re.search(r'id="similar-title".*?</section>', shown, re.S).group(0)
        assert DEMO_GIFT_WRAP in neighbours and f'href="{entry_url}"' not in neighbours, neighbours
        fixed = {**duplicate, "answer": "Yes, gift wrapping is $4.99 per item."}
        resp = await client.post(entry_url, data=fixed, allow_redirects=False)  # same phrasing: no new question
        assert resp.status == 303

        unrelated = entry_form(token, question="Do you plant a tree for every order?", answer="Yes, since 2024.",
                               category="store info")
        resp = await client.post("/admin/faq/new", data=unrelated, allow_redirects=False)
        assert resp.status == 303 and len(entries(action_server.settings)) == before + 2  # nothing close: saved

        # Both gift-wrapping entries are published: a question both fit equally gets "did you mean".
        fixed["answer"] = "Yes, gift wrapping is $5 per item."
        assert (await client.post(entry_url, data=fixed, allow_redirects=False)).status == 303
        tried = await (await client.get("/admin/faq/try?q=is+gift+wrapping+extra")).text()
        assert "The bot would ask &#34;did you mean…?&#34;" in tried and 'id="ambiguous"' in tried


    similar_url = action_server.settings.action_url.rsplit("/webhook", 1)[0] + "/faq/similar"
    assert http_json("POST", similar_url, {"texts": ["gift wrap"]})[0] == 401  # internal callers only
    auth = bearer_headers(action_server.secret)
    for bad in ({"texts": []}, {"texts": "gift wrap"}, {"texts": ["x" * 2001]}, {"texts": ["a"], "exclude_id": "7"}):
        status, body = http_json("POST", similar_url, bad, headers=auth)
        assert status == 400 and "error" in body, bad
