"""Knowledge-base admin pages (/admin/faq...): list, edit with preview, publish, versions, import/export,
"try a question", feedback insights, and the audit log. Admins change; agents may only look.

Writing an entry shows the published entries closest to it, scored by the action server's retriever
(the bot's own scores); when one reaches the duplicate bar, or the check cannot run, saving needs a
second "Save anyway" so two entries with different answers to one question are never an accident."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import select

from aisle.models import AuditEvent, FaqStatus, Role
from bot.agent.masking import mask
from bot.appkeys import INTERNAL_SECRET, SESSION, SETTINGS
from bot.console.markdown import render as render_markdown
from bot.console.security import DB, render, requires, username
from bot.knowledge_client import KnowledgeClient, KnowledgeUnavailable
from knowledge.kb import KnowledgeBase, NotFound
from knowledge.records import FIELDS, EntryData, ImportRejected, entry_from_mapping, parse

MAX_IMPORT_BYTES = 2 * 1024 * 1024
STAFF = (Role.admin, Role.agent)


def kb(request: web.Request) -> KnowledgeBase:
    return KnowledgeBase(request.app[DB])


def entry_id(request: web.Request) -> int:
    try:
        return int(request.match_info["entry_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


@dataclass
class SimilarCheck:
    matches: list[dict[str, Any]] = field(default_factory=list)  # entry_id, question, answer, score
    threshold: float = 1.0
    error: str = ""

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.error) or any(m["score"] >= self.threshold for m in self.matches)


async def similar_entries(request: web.Request, values: dict[str, Any], exclude_id: int | None = None) -> SimilarCheck:
    texts = [t.strip() for t in [values.get("question", ""), *values.get("alternatives", [])] if t.strip()]
    if not texts:
        return SimilarCheck()
    client = KnowledgeClient(request.app[SETTINGS].action_url, request.app[SESSION], request.app[INTERNAL_SECRET])
    try:
        found = await client.similar(texts, exclude_id)
    except KnowledgeUnavailable as exc:
        return SimilarCheck(error=f"the assistant's action server is not answering right now: {exc}")
    return SimilarCheck(found["matches"], float(found["threshold"]))


def confirmed(form: Any) -> bool:
    return form.get("do") == "save-anyway"


def form_values(form: Any) -> dict[str, Any]:
    """The edit form's fields in the import schema (one alternative per line, comma-separated tags)."""
    return {
        "question": str(form.get("question", "")), "answer": str(form.get("answer", "")),
        "category": str(form.get("category", "")), "status": str(form.get("status", "draft")),
        "alternatives": [line for line in str(form.get("alternatives", "")).splitlines() if line.strip()],
        "tags": [t for t in str(form.get("tags", "")).split(",") if t.strip()],
    }


@requires(*STAFF)
async def list_entries(request: web.Request) -> web.Response:
    q, category, status = (request.query.get(k, "").strip()[:200] for k in ("q", "category", "status"))
    return await render(request, "console/faq_list.html", {
        "entries": kb(request).entries(q, category, status), "categories": kb(request).categories(),
        "statuses": [s.value for s in FaqStatus], "q": q, "category": category, "status": status,
    })


async def edit_page(request: web.Request, values: dict[str, Any], entry: Any = None, error: str = "",
                    preview: bool = False, status: int = 200, similar: SimilarCheck | None = None,
                    confirm: bool = False) -> web.Response:
    return await render(request, "console/faq_edit.html", {
        "entry": entry, "values": values, "error": error, "categories": kb(request).categories(),
        "similar": similar, "confirm": confirm,
        "statuses": [s.value for s in FaqStatus],
        "preview": render_markdown(values.get("answer", "")) if preview or values.get("answer") else None,
        "versions": kb(request).versions(entry.id) if entry is not None else [],
    }, status=status)


@requires(Role.admin)
async def new_entry(request: web.Request) -> web.Response:
    return await edit_page(request, {"status": "draft", "alternatives": [], "tags": []})


