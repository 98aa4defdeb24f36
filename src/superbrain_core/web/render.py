"""Templates (Jinja2, autoescaped) and the small formatting filters they use.

Templates and static files ship inside the package (``web/templates``,
``web/static``), so an installed wheel serves the page with no build step.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from superbrain_core.search import SearchHit
from superbrain_core.web.security import csrf_for

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


@attrs.frozen
class Renderer:
    env: jinja2.Environment
    zone: ZoneInfo

    def page(
        self, request: web.Request, name: str, status: int = 200, **context: Any
    ) -> web.Response:
        template = self.env.get_template(name)
        body = template.render(csrf=csrf_for(request), path=request.path_qs, **context)
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def _local(zone: ZoneInfo) -> Any:
    def local(value: Any, fmt: str = "%d.%m.%Y %H:%M") -> str:
        if value is None or value == "":
            return ""
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if when.utcoffset() is None:
            return when.strftime(fmt)
        return when.astimezone(zone).strftime(fmt)

    return local


def size(value: int | None) -> str:
    if value is None:
        return "?"
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{value} B"  # pragma: no cover - the loop always returns


def highlighted(hit: SearchHit) -> Markup:
    """The snippet with matched words in ``<mark>``, everything else escaped."""
    out: list[str] = []
    last = 0
    for start, end in hit.highlights:
        out += [str(escape(hit.snippet[last:start])), "<mark>"]
        out += [str(escape(hit.snippet[start:end])), "</mark>"]
        last = end
    out.append(str(escape(hit.snippet[last:])))
    return Markup("".join(out))


def visible(value: Any) -> Any:
    """Every printed value with NUL shown as ``␀``: Telegram text may hold it, and
    HTML has no way to carry it (browsers drop or replace it), so the owner would
    not see that it is there."""
    if isinstance(value, str) and "\x00" in value:
        return type(value)(value.replace("\x00", "\u2400"))
    return value


def renderer(zone: ZoneInfo) -> Renderer:
    env = jinja2.Environment(
        finalize=visible,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = _local(zone)
    env.filters["size"] = size
    env.filters["highlighted"] = highlighted
    return Renderer(env, zone)
