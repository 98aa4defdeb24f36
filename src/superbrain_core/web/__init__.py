"""The web page: review and correct what the night filed, and browse the archive.

A thin shell over :mod:`superbrain_core.review` (the logic) and the store:
aiohttp serves Jinja2 templates rendered on the server, with one small script of
our own for progressive enhancement and no build step. Nothing in the library
imports this package; ``superbrain web`` starts it. How to use it: ``docs/web.md``.
"""

from superbrain_core.web.app import DEFAULT_LISTEN, create_app, serve
from superbrain_core.web.security import Access

__all__ = ["DEFAULT_LISTEN", "Access", "create_app", "serve"]