@requires(Role.admin)
async def create_entry(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = form_values(form)
    if form.get("do") == "preview":
        return await edit_page(request, values, preview=True, similar=await similar_entries(request, values))
    try:
        _, data = entry_from_mapping(values)
    except ValueError as exc:
        return await edit_page(request, values, error=str(exc), status=400)
    if not confirmed(form):
        check = await similar_entries(request, values)
        if check.needs_confirmation:
            return await edit_page(request, values, similar=check, confirm=True, status=409)
    entry = kb(request).create(data, await username(request), str(form.get("summary", "")))
    raise web.HTTPSeeOther(f"/admin/faq/{entry.id}?saved=1")


@requires(Role.admin)
async def show_entry(request: web.Request) -> web.Response:
    try:
        entry = kb(request).get(entry_id(request))
    except NotFound:
        raise web.HTTPNotFound(text="No such entry.") from None
    values = {"question": entry.question, "answer": entry.answer, "category": entry.category,
              "status": entry.status.value, "alternatives": entry.alternatives, "tags": entry.tags}
    return await edit_page(request, values, entry, similar=await similar_entries(request, values, entry.id))


def rephrased(entry: Any, data: EntryData) -> bool:
    """Only a new question or alternatives can make an entry newly overlap another; an entry the admin
    already confirmed once is not questioned again on every answer fix."""
    return (data.question, data.alternatives) != (entry.question, list(entry.alternatives))


@requires(Role.admin)
async def update_entry(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = form_values(form)
    try:
        entry = kb(request).get(entry_id(request))
    except NotFound:
        raise web.HTTPNotFound(text="No such entry.") from None
    if form.get("do") == "preview":
        return await edit_page(request, values, entry, preview=True,
                               similar=await similar_entries(request, values, entry.id))
    try:
        _, data = entry_from_mapping(values)
    except ValueError as exc:
        return await edit_page(request, values, entry, error=str(exc), status=400)
    if not confirmed(form) and rephrased(entry, data):
        check = await similar_entries(request, values, entry.id)
        if check.needs_confirmation:
            return await edit_page(request, values, entry, similar=check, confirm=True, status=409)
    kb(request).update(entry.id, data, await username(request), str(form.get("summary", "")))
    raise web.HTTPSeeOther(f"/admin/faq/{entry.id}?saved=1")


@requires(Role.admin)
async def change_status(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    wanted = str(form.get("status", ""))
    if wanted not in FaqStatus.__members__:
        raise web.HTTPBadRequest(text="status must be draft, published or archived")
    try:
        kb(request).set_status(entry_id(request), FaqStatus(wanted), await username(request))
    except NotFound:
        raise web.HTTPNotFound(text="No such entry.") from None
    raise web.HTTPSeeOther(f"/admin/faq/{entry_id(request)}?saved=1")


@requires(Role.admin)
async def restore_version(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        kb(request).restore(entry_id(request), int(str(form.get("version", ""))), await username(request))
    except (NotFound, ValueError):
        raise web.HTTPNotFound(text="No such entry or version.") from None
    raise web.HTTPSeeOther(f"/admin/faq/{entry_id(request)}?saved=1")


@requires(Role.admin)
async def diff_versions(request: web.Request) -> web.Response:
    try:
        old, new = int(request.query.get("from", "")), int(request.query.get("to", ""))
        entry = kb(request).get(entry_id(request))
        changes = kb(request).diff(entry.id, old, new)
    except (NotFound, ValueError):
        raise web.HTTPNotFound(text="No such entry or version.") from None
    return await render(request, "console/faq_diff.html", {"entry": entry, "old": old, "new": new,
                                                           "changes": changes})


@requires(Role.admin)
async def export_entries(request: web.Request) -> web.Response:
    fmt = request.query.get("format", "yaml")
    if fmt not in ("csv", "yaml"):
        raise web.HTTPBadRequest(text="format must be csv or yaml")
    return web.Response(text=kb(request).export(fmt), content_type="text/csv" if fmt == "csv" else "application/yaml",
                        headers={"Content-Disposition": f'attachment; filename="knowledge-base.{fmt}"'})


@requires(Role.admin)
async def import_page(request: web.Request) -> web.Response:
    return await render(request, "console/faq_import.html", {"fields": FIELDS})


@requires(Role.admin)
async def import_entries(request: web.Request) -> web.Response:
    form = await request.post()
    upload = form.get("file")
    context: dict[str, Any] = {"fields": FIELDS}
    if not isinstance(upload, web.FileField):
        context["problems"] = ["Choose a CSV or YAML file to import."]
        return await render(request, "console/faq_import.html", context, status=400)
    name = upload.filename or "upload"
    fmt = str(form.get("format") or ("csv" if name.lower().endswith(".csv") else "yaml"))
    raw = upload.file.read(MAX_IMPORT_BYTES + 1)
    try:
        if len(raw) > MAX_IMPORT_BYTES:
            raise ValueError(f"the file is larger than {MAX_IMPORT_BYTES // 1024} KB")
        counts = kb(request).import_rows(parse(raw.decode("utf-8-sig"), fmt), await username(request), name)
    except ImportRejected as exc:
        context["problems"] = [str(p) for p in exc.problems]
        return await render(request, "console/faq_import.html", {**context, "filename": name}, status=400)
    except (ValueError, UnicodeDecodeError) as exc:
        context["problems"] = [f"{name}: {exc}"]
        return await render(request, "console/faq_import.html", context, status=400)
    return await render(request, "console/faq_import.html", {**context, "filename": name, "counts": counts})


@requires(*STAFF)
async def try_question(request: web.Request) -> web.Response:
    question = request.query.get("q", "").strip()[:2000]
    result, error = None, ""
    if question:
        client = KnowledgeClient(request.app[SETTINGS].action_url, request.app[SESSION], request.app[INTERNAL_SECRET])
        try:
            result = await client.answer(question)
            for match in result["matches"]:
                match["html"] = render_markdown(match["answer"])
        except KnowledgeUnavailable as exc:
            error = f"The assistant's action server is not answering right now: {exc}"
    return await render(request, "console/faq_try.html", {"q": question, "result": result, "error": error})


@requires(*STAFF)
async def insights(request: web.Request) -> web.Response:
    misses = [{"created_at": m.created_at, "question": mask(m.question), "best_entry_id": m.best_entry_id,
               "confidence": m.confidence} for m in kb(request).misses()]
    return await render(request, "console/faq_insights.html", {
        "feedback": kb(request).feedback_report(), "misses": misses})


@requires(Role.admin)
async def preview(request: web.Request) -> web.Response:
    """The live preview of the answer being edited (console.js posts the textarea here)."""
    form = await request.post()
    return web.Response(text=str(render_markdown(str(form.get("answer", ""))[:20_000])), content_type="text/html")


@requires(Role.admin)
async def audit_log(request: web.Request) -> web.Response:
    with request.app[DB]() as s:
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(300)))
    return await render(request, "console/audit.html", {"events": events})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/admin/faq", list_entries)
    r.add_get("/admin/faq/new", new_entry)
    r.add_post("/admin/faq/new", create_entry)
    r.add_get("/admin/faq/export", export_entries)
    r.add_get("/admin/faq/import", import_page)
    r.add_post("/admin/faq/import", import_entries)
    r.add_get("/admin/faq/try", try_question)
    r.add_get("/admin/faq/insights", insights)
    r.add_post("/admin/faq/preview", preview)
    r.add_get("/admin/faq/{entry_id}", show_entry)
    r.add_post("/admin/faq/{entry_id}", update_entry)
    r.add_post("/admin/faq/{entry_id}/status", change_status)
    r.add_post("/admin/faq/{entry_id}/restore", restore_version)
    r.add_get("/admin/faq/{entry_id}/diff", diff_versions)
    r.add_get("/admin/audit", audit_log)
