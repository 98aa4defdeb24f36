"""One keep-alive HTTP connection pool per classifier, sized to the batch's concurrency.

httpx's own pool (httpcore) checks every pooled connection for expiry each time
it hands out one (``_assign_requests_to_connections``: a socket-info lookup per
connection per request), so with sixteen keep-alive connections a request paid
for sixteen checks; profiled on the 0 ms loopback classifier that was a quarter
of the analyzer's CPU. :class:`ConnectionPerSlot` keeps the same number of
keep-alive connections as ``size`` one-connection transports and hands each
request an idle one, so a request checks only its own connection. It is a plain
:class:`httpx.AsyncBaseTransport`: timeouts, errors and streaming are httpx's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx

#: Concurrent requests (and keep-alive connections) a classifier's pool allows by
#: default: the batch's default concurrency.
DEFAULT_CONNECTIONS = 16


class _Released(httpx.AsyncByteStream):
    """A response body that gives its connection back once read or closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Any) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class ConnectionPerSlot(httpx.AsyncBaseTransport):
    """``size`` keep-alive connections, each owned by one request at a time."""

    def __init__(self, size: int = DEFAULT_CONNECTIONS, **transport: Any) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        # One TLS context for every slot: building one loads the CA bundle, which
        # cost more than a run's requests to a loopback classifier.
        transport.setdefault("verify", httpx.create_ssl_context())
        self._slots = [httpx.AsyncHTTPTransport(limits=limits, **transport) for _ in range(size)]
        self._idle = list(self._slots)
        self._free = anyio.Semaphore(size)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._free.acquire()
        slot = self._idle.pop()

        def release() -> None:
            self._idle.append(slot)
            self._free.release()

        try:
            response = await slot.handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Released(response.stream, release)
        return response

    async def aclose(self) -> None:
        for slot in self._slots:
            await slot.aclose()


def pooled_client(timeout: httpx.Timeout, connections: int) -> httpx.AsyncClient:
    """The client a remote classifier owns: ``connections`` keep-alive connections."""
    return httpx.AsyncClient(timeout=timeout, transport=ConnectionPerSlot(connections))
