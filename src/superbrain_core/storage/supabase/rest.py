"""The PostgREST plumbing under the Supabase store: one client, one send loop, one pager.

Every store method is a function call or a table select; this module is what
makes each of them retried, redacted and paged the same way, so the methods
themselves only say which function or table they want.

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
between pages. ``page_size`` must not exceed Max Rows. Counts use ``HEAD`` with
``Prefer: count=exact``; per-value counts walk the distinct values with ``gt``
(one small request each) and count each exactly, since PostgREST has no
``GROUP BY`` unless aggregates are enabled.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import anyio
import httpx
from postgrest import (
    DEFAULT_POSTGREST_CLIENT_HEADERS,
    AsyncPostgrestClient,
    AsyncSelectRequestBuilder,
    CountMethod,
)
from postgrest.base_request_builder import RequestConfig

from superbrain_core.errors import PermanentStorageError, StorageError, TransientStorageError
from superbrain_core.logs import get_logger, redact_text
from superbrain_core.models import JSONDict
from superbrain_core.storage.supabase.config import KEY_VARIABLE

T = TypeVar("T")
Query = AsyncSelectRequestBuilder
Filter = Callable[[Query], Query]

#: PostgREST's default (and Supabase's) ``max-rows``: the most one response holds.
DEFAULT_PAGE_SIZE = 1000
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
#: "Relation not found" as PostgREST 12+ (schema cache) and older versions report it.
MISSING_TABLE = frozenset({"PGRST205", "42P01"})

log = get_logger(__name__)


class PostgrestError(StorageError):
    """A request PostgREST (or the gateway before it) answered with an error.

    ``status`` is the HTTP status and ``code`` PostgREST's error code (a
    SQLSTATE such as ``P0002``, or ``PGRST…``), when the answer had one.
    """

    def __init__(self, message: str, *, status: int, code: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class RefusedDataError(PostgrestError, PermanentStorageError):
    """A 4xx answer whose SQLSTATE says the data itself was refused (class 22 or 23)."""


#: SQLSTATE classes of a refusal that depends on the data, not on the moment.
_DATA_SQLSTATE_CLASSES = frozenset({"22", "23"})


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


def iso(value: datetime) -> str:
    """A timestamp as a PostgREST filter value or function argument."""
    return value.isoformat()


class RestClient:
    """The PostgREST client of one store: its session, retries, paging and counts.

    ``rest`` is PostgREST's base URL, ``key`` the service key (only to redact
    it) and ``headers`` what authenticates each request. The other arguments
    are the store's, as :class:`SupabaseStore` documents them.
    """

    def __init__(
        self,
        rest: str,
        key: str,
        headers: Mapping[str, str],
        *,
        key_variable: str,
        timeout: httpx.Timeout,
        max_attempts: int,
        retry_delay: float,
        max_retry_delay: float,
        page_size: int,
        concurrency: int,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self._rest_url = rest
        self._key = key
        self._headers = dict(headers)
        self._key_variable = key_variable
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self.page_size = page_size
        self._concurrency = concurrency
        self._transport = transport
        self._client: AsyncPostgrestClient | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._client is not None

    def connect(self) -> None:
        """Build the HTTP session and the PostgREST client (no request is made)."""
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

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with anyio.CancelScope(shield=True):
                await client.aclose()

    @property
    def api(self) -> AsyncPostgrestClient:
        if self._client is None:
            raise StorageError(
                "store is not open (use `async with store:` or `await store.open()`)"
            )
        return self._client

    # -- sending -----------------------------------------------------------------------------

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

    async def send(self, what: str, request: RequestConfig[httpx.AsyncClient]) -> httpx.Response:
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
                raise PermanentStorageError(
                    f"Supabase {what}: cannot encode the request: {exc}"
                ) from exc
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
                if status < 500 and code and code[:2] in _DATA_SQLSTATE_CLASSES:
                    raise RefusedDataError(
                        f"Supabase {what} refused the data: {problem}", status=status, code=code
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
        response = await self.send(what, request)
        if not response.content.strip():
            return None  # a void function
        try:
            return response.json()
        except ValueError as exc:
            raise StorageError(f"Supabase {what}: the answer is not JSON") from exc

    # -- calls and reads ---------------------------------------------------------------------

    async def rpc(self, what: str, function: str, params: JSONDict) -> Any:
        """Call a ``superbrain_*`` function: ``POST /rpc/<function>`` with named arguments."""
        return await self._json(what, self.api.rpc(function, params).request)

    async def page(self, what: str, query: Query) -> list[JSONDict]:
        found = await self._json(what, query.request)
        if not isinstance(found, list):
            raise StorageError(f"Supabase {what}: expected a list of rows")
        return found

    async def select(
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
            size = self.page_size if limit is None else min(self.page_size, limit - len(found))
            query = self.api.from_(table).select(columns)
            if where is not None:
                query = where(query)
            if cursor is not None:
                query = query.gt(key, cursor)
            page = await self.page(what, query.order(key).limit(size))
            found.extend(page)
            if len(page) < size:
                break
            if cursor is not None and page[-1][key] == cursor:
                # A server (or proxy) ignoring the filter would make this loop forever.
                raise StorageError(f"Supabase {what}: paging {table} by {key} did not advance")
            cursor = page[-1][key]
        return found

    async def update(
        self, what: str, table: str, values: JSONDict, where: Filter
    ) -> list[JSONDict]:
        """``PATCH`` the rows ``where`` picks; the changed rows come back."""
        query = where(self.api.from_(table).update(values))
        found = await self._json(what, query.request)
        if not isinstance(found, list):
            raise StorageError(f"Supabase {what}: expected a list of rows")
        return found

    async def count(self, what: str, table: str, where: Filter | None = None) -> int:
        """``HEAD`` with ``Prefer: count=exact``: the count is in ``Content-Range``."""
        query = self.api.from_(table).select("*", count=CountMethod.exact, head=True)
        if where is not None:
            query = where(query)
        response = await self.send(what, query.limit(1).request)
        total = response.headers.get("content-range", "").rpartition("/")[2]
        if not total.isdigit():
            raise StorageError(f"Supabase {what}: no row count in the answer for {table}")
        return int(total)

    async def value_counts(self, what: str, table: str, column: str) -> dict[str, int]:
        """Rows per distinct value of ``column``: each value found with ``gt`` and
        ``limit=1`` (PostgREST has no GROUP BY), then counted exactly."""
        values: list[str] = []
        while True:
            query = self.api.from_(table).select(column).not_.is_(column, "null")
            if values:
                query = query.gt(column, values[-1])
            page = await self.page(what, query.order(column).limit(1))
            if not page:
                break
            values.append(str(page[0][column]))

        def counter(value: str) -> Callable[[], Awaitable[int]]:
            return lambda: self.count(what, table, lambda q: q.eq(column, value))

        counts = await self.gather([counter(v) for v in values])
        return {v: n for v, n in zip(values, counts, strict=True) if n}

    async def gather(self, calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
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
