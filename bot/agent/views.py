"""Agent console pages (/agent...): conversation list and transcript review, corrections, the live
queue and takeover (with a WebSocket to the conversation), analytics. Agents and admins only."""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from aiohttp import WSMsgType, web
from yarl import URL

from aisle import audit
from aisle.config import REPO_ROOT
from aisle.models import ConversationMode, Role
from bot.agent import analytics, customer, inbox
from bot.agent.canned import CannedReplies
from bot.agent.masking import mask, mask_message
from bot.agent.retrain import NluRetraining, RetrainError
from bot.agent.review import Review, ReviewError, parse_entities
from bot.agent.transcripts_query import PAGE_SIZE, Filters, rows, to_csv
from bot.appkeys import HANDOFFS, SETTINGS
from bot.console.security import DB, current_user, render, requires, username
from bot.handoff import MAX_AGENT_MESSAGE, HandoffError, Handoffs
from bot.hub import QUEUE_TOPIC
from bot.websocket import MAX_FRAME_BYTES, forward, not_from, own_origin, send_json, typing_event

log = logging.getLogger(__name__)
STAFF = (Role.admin, Role.agent)
ANALYTICS_DAYS = 30
RETRAINING: web.AppKey[NluRetraining] = web.AppKey("nlu_retraining", NluRetraining)


@lru_cache(maxsize=1)
def known_intents() -> list[str]:
    """The dialogue's intents, for the correction form."""
    return sorted(yaml.safe_load((REPO_ROOT / "domain.yml").read_text())["intents"])


def review(request: web.Request) -> Review:
    return Review(request.app[DB])


def cid(request: web.Request) -> str:
    return request.match_info["conversation_id"]


async def may_reveal(request: web.Request) -> bool:
    """Admins may see unmasked personal data, and each time they do it is audited."""
    user = await current_user(request)
    if request.query.get("reveal") != "1" or user is None or user.role is not Role.admin:
        return False
    with request.app[DB]() as s:
        audit.record(s, user.username, "transcript.reveal", request.match_info.get("conversation_id", ""))
        s.commit()
    return True


