"""The Supabase store: the Postgres schema and its SQL functions, reached over PostgREST.

A Supabase project exposes its Postgres through PostgREST (``/rest/v1``). This
store calls the very SQL functions the Postgres store calls (``sql/0002``,
``sql/0003``) through ``rpc``, with the same jsonb arguments built by the same
code (:mod:`pgcodec`, :mod:`postgres_work`), so a capture or a placement means
exactly the same on both; reads are table selects. Only HTTPS and the service
key are needed, which is all a serverless or locked-down deploy may have. The
schema itself is applied with ``superbrain db migrate`` against the project's
Postgres DSN; opening refuses a project that is behind.

**Client.** postgrest-py's ``AsyncPostgrestClient`` (shipped with supabase-py),
not supabase-py's ``AsyncClient``: the latter also builds auth, realtime and
storage clients (starting asyncio tasks and looking for a user session this
server never has) and always sends ``Authorization: Bearer <key>``, which the
gateway rejects for ``sb_secret_…`` keys. With the PostgREST client the headers
are exactly :func:`supabase_http.auth_headers` (``apikey``, plus the bearer
token for legacy JWT keys only) next to PostgREST's own ``Accept-Profile``,
``Content-Profile`` and ``X-Client-Info``, and the HTTP session is our own
``httpx.AsyncClient`` with explicit connect and read timeouts.

Requests are built by postgrest-py's builders (``select``, filters, ``order``,
``limit``, ``rpc``) and sent through their ``RequestConfig.send`` by one loop
here, not by ``execute()``: ``execute`` retries only GET/HEAD on 503/520 with
fixed sleeps of up to 30 s, and its ``APIError`` drops the HTTP status, so a
rejected key (401) could not be told from a bad request (400) or an outage (503).

**Retries.** Every write is idempotent (capture dedupes on the update id, bot
responses on their idempotency key, placements compare input versions), so a
request is retried, up to ``max_attempts`` in all with exponential back-off and
jitter (honouring ``Retry-After`` up to the back-off cap), when it may not have
run or may succeed next time: connect errors, timeouts, dropped connections
(``RemoteProtocolError``/``ReadError``), HTTP 408, 429 and 5xx, and then raises
:class:`TransientStorageError`. One refinement: a 5xx whose body is PostgREST's
error with a SQLSTATE that is a verdict rather than a hiccup (a function's own
``RAISE``, such as ``no_data_found`` for an unknown file row) is a
:class:`StorageError` at once; SQLSTATE classes 08, 40, 53, 57, 58, ``55P03``
and PostgREST's connection errors ``PGRST000``-``PGRST003`` stay transient,
which is what the Postgres store retries too. 401/403 are a
:class:`StorageError` that says to check ``SUPABASE_SERVICE_KEY``; other 4xx
carry PostgREST's code, message and hint. Messages are redacted and never
contain the key.

**Paging.** PostgREST caps every response at the project's *Max Rows* (1,000 by
default) without saying so. Reads therefore page by key (``id=gt.<last>``,
``order=id.asc``, ``limit=<page>``) until a page comes back short: unlike
offsets, a key cursor neither skips nor repeats rows when rows are inserted or
moved (the analyzer deletes from one structured table and inserts into another)
between pages. ``page_size`` must not exceed Max Rows. The cap applies to
set-returning functions as well, *after* they ran: claiming 5,000 rows in one
call would lease them all and return 1,000, so claims and peeks are made in
chunks of at most ``page_size``. Counts use ``HEAD`` with ``Prefer:
count=exact``; the per-type and per-status counts of :meth:`stats` walk the
distinct values with ``gt`` (one small request each) and count each exactly,
since PostgREST has no ``GROUP BY`` unless aggregates are enabled.

What PostgREST cannot do is run several calls in one transaction: each function
call is atomic on its own, and :meth:`write_batch` is the base class's (one call
per run of updates or of bot responses), not one transaction for a whole mixed
batch as on Postgres.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx
from postgrest import (
    DEFAULT_POSTGREST_CLIENT_HEADERS,
    AsyncPostgrestClient,
    AsyncSelectRequestBuilder,
    CountMethod,
)
from postgrest.base_request_builder import RequestConfig

from superbrain_core import search as search_text
from superbrain_core.errors import ConfigError, StorageError, TransientStorageError
from superbrain_core.logs import get_logger, redact_text
from superbrain_core.models import (
    BatchRun,
    BotResponse,
    BotResponseIn,
    CaptureResult,
    FileStatus,
    ImportedMessage,
    ImportResult,
    JSONDict,
    MessageChain,
    NormalizedUpdate,
    Placement,
    PlacementResult,
    RawFile,
    RawMessage,
    RawUpdate,
    RoutingEntry,
    StoreStats,
    WorkContext,
    WorkFailure,
    WorkItem,
    WorkProblem,
)
from superbrain_core.records import TABLE_COLUMNS
from superbrain_core.records import TABLES as ROUTING_TABLES
from superbrain_core.search import SearchHit
from superbrain_core.storage.base import CaptureOptions, MessageFilter, Store, require_aware
from superbrain_core.storage.pgsql import codec as pgcodec
from superbrain_core.storage.pgsql import migration_files as migrations
from superbrain_core.storage.pgsql import search as postgres_search
from superbrain_core.storage.pgsql import work
from superbrain_core.storage.run_lock import DEFAULT_RUN_LOCK_TTL, RunLock, lease_run_lock
from superbrain_core.storage.supabase import rows
from superbrain_core.supabase_http import auth_headers

T = TypeVar("T")
Query = AsyncSelectRequestBuilder
Filter = Callable[[Query], Query]

#: The tables :meth:`SupabaseStore.stats` counts: the Postgres store's ``TABLES``.
STATS_TABLES = (
    "raw_updates",
    "raw_messages",
    "raw_files",
    "bot_responses",
    "message_chains",
    *ROUTING_TABLES,
    "routing_log",
    "batch_runs",
)
#: PostgREST's default (and Supabase's) ``max-rows``: the most one response holds.
DEFAULT_PAGE_SIZE = 1000
URL_HINT = "expected the project URL, https://<project-ref>.supabase.co"
KEY_VARIABLE = "SUPABASE_SERVICE_KEY"
SCHEMA_BEHIND = (
    "database schema is behind: run superbrain db migrate against the Supabase Postgres DSN"
)
_RETRY_STATUSES = frozenset({408, 429})
# SQLSTATE classes of a server that could not run the statement this time:
# connection exceptions, transaction rollback (serialization failure, deadlock),
# insufficient resources, operator intervention (statement timeout, shutdown),
# system errors; plus lock_not_available.
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_TRANSIENT_SQLSTATES = frozenset({"55P03"})
# PostgREST's own: cannot connect, client error (reconnecting), schema cache not
# loaded yet, pool timeout.
_TRANSIENT_PGRST = frozenset({"PGRST000", "PGRST001", "PGRST002", "PGRST003"})
# "Relation not found" as PostgREST 12+ (schema cache) and older versions report it.
_MISSING_TABLE = frozenset({"PGRST205", "42P01"})
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})

log = get_logger(__name__)


# -- configuration ---------------------------------------------------------------------------


def rest_url(url: str) -> str:
    """PostgREST's base URL (``…/rest/v1``) for the project URL ``url``.

    HTTPS only, since the service key travels in every request; plain HTTP is
    accepted for a loopback host (``supabase start`` serves
    ``http://127.0.0.1:54321``). The message never repeats the URL, which
    could carry credentials.
    """
    raw = url.strip()
    if not raw:
        raise ConfigError("SUPABASE_URL is not set", variable="SUPABASE_URL")
    try:
        parts = urlsplit(raw)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        host, parts = None, None
    if (
        parts is None
        or not host
        or parts.username is not None
        or parts.query
        or parts.fragment
        or not (parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK))
    ):
        raise ConfigError(f"SUPABASE_URL is not a valid URL ({URL_HINT})", variable="SUPABASE_URL")
    path = parts.path.rstrip("/").removesuffix("/rest/v1")
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/rest/v1", "", ""))


def key_headers(key: str, variable: str = KEY_VARIABLE) -> dict[str, str]:
    """:func:`auth_headers` for ``key``, with errors naming ``variable`` (never the key).

    Beyond what ``auth_headers`` rejects (empty, publishable), a legacy JWT
    whose ``role`` claim is ``anon`` or ``authenticated`` is refused here: with
    it every table is invisible and every function forbidden, which would
    otherwise only show up as a confusing 401 at the first request.
    """
    key = key.strip()
    if any(c.isspace() or not c.isprintable() or not c.isascii() for c in key):
        raise ConfigError(
            f"{variable} holds characters an API key never has (whitespace or non-ASCII)",
            variable=variable,
        )
    try:
        headers = auth_headers(key)
    except ConfigError as exc:
        raise ConfigError(
            str(exc).replace(KEY_VARIABLE, variable) if variable != KEY_VARIABLE else str(exc),
            variable=variable,
        ) from None
    role = _jwt_role(key)
    if role in {"anon", "authenticated"}:
        raise ConfigError(
            f"{variable} holds the {role} key; the server needs the service_role key"
            " (or an sb_secret_… key)",
            variable=variable,
        )
    return headers


def _jwt_role(key: str) -> str | None:
    """The ``role`` claim of a JWT-shaped key, unverified (only to catch a mix-up)."""
    parts = key.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    role = claims.get("role") if isinstance(claims, dict) else None
    return role if isinstance(role, str) else None


def settings_from_env(env: Mapping[str, str]) -> tuple[str, str, str]:
    """``(url, key, key_variable)`` from ``SUPABASE_URL`` and ``SUPABASE_SERVICE_KEY``
    (else ``SUPABASE_KEY``, the name some Supabase guides use)."""
    url = env.get("SUPABASE_URL", "")
    if not url.strip():
        raise ConfigError(
            "SUPERBRAIN_DB=supabase needs SUPABASE_URL (the project URL)", variable="SUPABASE_URL"
        )
    for variable in (KEY_VARIABLE, "SUPABASE_KEY"):
        key = env.get(variable, "")
        if key.strip():
            return url, key, variable
    raise ConfigError(
        "SUPERBRAIN_DB=supabase needs SUPABASE_SERVICE_KEY (or SUPABASE_KEY):"
        " the project's service_role or sb_secret_… key",
        variable=KEY_VARIABLE,
    )


# -- errors -----------------------------------------------------------------------------------


class PostgrestError(StorageError):
    """A request PostgREST (or the gateway before it) answered with an error.

    ``status`` is the HTTP status and ``code`` PostgREST's error code (a
    SQLSTATE such as ``P0002``, or ``PGRST…``), when the answer had one.
    """

    def __init__(self, message: str, *, status: int, code: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _error_fields(response: httpx.Response) -> dict[str, Any]:
    """PostgREST's error object (``code``, ``message``, ``hint``, ``details``), or {}.

    Gateways and proxies answer with their own bodies (HTML, or JSON without a
    code); those yield what they have.
    """
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _is_transient(status: int, code: str | None) -> bool:
    if status in _RETRY_STATUSES:
        return True
    if status < 500:
        return False
    if not code:
        return True  # not PostgREST's answer: the gateway or a proxy failed
    if code.startswith("PGRST"):
        return code in _TRANSIENT_PGRST
    return code[:2] in _TRANSIENT_SQLSTATE_CLASSES or code in _TRANSIENT_SQLSTATES


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # absent, or an HTTP date: fall back to the back-off


def _iso(value: datetime) -> str:
    return value.isoformat()


def _failed_work(query: Query) -> Query:
    """Unprocessed raw rows with at least one failed attempt (``work_problems``)."""
    return query.eq("is_processed", False).gt("attempts", 0)


# -- the store ---------------------------------------------------------------------------------


class SupabaseStore(Store):
    """:class:`Store` on a Supabase project migrated with ``superbrain db migrate``.

    ``url`` is the project URL and ``key`` its service key (either kind);
    ``key_variable`` names where the key came from, for messages. The timeouts
    bound one HTTP request (a stuck gateway must fail, and be retried, rather
    than hang the bot). ``max_attempts``, ``retry_delay`` and
    ``max_retry_delay`` shape the retries. ``page_size`` is the most rows asked
    for at once and must not exceed the project's Max Rows. ``concurrency``
    bounds the parallel counts of :meth:`stats`. ``transport`` replaces the
    HTTP transport (tests, proxies).
    """

    backend = "supabase"

    def __init__(
        self,
        url: str,
        key: str,
        *,
        key_variable: str = KEY_VARIABLE,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 5,
        retry_delay: float = 0.2,
        max_retry_delay: float = 5.0,
        page_size: int = DEFAULT_PAGE_SIZE,
        concurrency: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._rest_url = rest_url(url)
        self._key = key.strip()
        self._headers = key_headers(self._key, key_variable)
        self._key_variable = key_variable
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._max_attempts = max(1, max_attempts)
        self._retry_delay = max(0.0, retry_delay)
        self._max_retry_delay = max(self._retry_delay, max_retry_delay)
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._page_size = page_size
        self._concurrency = max(1, concurrency)
        self._transport = transport
        self._client: AsyncPostgrestClient | None = None
        #: Where the store points, for messages and logs: the host, never the key.
        self.where = urlsplit(self._rest_url).netloc

    @classmethod
    def from_env(cls, env: Mapping[str, str], **options: Any) -> SupabaseStore:
        """The store ``SUPERBRAIN_DB=supabase`` selects, from ``SUPABASE_*`` settings."""
        url, key, variable = settings_from_env(env)
        return cls(url, key, key_variable=variable, **options)

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        if self._client is not None:
            return
        session = httpx.AsyncClient(
            timeout=self._timeout,
            transport=self._transport,
            limits=httpx.Limits(max_connections=max(10, self._concurrency * 2)),
        )
        self._client = AsyncPostgrestClient(
            self._rest_url,
            headers={**DEFAULT_POSTGREST_CLIENT_HEADERS, **self._headers},
            http_client=session,
        )
        try:
            await self._check_schema()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.close()
            raise

    async def _check_schema(self) -> None:
        """Refuse a project the bundled migrations have not (all) been applied to.

        ``schema_migrations`` is locked away from the API roles but readable with
        the service key; a project that never ran ``db migrate`` has no such table.
        """
        try:
            found = await self._select("open", "schema_migrations", "name", key="name")
        except PostgrestError as exc:
            if exc.code not in _MISSING_TABLE:
                raise
            found = []
        recorded = {str(r["name"]) for r in found}
        pending = [m.name for m in migrations.bundled_migrations() if m.name not in recorded]
        if pending:
            raise StorageError(f"{SCHEMA_BEHIND} ({self.where}; pending: {', '.join(pending)})")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with anyio.CancelScope(shield=True):
                await client.aclose()

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def _api(self) -> AsyncPostgrestClient:
        if self._client is None:
            raise StorageError(
                "store is not open (use `async with store:` or `await store.open()`)"
            )
        return self._client

    def _redact(self, text: str) -> str:
        if self._key:
            text = text.replace(self._key, "***")
        return redact_text(text)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        # Exponential, with jitter so that replicas hitting one outage do not
        # come back in step; a server's Retry-After is honoured up to the cap.
        backoff = self._retry_delay * 2.0 ** (attempt - 1) * (0.5 + random.random())
        if retry_after is not None:
            backoff = max(backoff, retry_after)
        return min(backoff, self._max_retry_delay)

    async def _send(self, what: str, request: RequestConfig[httpx.AsyncClient]) -> httpx.Response:
        """Send one built request; retry what may pass next time, translate the rest."""
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            cause: BaseException | None = None
            try:
                response = await request.send(httpx.Headers())
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                cause = exc
                problem = self._redact(f"{type(exc).__name__}: {exc}".rstrip(": "))
            except httpx.HTTPError as exc:
                raise StorageError(
                    f"Supabase {what} failed: {self._redact(f'{type(exc).__name__}: {exc}')}"
                ) from exc
            except (TypeError, ValueError) as exc:  # a value JSON cannot carry (NaN...)
                raise StorageError(f"Supabase {what}: cannot encode the request: {exc}") from exc
            else:
                if response.is_success:
                    return response
                fields = _error_fields(response)
                code = fields.get("code")
                code = str(code) if code is not None else None
                problem = self._describe(response, fields)
                status = response.status_code
                if status in (401, 403):
                    raise PostgrestError(
                        f"Supabase refused the request ({what}: {problem}): check"
                        f" {KEY_VARIABLE}{self._source_note()}, it must be the project's"
                        " service_role or sb_secret_… key",
                        status=status,
                        code=code,
                    )
                if not _is_transient(status, code):
                    raise PostgrestError(
                        f"Supabase {what} failed: {problem}", status=status, code=code
                    )
                retry_after = _retry_after(response)
            if attempt >= self._max_attempts:
                raise TransientStorageError(
                    f"Supabase {what} failed after {attempt} attempts: {problem}"
                ) from cause
            log.warning("supabase_retry", operation=what, attempt=attempt, error=problem)
            await anyio.sleep(self._delay(attempt, retry_after))

    def _source_note(self) -> str:
        return "" if self._key_variable == KEY_VARIABLE else f" (read from {self._key_variable})"

    def _describe(self, response: httpx.Response, fields: Mapping[str, Any]) -> str:
        parts = [f"HTTP {response.status_code}"]
        if fields.get("code"):
            parts.append(str(fields["code"]))
        message = fields.get("message") or fields.get("msg") or fields.get("error")
        if not message and not fields:
            message = response.text.strip()[:200] or response.reason_phrase
        if message:
            parts.append(str(message))
        text = ": ".join(parts)
        if fields.get("hint"):
            text += f" (hint: {fields['hint']})"
        if fields.get("details"):
            text += f" (details: {fields['details']})"
        return self._redact(text)

    async def _json(self, what: str, request: RequestConfig[httpx.AsyncClient]) -> Any:
        response = await self._send(what, request)
        if not response.content.strip():
            return None  # a void function
        try:
            return response.json()
        except ValueError as exc:
            raise StorageError(f"Supabase {what}: the answer is not JSON") from exc

    async def _rpc(self, what: str, function: str, params: JSONDict) -> Any:
        """Call a ``superbrain_*`` function: ``POST /rpc/<function>`` with named arguments."""
        return await self._json(what, self._api.rpc(function, params).request)

    async def _page(self, what: str, query: Query) -> list[JSONDict]:
        found = await self._json(what, query.request)
        if not isinstance(found, list):
            raise StorageError(f"Supabase {what}: expected a list of rows")
        return found

    async def _select(
        self,
        what: str,
        table: str,
        columns: str,
        where: Filter | None = None,
        *,
        key: str = "id",
        after: int | str | None = None,
        limit: int | None = None,
    ) -> list[JSONDict]:
        """Every matching row by ascending ``key`` (at most ``limit``), page by page.

        Pages are ``key=gt.<last key>&order=<key>.asc&limit=<n>``; a page shorter
        than asked for is the last one.
        """
        found: list[JSONDict] = []
        cursor = after
        while limit is None or len(found) < limit:
            size = self._page_size if limit is None else min(self._page_size, limit - len(found))
            query = self._api.from_(table).select(columns)
            if where is not None:
                query = where(query)
            if cursor is not None:
                query = query.gt(key, cursor)
            page = await self._page(what, query.order(key).limit(size))
            found.extend(page)
            if len(page) < size:
                break
            if cursor is not None and page[-1][key] == cursor:
                # A server (or proxy) ignoring the filter would make this loop forever.
                raise StorageError(f"Supabase {what}: paging {table} by {key} did not advance")
            cursor = page[-1][key]
        return found

    async def _count(self, what: str, table: str, where: Filter | None = None) -> int:
        """``HEAD`` with ``Prefer: count=exact``: the count is in ``Content-Range``."""
        query = self._api.from_(table).select("*", count=CountMethod.exact, head=True)
        if where is not None:
            query = where(query)
        response = await self._send(what, query.limit(1).request)
        total = response.headers.get("content-range", "").rpartition("/")[2]
        if not total.isdigit():
            raise StorageError(f"Supabase {what}: no row count in the answer for {table}")
        return int(total)

    async def _value_counts(self, what: str, table: str, column: str) -> dict[str, int]:
        """Rows per distinct value of ``column``: each value found with ``gt`` and
        ``limit=1`` (PostgREST has no GROUP BY), then counted exactly."""
        values: list[str] = []
        while True:
            query = self._api.from_(table).select(column).not_.is_(column, "null")
            if values:
                query = query.gt(column, values[-1])
            page = await self._page(what, query.order(column).limit(1))
            if not page:
                break
            values.append(str(page[0][column]))

        def counter(value: str) -> Callable[[], Awaitable[int]]:
            return lambda: self._count(what, table, lambda q: q.eq(column, value))

        counts = await self._gather([counter(v) for v in values])
        return {v: n for v, n in zip(values, counts, strict=True) if n}

    async def _gather(self, calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
        """Run ``calls`` a few at a time. The first failure cancels the rest and is
        raised as itself, not inside an ExceptionGroup, so callers catch a
        :class:`StorageError` as from any other method."""
        results: dict[int, T] = {}
        failures: list[Exception] = []
        limiter = anyio.CapacityLimiter(self._concurrency)

        async def run(
            index: int, call: Callable[[], Awaitable[T]], scope: anyio.CancelScope
        ) -> None:
            try:
                async with limiter:
                    results[index] = await call()
            except Exception as exc:
                failures.append(exc)
                scope.cancel()

        async with anyio.create_task_group() as group:
            for index, call in enumerate(calls):
                group.start_soon(run, index, call, group.cancel_scope)
        if failures:
            raise failures[0]
        return [results[i] for i in range(len(calls))]

    # -- capture -----------------------------------------------------------------------------

    async def capture_many(
        self, updates: Sequence[NormalizedUpdate], options: CaptureOptions | None = None
    ) -> list[CaptureResult]:
        if not updates:
            return []
        items = json.loads(pgcodec.capture_items(updates, options or CaptureOptions()))
        found = await self._rpc("capture", "superbrain_capture_many", {"p_items": items})
        return pgcodec.capture_results(updates, found or [])

    async def record_bot_response(self, response: BotResponseIn) -> BotResponse:
        (recorded,) = await self.record_bot_responses([response])
        return recorded

    async def record_bot_responses(self, responses: Sequence[BotResponseIn]) -> list[BotResponse]:
        if not responses:
            return []
        items = json.loads(pgcodec.bot_response_items(responses))
        found = await self._rpc(
            "record_bot_responses", "superbrain_record_bot_responses", {"p_items": items}
        )
        return [pgcodec.bot_response_from_row(r) for r in found or []]

    async def import_messages(
        self, messages: Sequence[ImportedMessage], options: CaptureOptions | None = None
    ) -> ImportResult:
        """The Postgres store's function (``sql/0006``), in calls of at most ``page_size``
        messages: each call is atomic on its own, and a request body stays small."""
        from superbrain_core.storage.pgsql import importing as imports

        opts = options or CaptureOptions(source="desktop_export")
        ids: list[int | None] = []
        for start in range(0, len(messages), self._page_size):
            chunk = messages[start : start + self._page_size]
            items, source, bot_id = imports.arguments(imports.import_items(chunk), opts)
            found = await self._rpc(
                "import_messages",
                imports.FUNCTION,
                {"p_items": json.loads(items), "p_source": source, "p_bot_id": bot_id},
            )
            ids.extend(imports.import_ids(chunk, found))
        return ImportResult(tuple(ids))

    async def stored_message_keys(self, keys: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
        """``superbrain_stored_message_keys`` (``sql/0006``): one call per ``page_size``
        keys, where the base class would ask once per key."""
        found: set[tuple[int, int]] = set()
        for start in range(0, len(keys), self._page_size):
            chunk = [[int(c), int(m)] for c, m in keys[start : start + self._page_size]]
            rows = await self._rpc(
                "stored_message_keys", "superbrain_stored_message_keys", {"p_keys": chunk}
            )
            if not isinstance(rows, list):
                raise StorageError("Supabase stored_message_keys: expected a list of keys")
            for row in rows:
                if not (isinstance(row, list) and len(row) == 2):
                    raise StorageError("Supabase stored_message_keys: a key is not a pair")
                found.add((int(row[0]), int(row[1])))
        return found

    # -- reads -------------------------------------------------------------------------------

    async def get_update(self, update_id: int, *, bot_id: int = 0) -> RawUpdate | None:
        found = await self._select(
            "get_update",
            "raw_updates",
            rows.UPDATE_SELECT,
            lambda q: q.eq("bot_id", bot_id).eq("update_id", update_id),
            limit=1,
        )
        return rows.raw_update(found[0]) if found else None

    async def message_versions(self, chat_id: int, message_id: int) -> list[RawMessage]:
        found = await self._select(
            "message_versions",
            "raw_messages",
            rows.MESSAGE_SELECT,
            lambda q: q.eq("chat_id", chat_id).eq("message_id", message_id),
            key="version",
        )
        return [rows.raw_message(r) for r in found]

    async def get_chain(self, chain_id: str) -> MessageChain | None:
        try:
            key = uuid.UUID(str(chain_id))
        except ValueError:
            return None  # not a chain id this store could have issued
        found = await self._select(
            "get_chain",
            "message_chains",
            rows.CHAIN_SELECT,
            lambda q: q.eq("chain_id", str(key)),
            key="chain_id",
            limit=1,
        )
        return rows.chain(found[0]) if found else None

    async def chain_of(self, chat_id: int, message_id: int) -> MessageChain | None:
        chain_id = await self._rpc(
            "chain_of",
            "superbrain_chain_id_of",
            {"p_chat_id": chat_id, "p_message_id": message_id},
        )
        return await self.get_chain(chain_id) if chain_id else None

    async def get_file(self, file_row_id: int) -> RawFile | None:
        found = await self._select(
            "get_file", "raw_files", rows.FILE_SELECT, lambda q: q.eq("id", file_row_id), limit=1
        )
        return rows.raw_file(found[0]) if found else None

    async def files_of_message(self, chat_id: int, message_id: int) -> list[RawFile]:
        found = await self._select(
            "files_of_message",
            "raw_files",
            rows.FILE_SELECT,
            lambda q: q.eq("chat_id", chat_id).eq("message_id", message_id),
        )
        return [rows.raw_file(r) for r in found]

    async def list_files(
        self, *, status: FileStatus | None = None, limit: int = 1000, after_id: int = 0
    ) -> list[RawFile]:
        def of_status(query: Query) -> Query:
            return query if status is None else query.eq("status", status.value)

        found = await self._select(
            "list_files", "raw_files", rows.FILE_SELECT, of_status, after=after_id, limit=limit
        )
        return [rows.raw_file(r) for r in found]

    async def set_file_status(
        self,
        file_row_id: int,
        status: FileStatus,
        *,
        file_hash: str | None = None,
        file_path: str | None = None,
        reason: str | None = None,
    ) -> None:
        await self._rpc(
            "set_file_status",
            "superbrain_set_file_status",
            {
                "p_file_row_id": file_row_id,
                "p_status": status.value,
                "p_file_hash": pgcodec.clean(file_hash),
                "p_file_path": pgcodec.clean(file_path),
                "p_reason": pgcodec.clean(reason),
            },
        )

    async def bot_responses(self, chat_id: int) -> list[BotResponse]:
        found = await self._select(
            "bot_responses", "bot_responses", rows.BOT_SELECT, lambda q: q.eq("chat_id", chat_id)
        )
        return [pgcodec.bot_response_from_row(r) for r in found]

    async def stats(self) -> StoreStats:
        def counter(table: str) -> Callable[[], Awaitable[int]]:
            return lambda: self._count("stats", table)

        counts = await self._gather([counter(t) for t in STATS_TABLES])
        types = await self._value_counts("stats", "raw_messages", "message_type")
        statuses = await self._value_counts("stats", "raw_files", "status")
        return StoreStats(
            tables=dict(zip(STATS_TABLES, counts, strict=True)),
            # The Postgres store's order: most frequent type first, then by name.
            message_types=dict(sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))),
            file_statuses=dict(sorted(statuses.items())),
        )

    async def ping(self) -> None:
        await self._page("ping", self._api.from_("schema_migrations").select("name").limit(1))

    async def last_batch_run(self) -> BatchRun | None:
        query = self._api.from_("batch_runs").select(rows.BATCH_RUN_SELECT)
        found = await self._page("last_batch_run", query.order("id", desc=True).limit(1))
        return rows.batch_run(found[0]) if found else None

    # -- the analyzer (sql/0003_analyzer.sql) ------------------------------------------------

    async def claim_work(
        self, worker: str, *, limit: int, lease_until: datetime, now: datetime
    ) -> list[WorkItem]:
        # In chunks: PostgREST cuts a function's result to max-rows after the
        # function ran, and a claimed row that is not returned stays leased.
        items: list[WorkItem] = []
        while len(items) < limit:
            size = min(self._page_size, limit - len(items))
            found = await self._rpc(
                "claim_work",
                "superbrain_claim_work",
                {
                    "p_worker": worker,
                    "p_limit": size,
                    "p_now": _iso(now),
                    "p_lease_until": _iso(lease_until),
                },
            )
            page = work.work_items(found or [])
            items.extend(page)
            if len(page) < size:
                break
        return items

    async def peek_work(
        self,
        *,
        after_id: int,
        limit: int,
        now: datetime,
        reclassify: tuple[str, str] | None = None,
    ) -> list[WorkItem]:
        name, version = reclassify or (None, None)
        items: list[WorkItem] = []
        after = after_id
        while len(items) < limit:
            size = min(self._page_size, limit - len(items))
            found = await self._rpc(
                "peek_work",
                "superbrain_peek_work",
                {
                    "p_after": after,
                    "p_limit": size,
                    "p_now": _iso(now),
                    "p_classifier": name,
                    "p_version": version,
                },
            )
            page = work.work_items(found or [])
            items.extend(page)
            if len(page) < size:
                break
            after = page[-1].id
        return items

    async def pending_work(self, *, now: datetime) -> int:
        found = await self._rpc("pending_work", "superbrain_pending_work", {"p_now": _iso(now)})
        return int(found or 0)

    async def load_work_contexts(
        self, keys: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], WorkContext]:
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        # One call, so one snapshot, like the Postgres store's read-only transaction.
        found = await self._rpc(
            "load_work_contexts",
            "superbrain_work_contexts",
            {"p_chat_ids": [k[0] for k in unique], "p_message_ids": [k[1] for k in unique]},
        )
        contexts = [rows.work_context(c) for c in found or []]
        return {(c.root.chat_id, c.root.message_id): c for c in contexts}

    async def apply_placements(
        self, placements: Sequence[Placement], *, run_id: int | None
    ) -> list[PlacementResult]:
        if not placements:
            return []
        found = await self._rpc(
            "apply_placements",
            "superbrain_apply_placements",
            {
                "p_placements": json.loads(work.placements_payload(placements)),
                "p_run_id": run_id,
                "p_now": _iso(datetime.now(UTC)),
            },
        )
        return work.placement_results(placements, found)

    async def record_work_failures(self, failures: Sequence[WorkFailure]) -> None:
        if failures:
            await self._rpc(
                "record_work_failures",
                "superbrain_record_work_failures",
                {
                    "p_failures": json.loads(work.failures_payload(failures)),
                    "p_now": _iso(datetime.now(UTC)),
                },
            )

    async def _count_of(self, what: str, function: str, params: JSONDict) -> int:
        return int(await self._rpc(what, function, params) or 0)

    async def extend_claims(self, worker: str, *, lease_until: datetime) -> int:
        return await self._count_of(
            "extend_claims",
            "superbrain_extend_claims",
            {"p_worker": worker, "p_lease_until": _iso(lease_until)},
        )

    async def release_claims(self, worker: str) -> int:
        return await self._count_of(
            "release_claims", "superbrain_release_claims", {"p_worker": worker}
        )

    async def requeue_for_reclassify(self, classifier: str, version: str) -> int:
        return await self._count_of(
            "requeue_for_reclassify",
            "superbrain_requeue_for_reclassify",
            {"p_classifier": classifier, "p_version": version},
        )

    async def requeue_quarantined(self) -> int:
        return await self._count_of("requeue_quarantined", "superbrain_requeue_quarantined", {})

    async def work_problems(self, *, limit: int = 100) -> list[WorkProblem]:
        # The Postgres store's ORDER BY quarantined_at IS NULL, id: the quarantined
        # rows by id, then the others by id; two keyset walks give that order.
        def quarantined(query: Query) -> Query:
            return _failed_work(query).not_.is_("quarantined_at", "null")

        def waiting(query: Query) -> Query:
            return _failed_work(query).is_("quarantined_at", "null")

        found: list[JSONDict] = []
        for where in (quarantined, waiting):
            if len(found) < limit:
                found += await self._select(
                    "work_problems",
                    "raw_messages",
                    rows.PROBLEM_SELECT,
                    where,
                    limit=limit - len(found),
                )
        return [rows.work_problem(r) for r in found]

    def run_lock(
        self, name: str, holder: str, *, ttl: float = DEFAULT_RUN_LOCK_TTL
    ) -> AbstractAsyncContextManager[RunLock]:
        """A lease row through rpc: no PostgREST session outlives a request."""

        async def rpc(function: str, params: JSONDict) -> Any:
            return await self._rpc(f"run lock {name!r}", function, params)

        return lease_run_lock(name, holder, ttl, rpc)

    async def start_batch_run(self, classifier: str, version: str, worker: str) -> int:
        return await self._count_of(
            "start_batch_run",
            "superbrain_start_batch_run",
            {
                "p_classifier": classifier,
                "p_version": version,
                "p_worker": worker,
                "p_now": _iso(datetime.now(UTC)),
            },
        )

    async def finish_batch_run(
        self, run_id: int, *, status: str, counts: JSONDict, digest: str
    ) -> None:
        await self._rpc(
            "finish_batch_run",
            "superbrain_finish_batch_run",
            {
                "p_run_id": run_id,
                "p_status": status,
                "p_counts": counts,
                "p_digest": pgcodec.clean(digest),
                "p_now": _iso(datetime.now(UTC)),
            },
        )

    async def routing_history(self, chat_id: int, message_id: int) -> list[RoutingEntry]:
        found = await self._select(
            "routing_history",
            "routing_log",
            rows.ROUTING_SELECT,
            lambda q: q.eq("chat_id", chat_id).eq("message_id", message_id),
        )
        return [rows.routing_entry(r) for r in found]

    async def list_records(
        self, table: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[JSONDict]:
        if table not in TABLE_COLUMNS:
            raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLE_COLUMNS)}")
        found = await self._select("list_records", table, "*", after=after_id, limit=limit)
        return [rows.record(r) for r in found]

    # -- exploration ---------------------------------------------------------------------------

    async def list_messages(
        self, where: MessageFilter | None = None, *, after_id: int = 0, limit: int = 1000
    ) -> list[RawMessage]:
        wanted = where or MessageFilter()

        def matching(query: Query) -> Query:
            if wanted.since is not None:
                query = query.gte("message_date", _iso(wanted.since.astimezone(UTC)))
            if wanted.until is not None:
                query = query.lt("message_date", _iso(wanted.until.astimezone(UTC)))
            if wanted.chat_id is not None:
                query = query.eq("chat_id", wanted.chat_id)
            if wanted.message_type is not None:
                query = query.eq("message_type", wanted.message_type)
            if wanted.processed is not None:
                query = query.eq("is_processed", wanted.processed)
            return query

        found = await self._select(
            "list_messages",
            "raw_messages",
            rows.MESSAGE_SELECT,
            matching,
            after=after_id,
            limit=limit,
        )
        return [rows.raw_message(r) for r in found]

    async def list_chains(
        self, *, chat_id: int | None = None, after: str | None = None, limit: int = 1000
    ) -> list[MessageChain]:
        def of_chat(query: Query) -> Query:
            return query if chat_id is None else query.eq("chat_id", chat_id)

        found = await self._select(
            "list_chains",
            "message_chains",
            rows.CHAIN_SELECT,
            of_chat,
            key="chain_id",
            after=after,
            limit=limit,
        )
        return [rows.chain(r) for r in found]

    async def list_routing(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        run_id: int | None = None,
        chat_id: int | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[RoutingEntry]:
        since, until = require_aware(since), require_aware(until)

        def matching(query: Query) -> Query:
            if since is not None:
                query = query.gte("created_at", _iso(since.astimezone(UTC)))
            if until is not None:
                query = query.lt("created_at", _iso(until.astimezone(UTC)))
            if run_id is not None:
                query = query.eq("run_id", run_id)
            if chat_id is not None:
                query = query.eq("chat_id", chat_id)
            return query

        found = await self._select(
            "list_routing",
            "routing_log",
            rows.ROUTING_SELECT,
            matching,
            after=after_id,
            limit=limit,
        )
        return [rows.routing_entry(r) for r in found]

    async def list_batch_runs(self, *, after_id: int = 0, limit: int = 1000) -> list[BatchRun]:
        found = await self._select(
            "list_batch_runs",
            "batch_runs",
            rows.BATCH_RUN_SELECT,
            after=after_id,
            limit=limit,
        )
        return [rows.batch_run(r) for r in found]

    async def search(
        self,
        query: str,
        *,
        limit: int = 50,
        chat_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SearchHit]:
        wanted = search_text.prepare(query, limit, since, until)
        found = await self._rpc(
            "search",
            "superbrain_search",
            {
                "p_query": pgcodec.clean(query),
                "p_limit": limit,
                "p_chat_id": chat_id,
                "p_since": _iso(since) if since else None,
                "p_until": _iso(until) if until else None,
            },
        )
        return postgres_search.hits(found or [], wanted, pgcodec.parse_timestamp)
