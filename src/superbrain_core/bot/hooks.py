"""Capture for aiogram 3 bots, installed with one call (extra ``bot``).

::

    capture = superbrain_core.bot.hooks.install(dp, bot, store)

installs, on an existing ``Dispatcher`` and ``Bot``:

* an **outer middleware on every update**, which persists the raw update before
  any filter or handler runs (so updates no handler matches are stored too);
* a **request middleware on the bot's session**, which records every call that
  creates or edits a message (``send*``, ``copyMessage``, ``forwardMessage``,
  ``editMessage*``) with its result in ``bot_responses``, linked to the user
  message being handled; failed calls are recorded with their error;
* a **file pipeline**, which downloads every file the updates carry (up to the
  download limit) into the FileStore in the background, with retries.

Bots that receive raw JSON themselves (the deployed bot's webhook and polling
loop) call :meth:`SuperbrainCapture.capture_raw` before acknowledging and
:meth:`SuperbrainCapture.dispatch` afterwards; the middleware then sees the
update is already stored and does not store it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, cast

import anyio
import attrs
from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.client.default import Default
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import InputFile, TelegramObject, Update
from aiogram.types.update import UpdateTypeLookupError
from pydantic import BaseModel, ValidationError

from superbrain_core.bot.filepipe import BotApiFetcher, FileFetcher, FilePipeline
from superbrain_core.bot.spool import CaptureReceipt, CaptureUnavailableError, DurableCapture, Spool
from superbrain_core.botapi import BotApiClient
from superbrain_core.capture import Capturer
from superbrain_core.files import FileStore
from superbrain_core.logs import get_logger, redact_text
from superbrain_core.models import (
    BotResponse,
    BotResponseIn,
    CaptureOutcome,
    CaptureResult,
    JSONDict,
)
from superbrain_core.storage.base import CaptureOptions, Store
from superbrain_core.telegram import (
    INT64_MAX,
    INT64_MIN,
    MESSAGE_UPDATE_TYPES,
    as_bot_api_json,
)

log = get_logger(__name__)

#: ``data`` key set when the update was stored before it reached the dispatcher.
CAPTURED = "superbrain_captured"

#: The user message whose update is being handled, so that replies the handler
#: sends can be linked to it. A context variable follows the handler's task.
_handling: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "superbrain_handling", default=None
)

_RECORDED = re.compile(r"^(send|copyMessages?$|forwardMessages?$|editMessage)")
#: Calls whose name matches but that create no message in a chat.
_NOT_MESSAGES = frozenset({"sendChatAction", "sendGift"})


def _int64(value: Any) -> int | None:
    """``value`` when it is an integer a database column can hold, else ``None``."""
    if isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX:
        return value
    return None


def _update_message_key(update: Update) -> tuple[int, int] | None:
    for kind in MESSAGE_UPDATE_TYPES:
        message = getattr(update, kind, None)
        if message is not None:
            return message.chat.id, message.message_id
    return None


class CaptureMiddleware(BaseMiddleware):
    """Outer middleware on ``dp.update``: store first, then let aiogram route."""

    def __init__(self, capture: SuperbrainCapture) -> None:
        self.capture = capture

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Update) and not data.get(CAPTURED):
            await self.capture.capture_raw(as_bot_api_json(event))
        key = _update_message_key(event) if isinstance(event, Update) else None
        token = _handling.set(key)
        try:
            return await handler(event, data)
        finally:
            _handling.reset(token)


def _fallback(value: Any) -> Any:
    if isinstance(value, InputFile):
        return {"input_file": value.filename}
    if isinstance(value, Default):
        return None
    return str(value)


def _jsonable(value: Any) -> Any:
    """Bot API JSON of a call or its result: aliases (``from``), no ``None``, uploads by name.

    Fields left at their defaults are omitted: for a method call they are the
    bot-wide defaults aiogram fills in later, not something the handler chose.
    """
    if isinstance(value, BaseModel):
        try:
            return value.model_dump(
                mode="json",
                by_alias=True,
                exclude_none=True,
                exclude_defaults=True,
                warnings=False,
                fallback=_fallback,
            )
        except TypeError:  # pydantic < 2.11 has no ``fallback``: walk it ourselves
            value = value.model_dump(by_alias=True, exclude_none=True, warnings=False)
    if isinstance(value, dict):
        items = ((str(k), _jsonable(v)) for k, v in value.items())
        return {k: v for k, v in items if v is not None}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return int(value.timestamp())
    return _fallback(value)


def _response_type(method_name: str) -> str:
    if method_name.startswith("edit"):
        return "edit_" + _snake(method_name[len("editMessage") :] or "message")
    if method_name.startswith("send"):
        kind = _snake(method_name[len("send") :])
        return "text" if kind == "message" else kind
    return _snake(method_name.replace("Message", "").replace("Messages", ""))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class PinResponseTypes(BaseRequestMiddleware):
    """Keep aiogram's parametrized ``Response[...]`` models alive (without recording).

    aiogram validates every Bot API answer with ``Response[method.__returning__]``.
    pydantic caches such generic models only weakly, so each garbage collection
    frees them and the next call rebuilds the model schema: about 6 ms per call
    on these machines, which dominated the bot's throughput. Holding one strong
    reference per return type makes the cache hit every time.
    """

    def __init__(self) -> None:
        self._pinned: dict[Any, Any] = {}

    def _pin(self, method: TelegramMethod[Any]) -> None:
        returning = method.__returning__
        if returning not in self._pinned:
            self._pinned[returning] = Response[returning]  # type: ignore[valid-type]

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        self._pin(method)
        return await make_request(bot, method)


class ResponseRecorder(PinResponseTypes):
    """Session middleware: record every message the bot sends or edits, and failures.

    It also pins response types, so that one middleware layer (aiogram rebuilds
    the chain on every call) serves both.
    """

    def __init__(self, capture: SuperbrainCapture) -> None:
        super().__init__()
        self.capture = capture

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        self._pin(method)
        name = method.__api_method__
        if not _RECORDED.match(name) or name in _NOT_MESSAGES:
            return await make_request(bot, method)
        try:
            # The session hands back the call's *result* here (a Message, a list
            # of them, True...), whatever the annotation of the hook says.
            result: Any = await make_request(bot, method)
        except Exception as exc:
            # Error texts can embed the request URL, and with it the token.
            error = redact_text(f"{type(exc).__name__}: {exc}")
            await self._record_safely(method, None, error=error)
            raise
        await self._record_safely(method, result)
        return cast("Response[TelegramType]", result)

    async def _record_safely(
        self, method: TelegramMethod[Any], result: Any, error: str | None = None
    ) -> None:
        """Record, but never fail the call: the message has gone out (or the API error
        must reach the handler), whatever happens to the record."""
        try:
            await self._record(method, result, error)
        except CaptureUnavailableError as exc:
            log.error("bot_response_not_recorded", method=method.__api_method__, error=str(exc))

    async def _record(
        self, method: TelegramMethod[Any], result: Any, error: str | None = None
    ) -> None:
        name = method.__api_method__
        request = _jsonable(method)
        chat_id = request.get("chat_id") if isinstance(request, dict) else None
        results: list[JSONDict] = []
        if isinstance(result, list):
            results = [_jsonable(r) for r in result if isinstance(r, TelegramObject)]
        elif isinstance(result, TelegramObject):
            results = [_jsonable(result)]
        related = self._related(request, chat_id)
        key = uuid.uuid4().hex
        for index, item in enumerate(results or [{}]):
            chat = item.get("chat") if isinstance(item, dict) else None
            item_chat = chat.get("id") if isinstance(chat, dict) else None
            target_chat = item_chat if isinstance(item_chat, int) else chat_id
            if not isinstance(target_chat, int):
                log.info("bot_response_not_recorded", method=name, reason="no numeric chat id")
                continue
            if _int64(target_chat) is None:  # a hostile update's chat: not a storable id
                log.info("bot_response_not_recorded", method=name, reason="chat id past 64 bits")
                continue
            text = (
                item.get("text")
                or item.get("caption")
                or request.get("text")
                or request.get("caption")
            )
            record = BotResponseIn(
                chat_id=target_chat,
                message_id=_int64(item.get("message_id")),
                response_text=text if isinstance(text, str) else None,
                response_type=_response_type(name),
                user_id=self.capture.bot_user_id,
                related_user_message_id=_int64(related[1])
                if related and related[0] == target_chat
                else None,
                method=name,
                request=request if isinstance(request, dict) else None,
                result=item or None,
                error=error,
                is_edit=name.startswith("edit"),
                idempotency_key=f"{key}:{index}",
            )
            await self.capture.durable.record_bot_response(record)

    @staticmethod
    def _related(request: Any, chat_id: Any) -> tuple[int, int] | None:
        """The user message this call answers: an explicit reply, else the update being handled."""
        if isinstance(request, dict) and isinstance(chat_id, int):
            params = request.get("reply_parameters")
            if isinstance(params, dict) and isinstance(params.get("message_id"), int):
                target_chat = params.get("chat_id", chat_id)
                if isinstance(target_chat, int):
                    return target_chat, params["message_id"]
            if isinstance(request.get("reply_to_message_id"), int):
                return chat_id, request["reply_to_message_id"]
        return _handling.get()


@attrs.define(eq=False)
class SuperbrainCapture:
    """What :func:`install` put in place, and the calls a raw-JSON bot needs."""

    dp: Dispatcher
    bot: Bot
    store: Store
    durable: DurableCapture
    files: FilePipeline | None
    bot_user_id: int
    owned_clients: list[BotApiClient] = attrs.field(factory=list)
    _background: asyncio.Task[None] | None = None
    _dispatching: set[asyncio.Task[Any]] = attrs.field(factory=set)
    _dispatch_slots: asyncio.Semaphore = attrs.field(factory=lambda: asyncio.Semaphore(256))
    _awaiting_storage: int = 0

    def __attrs_post_init__(self) -> None:
        # Files are queued whenever their update reaches storage: directly, or
        # later when the spool is replayed.
        self.durable.on_stored = self._queue_files

    def _queue_files(self, results: Sequence[CaptureResult | BotResponse]) -> None:
        if self.files is None:
            return
        for result in results:
            if isinstance(result, CaptureResult) and result.file_row_ids:
                self.files.submit(result.file_row_ids)

    async def capture_raw(self, payload: JSONDict) -> CaptureReceipt:
        """Persist one raw update (storage, else spool); its files are queued once stored.

        Raises ``CaptureUnavailableError`` when it could not be persisted anywhere:
        the caller must then not acknowledge the update.
        """
        return await self.durable.capture(payload)

    async def feed(self, payload: JSONDict) -> Any:
        """Hand an already captured raw update to the dispatcher.

        aiogram's models reject some real updates; those stay stored raw and are
        only skipped for handling, with a warning.
        """
        try:
            update = Update.model_validate(payload, context={"bot": self.bot})
        except ValidationError as exc:
            log.warning(
                "update_not_dispatched",
                update_id=payload.get("update_id"),
                reason="aiogram cannot parse it; it is stored raw",
                errors=exc.error_count(),
            )
            return None
        try:
            update.event_type  # noqa: B018  (raises for a kind aiogram does not know)
        except UpdateTypeLookupError:
            # No handler can take it, and aiogram's own warning would serialise the
            # update again (which fails on text Telegram sent with lone surrogates).
            log.info(
                "update_not_dispatched",
                update_id=payload.get("update_id"),
                reason="an update kind aiogram does not know; it is stored raw",
            )
            return None
        return await self.dp.feed_update(self.bot, update, **{CAPTURED: True})

    async def accept_raw(self, payload: JSONDict, line: bytes | None = None) -> CaptureReceipt:
        """Persist one raw update and return once it is durable (stored or in the spool).

        What a webhook answers on. Under load the update is acknowledged from the
        spool and stored in the background: ``receipt.later`` then resolves to
        the storage result, which :meth:`dispatch_when_stored` waits for.
        ``line``: the spool line from the request body, if the caller has one.
        """
        return await self.durable.accept(payload, line)

    def dispatch_when_stored(
        self,
        payload: JSONDict,
        stored: asyncio.Future[CaptureResult | BotResponse | None],
    ) -> None:
        """Dispatch once storage has the update, unless storage says it is a redelivery.

        Whether an update was delivered before is storage's answer, so handlers
        wait for it as they do on the group-commit path; the acknowledgement did not.
        """
        self._awaiting_storage += 1

        def stored_now(future: asyncio.Future[CaptureResult | BotResponse | None]) -> None:
            self._awaiting_storage -= 1
            result = None if future.cancelled() else future.result()
            if not (
                isinstance(result, CaptureResult) and result.outcome is CaptureOutcome.DUPLICATE
            ):
                self.dispatch(payload)

        stored.add_done_callback(stored_now)

    def dispatch(self, payload: JSONDict) -> None:
        """Feed the dispatcher in the background (the caller has already acknowledged)."""
        task = asyncio.get_running_loop().create_task(self.handle(payload))
        self._dispatching.add(task)
        task.add_done_callback(self._dispatching.discard)

    async def handle(self, payload: JSONDict) -> None:
        """:meth:`feed`, with a failing handler logged instead of raised."""
        async with self._dispatch_slots:
            try:
                await self.feed(payload)
            except Exception:
                # The update is already stored; a failing handler loses nothing
                # and must not take the bot down.
                log.exception("handler_failed", update_id=payload.get("update_id"))

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for in-flight handlers, including ones they start (graceful shutdown).

        Handlers still running after ``timeout`` are cancelled, so that nothing
        touches the store after it is closed; their updates are stored already.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        # Updates acknowledged from the spool are dispatched once stored.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.durable.flush()
        while self._dispatching or self._awaiting_storage:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                log.warning("handlers_cancelled_at_shutdown", count=len(self._dispatching))
                for task in list(self._dispatching):
                    task.cancel()
                await asyncio.gather(*self._dispatching, return_exceptions=True)
                return
            if not self._dispatching:  # stored; their dispatch is a loop turn away
                await asyncio.sleep(0.001)
                continue
            await asyncio.wait(set(self._dispatching), timeout=remaining)
        # And what the handlers recorded through the spool.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(deadline - asyncio.get_running_loop().time(), 0.1)):
                await self.durable.flush()

    async def start(self) -> None:
        """Start background work: file downloads and spool replay. Idempotent."""
        if self._background is None:
            self._background = asyncio.get_running_loop().create_task(self._run_background())

    async def _run_background(self) -> None:
        # Replay and downloads fail independently: a crash in one is logged and
        # the other keeps running (replay_forever and the pipeline both log and
        # continue on errors of their own).
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.durable.replay_forever)
            if self.files is not None:
                tg.start_soon(self.files.run)
                try:
                    await self.files.resume_pending()
                except Exception:
                    log.exception("resume_downloads_failed")

    async def stop(self) -> None:
        """Drain handlers, try the spool once more, stop background work, close clients."""
        await self.drain()
        try:
            await self.durable.replay()
        except Exception:
            log.exception("final_spool_replay_failed")
        if self._background is not None:
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._background
            self._background = None
        for client in self.owned_clients:
            await client.aclose()
        self.owned_clients.clear()


def install(
    dp: Dispatcher,
    bot: Bot,
    store: Store,
    *,
    files: FileStore | None = None,
    fetcher: FileFetcher | None = None,
    spool: Spool | str | None = None,
    options: CaptureOptions | None = None,
    download_concurrency: int = 4,
) -> SuperbrainCapture:
    """Install raw capture, reply recording and the file pipeline on ``dp`` and ``bot``.

    ``files``: where file bytes go (no downloads when ``None``). ``fetcher``:
    where they come from (default: the bot's Bot API server). ``spool``: a file
    that takes updates while storage is down (no spool when ``None``).
    Background work starts and stops with the dispatcher's startup/shutdown.
    """
    capture_options = options or CaptureOptions(bot_id=bot.id, source="bot")
    spool_obj = Spool(spool) if isinstance(spool, str) else spool
    durable = DurableCapture(Capturer(store, capture_options), spool_obj)
    pipeline = None
    owned: list[BotApiClient] = []
    if files is not None:
        if fetcher is None:
            base = bot.session.api.base.split("/bot{token}")[0]
            client = BotApiClient(bot.token, api_server=base, local_files=bot.session.api.is_local)
            owned.append(client)
            fetcher = BotApiFetcher(client)
        pipeline = FilePipeline(store, files, fetcher, concurrency=download_concurrency)
    capture = SuperbrainCapture(
        dp=dp,
        bot=bot,
        store=store,
        durable=durable,
        files=pipeline,
        bot_user_id=bot.id,
        owned_clients=owned,
    )
    dp.update.outer_middleware(CaptureMiddleware(capture))
    bot.session.middleware(ResponseRecorder(capture))
    dp.startup.register(capture.start)
    dp.shutdown.register(capture.stop)
    return capture


__all__ = [
    "CAPTURED",
    "CaptureMiddleware",
    "PinResponseTypes",
    "ResponseRecorder",
    "SuperbrainCapture",
    "install",
]
