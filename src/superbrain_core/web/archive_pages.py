"""The archive: chats, one chat as bubbles, its media/files/links, search, file bytes."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from superbrain_core.review import archive
from superbrain_core.search import MAX_LIMIT, SearchHit, SearchQueryError
from superbrain_core.web.context import FILES, RENDER, STORE
from superbrain_core.web.pages import int_param

#: Bubbles per chat page (the newest; ``?all=1`` shows everything).
CHAT_PAGE = 300
SEARCH_LIMIT = 100
_SECTIONS = ("media", "files", "links")


async def chats(request: web.Request) -> web.StreamResponse:
    found = await archive.list_chats(request.app[STORE])
    return request.app[RENDER].page(request, "chats.html", chats=found)


async def chat(request: web.Request) -> web.StreamResponse:
    chat_id = int_param(request, "chat_id")
    view = await archive.chat_view(request.app[STORE], chat_id)
    if view is None:
        raise web.HTTPNotFound(text="no such chat")
    everything = request.query.get("all") == "1"
    shown = view.bubbles if everything else view.bubbles[-CHAT_PAGE:]
    return request.app[RENDER].page(
        request,
        "chat.html",
        chat=view,
        bubbles=shown,
        hidden=len(view.bubbles) - len(shown),
    )


async def chat_section(request: web.Request) -> web.StreamResponse:
    chat_id = int_param(request, "chat_id")
    section = request.match_info["section"]
    if section not in _SECTIONS:
        raise web.HTTPNotFound(text="no such section")
    view = await archive.chat_view(request.app[STORE], chat_id)
    if view is None:
        raise web.HTTPNotFound(text="no such chat")
    return request.app[RENDER].page(
        request,
        "chat_section.html",
        chat=view,
        section=section,
        media=[(v, f) for v in view.views for f in v.media],
        files=[(v, f) for v in view.views for f in v.attachments],
        links=archive.links_of(view.views),
    )


def _day(text: str, zone: object, *, end: bool) -> datetime | None:
    if not text:
        return None
    day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=zone)  # type: ignore[arg-type]
    return day + timedelta(days=1) if end else day


async def search(request: web.Request) -> web.StreamResponse:
    render = request.app[RENDER]
    q = request.query.get("q", "").strip()
    chat_text = request.query.get("chat", "").strip()
    since_text = request.query.get("since", "").strip()
    until_text = request.query.get("until", "").strip()
    hits: list[SearchHit] = []
    error = None
    if q:
        try:
            chat_id = int(chat_text) if chat_text else None
            since = _day(since_text, render.zone, end=False)
            until = _day(until_text, render.zone, end=True)
            hits = await request.app[STORE].search(
                q, limit=min(SEARCH_LIMIT, MAX_LIMIT), chat_id=chat_id, since=since, until=until
            )
        except SearchQueryError as exc:
            error = str(exc)
        except ValueError:
            error = "Чат — число, даты — ГГГГ-ММ-ДД."
    chat_list = await archive.list_chats(request.app[STORE])
    return render.page(
        request,
        "search.html",
        q=q,
        chat=chat_text,
        since=since_text,
        until=until_text,
        hits=hits,
        error=error,
        chats=chat_list,
    )


async def file_bytes(request: web.Request) -> web.StreamResponse:
    """A stored file's bytes: pictures inline, everything else as a download."""
    raw = await request.app[STORE].get_file(int_param(request, "file_id"))
    if raw is None or not raw.file_hash:
        raise web.HTTPNotFound(text="these bytes were never stored")
    try:
        data = await request.app[FILES].read(raw.file_hash)
    except OSError as exc:  # the bucket refused or the disk failed: say so, keep serving
        raise web.HTTPBadGateway(text=f"the file store did not answer: {exc}") from None
    if data is None:
        raise web.HTTPNotFound(text="the bytes are not in this server's file store")
    kind = raw.mime_type or ("image/jpeg" if raw.file_type == "photo" else None)
    kind = kind or "application/octet-stream"
    inline = kind.startswith("image/") and request.query.get("download") != "1"
    name = (raw.file_name or f"{raw.file_type}-{raw.id}").replace('"', "")
    disposition = "inline" if inline else "attachment"
    return web.Response(
        body=data,
        content_type=kind,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{_quote(name)}",
            "Cache-Control": "private, max-age=3600",
        },
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def install(app: web.Application) -> None:
    app.router.add_get("/chats", chats)
    app.router.add_get("/chats/{chat_id}", chat)
    app.router.add_get("/chats/{chat_id}/{section}", chat_section)
    app.router.add_get("/search", search)
    app.router.add_get("/files/{file_id}", file_bytes)
