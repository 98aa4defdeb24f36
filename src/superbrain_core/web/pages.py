"""The review (home) page, one item's page, the tables, and the owner's corrections.

Handlers parse the request, call :mod:`superbrain_core.review` and render; a
correction is a POST that redirects back (303) so a reload never repeats it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from superbrain_core.analyzer.explain import explain_message
from superbrain_core.errors import StorageError
from superbrain_core.records import NONE, TABLE_COLUMNS, TABLES, TASK_STATUSES
from superbrain_core.review import EDITABLE, CorrectionError, edit_item, move_item, review_last
from superbrain_core.review import items as tables
from superbrain_core.web.context import RENDER, STORE
from superbrain_core.web.security import see_other

#: Tables an item can be moved to, as the page names them.
TABLE_NAMES = {
    "events": "События",
    "tasks": "Задачи",
    "notes": "Заметки",
    "files": "Файлы",
    "people": "Люди",
    "links": "Ссылки",
    "expenses": "Расходы",
    NONE: "Никуда",
}
MAX_RUNS = 30


def int_param(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound(text=f"{name} must be a number") from None


def _next(form: Any, default: str = "/") -> str:
    target = form.get("next")
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//"):
        return target
    return default


def _problem(request: web.Request, message: str, status: int = 400) -> web.Response:
    return request.app[RENDER].page(
        request, "problem.html", status=status, message=message, names=TABLE_NAMES
    )


async def home(request: web.Request) -> web.StreamResponse:
    try:
        runs = max(1, min(MAX_RUNS, int(request.query.get("runs", "2"))))
    except ValueError:
        runs = 2
    review = await review_last(request.app[STORE], runs)
    return request.app[RENDER].page(
        request,
        "home.html",
        review=review,
        runs=runs,
        names=TABLE_NAMES,
        targets=[*TABLES, NONE],
    )


async def item(request: web.Request) -> web.StreamResponse:
    chat_id, message_id = int_param(request, "chat_id"), int_param(request, "message_id")
    found = await explain_message(request.app[STORE], chat_id, message_id)
    if found is None:
        return _problem(request, f"Сообщение {chat_id}:{message_id} не сохранено.", 404)
    table = found.current.destination if found.current else NONE
    return request.app[RENDER].page(
        request,
        "item.html",
        e=found,
        table=table,
        # A secret's row holds the classifier's masked text; the raw text stays hidden.
        sensitive=bool(found.current and found.current.classification.get("sensitive")),
        editable=EDITABLE.get(table, {}),
        names=TABLE_NAMES,
        targets=[*TABLES, NONE],
    )


async def move(request: web.Request) -> web.StreamResponse:
    chat_id, message_id = int_param(request, "chat_id"), int_param(request, "message_id")
    form = await request.post()
    table = str(form.get("table", ""))
    try:
        await move_item(request.app[STORE], chat_id, message_id, table)
    except CorrectionError as exc:
        return _problem(request, str(exc))
    return see_other(_next(form))


async def edit(request: web.Request) -> web.StreamResponse:
    chat_id, message_id = int_param(request, "chat_id"), int_param(request, "message_id")
    form = await request.post()
    fields = {k[2:]: str(v) for k, v in form.items() if k.startswith("f_")}
    try:
        await edit_item(
            request.app[STORE], chat_id, message_id, fields, zone=request.app[RENDER].zone
        )
    except CorrectionError as exc:
        return _problem(request, str(exc))
    return see_other(_next(form, f"/items/{chat_id}/{message_id}"))


async def task_status(request: web.Request) -> web.StreamResponse:
    record_id = int_param(request, "record_id")
    form = await request.post()
    status = str(form.get("status", ""))
    if status not in TASK_STATUSES:
        return _problem(request, f"Статус задачи — {' или '.join(TASK_STATUSES)}.")
    try:
        found = await request.app[STORE].set_task_status(record_id, status)
    except StorageError as exc:
        return _problem(request, str(exc), 501)
    if not found:
        return _problem(request, f"Задачи {record_id} нет.", 404)
    return see_other(_next(form, "/tables/tasks"))


async def table(request: web.Request) -> web.StreamResponse:
    name = request.match_info["table"]
    if name not in TABLE_COLUMNS:
        raise web.HTTPNotFound(text="no such table")
    store, render = request.app[STORE], request.app[RENDER]
    rows = await tables.all_records(store, name)
    context: dict[str, Any] = {"table": name, "rows": rows, "names": TABLE_NAMES}
    if name == "events":
        context["agenda"] = tables.agenda(rows, render.zone)
    if name == "expenses":
        totals = tables.monthly_totals(rows, render.zone)
        currency = tables.main_currency(totals)
        context["totals"] = totals
        context["currency"] = currency
        context["bars"] = tables.chart_bars(totals, currency) if currency else []
    if name == "files":
        files = {}
        for row in rows:
            if row.get("raw_file_id"):
                files[row["raw_file_id"]] = await store.get_file(int(row["raw_file_id"]))
        context["files"] = files
    return render.page(request, f"table_{name}.html", **context)


def install(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/items/{chat_id}/{message_id}", item)
    app.router.add_post("/items/{chat_id}/{message_id}/move", move)
    app.router.add_post("/items/{chat_id}/{message_id}/edit", edit)
    app.router.add_post("/tasks/{record_id}/status", task_status)
    app.router.add_get("/tables/{table}", table)