@requires(*STAFF)
async def conversation_list(request: web.Request) -> web.Response:
    filters = Filters.from_query(request.query)
    with request.app[DB]() as s:
        page, total = rows(s, filters)
    for row in page:
        row.first_message = mask(row.first_message)
    return await render(request, "agent/list.html", {
        "rows": page, "total": total, "filters": filters, "intents": known_intents(),
        "pages": max(1, -(-total // PAGE_SIZE)),
    })


@requires(*STAFF)
async def conversation_csv(request: web.Request) -> web.Response:
    filters = Filters.from_query(request.query)
    with request.app[DB]() as s:
        matching, _ = rows(s, filters, limit=None)
    return web.Response(text=to_csv(matching, mask), content_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="conversations.csv"'})


@requires(*STAFF)
async def transcript(request: web.Request) -> web.Response:
    handoffs = request.app[HANDOFFS]
    conversation = handoffs.transcripts.get(cid(request))
    if conversation is None:
        raise web.HTTPNotFound(text="No such conversation.")
    reveal = await may_reveal(request)
    messages = handoffs.transcripts.history(conversation.id, limit=2000, details=True)
    corrections = {c.message_id: c for c in review(request).corrections(conversation.id)}
    return await render(request, "agent/transcript.html", {
        "conversation": conversation, "reveal": reveal,
        "messages": messages if reveal else [mask_message(m) for m in messages],
        "tags": review(request).tags(conversation.id), "notes": review(request).notes(conversation.id),
        "corrections": corrections, "intents": known_intents(), "error": request.query.get("error", ""),
    })


def back_to(conversation_id: str, error: str = "", anchor: str = "") -> web.HTTPSeeOther:
    url = URL(f"/agent/conversations/{conversation_id}")
    if error:
        url = url.with_query(error=error)
    return web.HTTPSeeOther(str(url) + (f"#{anchor}" if anchor else ""))


@requires(*STAFF)
async def update_tags(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        if form.get("remove"):
            review(request).remove_tag(cid(request), str(form["remove"]), await username(request))
        else:
            review(request).add_tag(cid(request), str(form.get("tag", "")), await username(request))
    except ReviewError as exc:
        raise back_to(cid(request), str(exc)) from None
    raise back_to(cid(request))


@requires(*STAFF)
async def add_note(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        review(request).add_note(cid(request), str(form.get("note", "")), await username(request))
    except ReviewError as exc:
        raise back_to(cid(request), str(exc)) from None
    raise back_to(cid(request), anchor="notes")


@requires(*STAFF)
async def set_reviewed(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        review(request).set_reviewed(cid(request), form.get("reviewed") == "yes", await username(request))
    except ReviewError as exc:
        raise back_to(cid(request), str(exc)) from None
    raise back_to(cid(request))


@requires(*STAFF)
async def correct_message(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    conversation_id = str(form.get("conversation_id", ""))
    try:
        message_id = int(request.match_info["message_id"])
        review(request).correct(message_id, str(form.get("intent", "")), parse_entities(str(form.get("entities", ""))),
                                await username(request), set(known_intents()))
    except ValueError as exc:  # ReviewError included
        raise back_to(conversation_id, str(exc)) from None
    raise back_to(conversation_id, anchor=f"m{message_id}")


@requires(*STAFF)
async def corrections_yaml(request: web.Request) -> web.Response:
    corrections = review(request).corrections(request.query.get("conversation") or None)
    return web.Response(text=Review.as_nlu_yaml(corrections), content_type="application/yaml",
                        headers={"Content-Disposition": 'attachment; filename="nlu-corrections.yml"'})


@requires(Role.admin)
async def nlu_page(request: web.Request) -> web.Response:
    return await render(request, "agent/nlu.html", {
        "pending": len(review(request).corrections(unmerged_only=True)), "job": request.app[RETRAINING].status(),
        "message": request.query.get("message", ""), "error": request.query.get("error", "")})


def to_nlu_page(message: str = "", error: str = "") -> web.HTTPSeeOther:
    query = {k: v for k, v in (("message", message), ("error", error)) if v}
    return web.HTTPSeeOther(str(URL("/admin/nlu").with_query(query)))


@requires(Role.admin)
async def merge_corrections(request: web.Request) -> web.StreamResponse:
    count = review(request).merge_into_training_data(await username(request))
    raise to_nlu_page(f"{count} correction(s) added to data/nlu/corrections.yml." if count
                      else "No new corrections to merge.")


async def audited(request: web.Request, action: str) -> None:
    with request.app[DB]() as s:
        audit.record(s, await username(request), action, "nlu")
        s.commit()


@requires(Role.admin)
async def retrain(request: web.Request) -> web.StreamResponse:
    try:
        await request.app[RETRAINING].start()
    except RetrainError as exc:
        raise to_nlu_page(error=str(exc)) from None
    await audited(request, "nlu.retrain")
    raise to_nlu_page("Training a candidate model: this takes a minute or two.")


@requires(Role.admin)
async def promote(request: web.Request) -> web.StreamResponse:
    try:
        request.app[RETRAINING].promote()
    except (RetrainError, OSError) as exc:
        raise to_nlu_page(error=str(exc)) from None
    await audited(request, "nlu.promote")
    raise to_nlu_page("The candidate model is live: the NLU server loads it within seconds.")


# ---- live queue and takeover --------------------------------------------------------------------
def canned(request: web.Request) -> CannedReplies:
    return CannedReplies(request.app[DB])


@requires(*STAFF)
async def queue_page(request: web.Request) -> web.Response:
    """The inbox with no conversation open: the list, and a hint to pick one."""
    return await render(request, "agent/inbox.html", {"rows": inbox.rows(request.app[HANDOFFS]),
                                                      "conversation": None, "error": request.query.get("error", "")})


@requires(*STAFF)
async def queue_rows(request: web.Request) -> web.Response:
    """The list's rows alone: the inbox reloads them when the queue changes, and every few seconds."""
    return await render(request, "agent/inbox_rows.html", {"rows": inbox.rows(request.app[HANDOFFS]),
                                                           "current": request.query.get("current", "")})


@requires(*STAFF)
async def queue_json(request: web.Request) -> web.Response:
    handoffs = request.app[HANDOFFS]
    return web.json_response({"queue": handoffs.queue(), "inbox": inbox.rows(handoffs)})


@requires(*STAFF)
async def take(request: web.Request) -> web.StreamResponse:
    if request.app[HANDOFFS].take(cid(request), await username(request)):
        raise web.HTTPSeeOther(f"/agent/live/{cid(request)}")
    raise web.HTTPSeeOther("/agent/queue?error=" + "Someone else already took that conversation, or it is "
                           "no longer waiting.".replace(" ", "+"))


def customer_panel(request: web.Request, conversation_id: str) -> customer.CustomerPanel:
    return customer.panel(request.app[DB], conversation_id, request.app[SETTINGS].order_verification_idle_s)


@requires(*STAFF)
async def live_page(request: web.Request) -> web.Response:
    """The inbox with one conversation open: list, conversation and reply box, customer panel."""
    handoffs = request.app[HANDOFFS]
    conversation = handoffs.transcripts.get(cid(request))
    if conversation is None:
        raise web.HTTPNotFound(text="No such conversation.")
    history = [mask_message(m) for m in handoffs.transcripts.history(conversation.id)]
    return await render(request, "agent/inbox.html", {
        "rows": inbox.rows(handoffs), "conversation": conversation, "messages": history,
        "mine": conversation.agent == await username(request), "customer": customer_panel(request, conversation.id),
        "canned": [{"shortcut": c.shortcut, "text": c.text} for c in canned(request).all()],
        "error": request.query.get("error", "")})


@requires(*STAFF)
async def live_customer(request: web.Request) -> web.Response:
    """The customer panel alone: the inbox reloads it when the conversation moves on."""
    if request.app[HANDOFFS].transcripts.get(cid(request)) is None:
        raise web.HTTPNotFound(text="No such conversation.")
    return await render(request, "agent/customer.html", {"customer": customer_panel(request, cid(request))})


@requires(*STAFF)
async def live_send(request: web.Request) -> web.StreamResponse:
    """Sending without JavaScript (the live page's WebSocket does the same)."""
    form = await request.post()
    text = str(form.get("text", "")).strip()
    if text:
        try:
            request.app[HANDOFFS].agent_message(cid(request), await username(request), text[:MAX_AGENT_MESSAGE])
        except HandoffError as exc:
            raise web.HTTPConflict(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/agent/live/{cid(request)}")


@requires(*STAFF)
async def hand_back(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        request.app[HANDOFFS].hand_back(cid(request), await username(request), close=form.get("close") == "1")
    except HandoffError as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/agent/conversations/{cid(request)}")


def same_origin(request: web.Request) -> bool:
    """A WebSocket carries the session cookie from any page: only our own pages may open one."""
    origin = request.headers.get("Origin")
    return origin is not None and own_origin(request, origin)


@requires(*STAFF)
async def agent_socket(request: web.Request) -> web.WebSocketResponse:
    """Live events of one conversation (or of the queue), and the agent's messages into it."""
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site WebSocket refused")
    handoffs = request.app[HANDOFFS]
    topic = request.match_info["topic"]
    agent = await username(request)
    if topic != "queue" and handoffs.transcripts.get(topic) is None:
        raise web.HTTPNotFound(text="No such conversation.")
    ws = web.WebSocketResponse(heartbeat=25, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)

    own_typing = not_from("agent")

    def masked(event: dict[str, Any]) -> dict[str, Any] | None:
        return {**event, "message": mask_message(event["message"])} if event.get("type") == "message" \
            else own_typing(event)

    forwarder = asyncio.create_task(forward(ws, handoffs.transcripts.hub,
                                            QUEUE_TOPIC if topic == "queue" else topic, masked))
    shown_name = handoffs.shown_name(agent)
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT or topic == "queue":
                continue
            try:
                frame = json.loads(msg.data)
                if not isinstance(frame, dict):
                    raise ValueError("a frame is a JSON object")
                if frame.get("type") == "typing":
                    agent_typing(handoffs, topic, agent, shown_name, frame.get("on"))
                    continue
                text = str(frame.get("text", "")).strip()
                if text:
                    handoffs.agent_message(topic, agent, text[:MAX_AGENT_MESSAGE])
            except (ValueError, HandoffError) as exc:
                await send_json(ws, {"type": "error", "message": str(exc) or "bad frame"})
    finally:
        forwarder.cancel()
    return ws


def agent_typing(handoffs: Handoffs, conversation_id: str, agent: str, shown_name: str, on: Any) -> None:
    """The shopper sees "<display name> is typing" only from the agent who has the conversation."""
    conversation = handoffs.transcripts.get(conversation_id)
    if conversation is None or conversation.mode is not ConversationMode.agent or conversation.agent != agent:
        raise HandoffError("only the agent who took this conversation can write in it")
    handoffs.transcripts.hub.publish(conversation_id, typing_event("agent", on, agent=shown_name))


@requires(*STAFF)
async def analytics_page(request: web.Request) -> web.Response:
    today = date.today()
    try:
        end = date.fromisoformat(request.query.get("to", "")) if request.query.get("to") else today
        start = (date.fromisoformat(request.query["from"]) if request.query.get("from")
                 else end - timedelta(days=ANALYTICS_DAYS - 1))
    except ValueError:
        start, end = today - timedelta(days=ANALYTICS_DAYS - 1), today
    end = min(end, today)  # nothing happened in the future (and 9999-12-31 + 1 day overflows)
    if start > end or (end - start).days > 366:
        start = end - timedelta(days=ANALYTICS_DAYS - 1)
    with request.app[DB]() as s:
        data: dict[str, Any] = analytics.report(s, start, end)
    return await render(request, "agent/analytics.html", {"data": data})


async def agent_home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/agent/conversations")


def add_routes(app: web.Application, data_dir: Path) -> None:
    app[RETRAINING] = NluRetraining(data_dir)
    r = app.router
    r.add_get("/agent", agent_home)
    r.add_get("/agent/conversations", conversation_list)
    r.add_get("/agent/conversations.csv", conversation_csv)
    r.add_get("/agent/conversations/{conversation_id}", transcript)
    r.add_post("/agent/conversations/{conversation_id}/tags", update_tags)
    r.add_post("/agent/conversations/{conversation_id}/notes", add_note)
    r.add_post("/agent/conversations/{conversation_id}/reviewed", set_reviewed)
    r.add_post("/agent/messages/{message_id}/correction", correct_message)
    r.add_get("/agent/corrections.yml", corrections_yaml)
    r.add_get("/admin/nlu", nlu_page)
    r.add_post("/admin/nlu/merge", merge_corrections)
    r.add_post("/admin/nlu/retrain", retrain)
    r.add_post("/admin/nlu/promote", promote)
    r.add_get("/agent/queue", queue_page)
    r.add_get("/agent/queue.json", queue_json)
    r.add_get("/agent/queue/rows", queue_rows)
    r.add_post("/agent/queue/{conversation_id}/take", take)
    r.add_get("/agent/live/{conversation_id}", live_page)
    r.add_get("/agent/live/{conversation_id}/customer", live_customer)
    r.add_post("/agent/live/{conversation_id}/send", live_send)
    r.add_post("/agent/live/{conversation_id}/handback", hand_back)
    r.add_get("/agent/ws/{topic}", agent_socket)
    r.add_get("/agent/analytics", analytics_page)
