"""A minimal raw Bot API client on httpx, for what aiogram cannot give us.

aiogram parses every update into its models before anyone sees it, and its
models reject real updates (old payloads without ``file_unique_id``, users
without ``is_bot``). Capture must store exactly what Telegram sent, so long
polling and file downloads go through this client, which returns raw JSON.
One ``httpx.AsyncClient`` is shared for the bot's lifetime.

The token is part of every Bot API URL; errors raised here never include the URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import httpx

from superbrain_core.errors import SuperbrainError

DEFAULT_API_SERVER = "https://api.telegram.org"

#: Every update type the Bot API can deliver. Telegram omits some of them
#: (``chat_member``, ``message_reaction``…) unless they are asked for by name,
#: and "save everything" means asking for all of them.
ALL_UPDATE_TYPES: tuple[str, ...] = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)


class BotApiError(SuperbrainError):
    """The Bot API answered with an error (``ok: false``) or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        error_code: int | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.error_code = error_code
        self.transient = transient
        #: Seconds Telegram asked us to wait (flood control, HTTP 429).
        self.retry_after = retry_after


class BotApiClient:
    """Raw calls to one bot's Bot API (Telegram's or a local Bot API server)."""

    def __init__(
        self,
        token: str,
        *,
        api_server: str = DEFAULT_API_SERVER,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        local_files: bool = False,
    ) -> None:
        self._token = token
        #: A local Bot API server (``--local``) answers getFile with a path on its
        #: own disk instead of serving the bytes; the bot then reads that path.
        self.local_files = local_files
        self.api_server = api_server.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=10.0))
        self._owns_client = client is None

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def _method_url(self, method: str) -> str:
        return f"{self.api_server}/bot{self._token}/{method}"

    def _file_url(self, file_path: str) -> str:
        return f"{self.api_server}/file/bot{self._token}/{file_path.lstrip('/')}"

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Call a method; returns ``result``. Raises :class:`BotApiError` without the URL."""
        try:
            response = await self._client.post(
                self._method_url(method),
                json=params or {},
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise BotApiError(f"{method}: {type(exc).__name__}", transient=True) from None
        try:
            body = response.json()
        except ValueError:
            raise BotApiError(
                f"{method}: HTTP {response.status_code} with a non-JSON body",
                error_code=response.status_code,
                transient=response.status_code >= 500,
            ) from None
        if not isinstance(body, dict) or not body.get("ok"):
            description = body.get("description") if isinstance(body, dict) else None
            code = body.get("error_code") if isinstance(body, dict) else None
            parameters = body.get("parameters") if isinstance(body, dict) else None
            wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
            raise BotApiError(
                f"{method}: {description or 'error'}",
                error_code=code or response.status_code,
                transient=(code or response.status_code) >= 500 or code == 429,
                retry_after=float(wait) if isinstance(wait, int | float) else None,
            )
        return body.get("result")

    async def get_updates(
        self,
        offset: int | None,
        *,
        timeout: int = 30,
        limit: int = 100,
        allowed_updates: Sequence[str] = ALL_UPDATE_TYPES,
    ) -> list[dict[str, Any]]:
        """Raw updates, exactly as Telegram sent them. ``offset`` confirms earlier ones."""
        params: dict[str, Any] = {
            "timeout": timeout,
            "limit": limit,
            "allowed_updates": list(allowed_updates),
        }
        if offset is not None:
            params["offset"] = offset
        result = await self.call("getUpdates", params, timeout=timeout + 15)
        if not isinstance(result, list):
            raise BotApiError("getUpdates: result is not a list")
        return [u for u in result if isinstance(u, dict)]

    async def get_file_path(self, file_id: str) -> tuple[str, int | None]:
        """``(file_path, file_size)`` for a ``file_id`` (valid for about an hour)."""
        result = await self.call("getFile", {"file_id": file_id})
        if not isinstance(result, dict) or not isinstance(result.get("file_path"), str):
            raise BotApiError("getFile: no file_path (the file may be too big to download)")
        size = result.get("file_size")
        return result["file_path"], size if isinstance(size, int) else None

    async def stream_file(
        self, file_path: str, chunk_size: int = 64 * 1024
    ) -> AsyncIterator[bytes]:
        """The file's bytes, streamed. Raises :class:`BotApiError` on HTTP errors."""
        if self.local_files and file_path.startswith("/"):
            try:
                async with await anyio.open_file(file_path, "rb") as f:
                    while chunk := await f.read(chunk_size):
                        yield chunk
            except OSError as exc:
                raise BotApiError(f"local file: {exc.strerror or exc}", transient=True) from None
            return
        try:
            async with self._client.stream("GET", self._file_url(file_path)) as response:
                if response.status_code != 200:
                    raise BotApiError(
                        f"file download: HTTP {response.status_code}",
                        error_code=response.status_code,
                        transient=response.status_code >= 500 or response.status_code == 429,
                    )
                async for chunk in response.aiter_bytes(chunk_size):
                    yield chunk
        except httpx.HTTPError as exc:
            raise BotApiError(f"file download: {type(exc).__name__}", transient=True) from None


__all__ = ["ALL_UPDATE_TYPES", "DEFAULT_API_SERVER", "BotApiClient", "BotApiError"]
