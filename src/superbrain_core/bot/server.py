"""The deployed bot: configuration, Russian replies, webhook and polling servers.

``superbrain bot`` and ``deploy/bot`` call :func:`run_bot`; everything the bot
does lives here and in :mod:`superbrain_core.bot.hooks`, so other people's bots can
reuse the parts they want. Guarantees:

* an update is persisted (storage, else the durable spool) **before** Telegram is
  told it arrived: before the webhook's 2xx, before the polling offset moves;
* when it cannot be persisted anywhere the webhook answers 503, so Telegram
  redelivers, and polling keeps its offset;
* ``/healthz`` (alive) and ``/readyz`` (storage or spool usable, not shutting
  down) answer in both modes; SIGTERM stops intake, drains handlers, then exits.
"""

from __future__ import annotations

import codecs
import gc
import hmac
import json
import os
import re
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import attrs
from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command, Filter
from aiogram.types import LinkPreviewOptions, Message
from aiohttp import web

from superbrain_core import jsonutil, login_links
from superbrain_core.bot.hooks import SuperbrainCapture, install
from superbrain_core.bot.spool import CaptureUnavailableError, Spool, spool_line_for_body
from superbrain_core.botapi import (
    ALL_UPDATE_TYPES,
    DEFAULT_API_SERVER,
    BotApiClient,
    BotApiError,
)
from superbrain_core.errors import ConfigError, NotAnUpdateError, StorageError
from superbrain_core.files import FileStore, LocalFileStore, SupabaseBucketFileStore
from superbrain_core.logs import get_logger
from superbrain_core.settings import Settings, check_bot_token, parse_owner_ids
from superbrain_core.storage import CaptureOptions, Store, open_store

log = get_logger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@attrs.frozen(repr=False)
class BotSettings:
    """The bot's own settings (on top of :class:`Settings`). ``repr`` hides the token."""

    token: str
    owner_ids: frozenset[int] = frozenset()
    ack: bool = True
    api_server: str | None = None
    local_api: bool = False
    webhook_url: str | None = None
    listen_host: str = "0.0.0.0"
    listen_port: int = 8080
    webhook_path: str = "/telegram/webhook"
    secret_token: str | None = None
    spool_path: Path = Path("data/spool/updates.jsonl")
    files_bucket: str | None = None
    supabase_url: str | None = None
    supabase_key: str | None = None
    poll_timeout: int = 30
    web_url: str | None = None
    """Where ``superbrain web`` is served; ``/web`` answers with a login link to it."""
    web_secret: bytes | None = None
    """Signs those links (``SUPERBRAIN_WEB_SECRET``); never shown in ``repr``."""

    def __repr__(self) -> str:
        return (
            f"BotSettings(owners={sorted(self.owner_ids)}, webhook={self.webhook_url is not None})"
        )

    @property
    def bot_id(self) -> int:
        return int(self.token.split(":", 1)[0])

    @classmethod
    def from_env(
        cls, base: Settings, env: Mapping[str, str] | None = None, **overrides: Any
    ) -> BotSettings:
        """Read and validate; errors name the variable and never echo a secret."""
        env = os.environ if env is None else env

        def pick(name: str, key: str) -> Any:
            value = overrides.get(key)
            return value if value is not None else env.get(name) or None

        token = check_bot_token(pick("TELEGRAM_BOT_TOKEN", "token"))
        owners = parse_owner_ids(str(pick("SUPERBRAIN_OWNER_IDS", "owner_ids") or ""))
        ack = str(pick("SUPERBRAIN_ACK", "ack") or "on").lower()
        if ack not in {"on", "off", "1", "0", "true", "false", "yes", "no"}:
            raise ConfigError("SUPERBRAIN_ACK must be on or off", variable="SUPERBRAIN_ACK")
        listen = str(pick("SUPERBRAIN_LISTEN", "listen") or "0.0.0.0:8080")
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError("SUPERBRAIN_LISTEN must be HOST:PORT", variable="SUPERBRAIN_LISTEN")
        webhook_url = pick("SUPERBRAIN_WEBHOOK_URL", "webhook_url")
        if webhook_url and not str(webhook_url).startswith(("https://", "http://")):
            raise ConfigError(
                "SUPERBRAIN_WEBHOOK_URL must be an http(s) URL", variable="SUPERBRAIN_WEBHOOK_URL"
            )
        secret = pick("SUPERBRAIN_WEBHOOK_SECRET", "secret_token")
        if secret and not _SECRET_TOKEN.match(str(secret)):
            raise ConfigError(
                "SUPERBRAIN_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and - (1-256 chars)",
                variable="SUPERBRAIN_WEBHOOK_SECRET",
            )
        if webhook_url and not secret:
            raise ConfigError(
                "webhook mode needs SUPERBRAIN_WEBHOOK_SECRET (--secret-token):"
                " without it anyone could post updates",
                variable="SUPERBRAIN_WEBHOOK_SECRET",
            )
        bucket = pick("SUPERBRAIN_FILES_BUCKET", "files_bucket")
        supabase_url = env.get("SUPABASE_URL")
        supabase_key = env.get("SUPABASE_SERVICE_KEY") or env.get("SUPABASE_KEY")
        if bucket and not supabase_url:
            raise ConfigError("SUPERBRAIN_FILES_BUCKET needs SUPABASE_URL", variable="SUPABASE_URL")
        if bucket and not supabase_key:
            raise ConfigError(
                "SUPERBRAIN_FILES_BUCKET needs SUPABASE_SERVICE_KEY (or SUPABASE_KEY)",
                variable="SUPABASE_SERVICE_KEY",
            )
        path = str(pick("SUPERBRAIN_WEBHOOK_PATH", "webhook_path") or "/telegram/webhook")
        web_url = env.get("SUPERBRAIN_WEB_URL") or None
        if web_url and not web_url.startswith(("https://", "http://")):
            raise ConfigError(
                "SUPERBRAIN_WEB_URL must be an http(s) URL", variable="SUPERBRAIN_WEB_URL"
            )
        web_secret = login_links.load_secret(base.data_dir, env) if web_url else None
        return cls(
            web_url=web_url,
            web_secret=web_secret,
            token=token,
            owner_ids=owners,
            ack=ack in {"on", "1", "true", "yes"},
            api_server=pick("TELEGRAM_API_SERVER", "api_server"),
            local_api=bool(overrides.get("local_api"))
            or env.get("TELEGRAM_LOCAL_API", "") in {"1", "true", "on"},
            webhook_url=webhook_url,
            listen_host=host,
            listen_port=int(port),
            webhook_path=path if path.startswith("/") else f"/{path}",
            secret_token=secret,
            spool_path=Path(
                pick("SUPERBRAIN_SPOOL", "spool_path") or base.data_dir / "spool" / "updates.jsonl"
            ),
            files_bucket=bucket,
            supabase_url=supabase_url,
            supabase_key=supabase_key,
        )


def decode_body(body: bytes) -> Any:
    """The JSON value of a webhook body; :class:`NotAnUpdateError` saying why not.

    Nesting is bounded before decoding (:data:`jsonutil.MAX_DEPTH`), so hostile
    bodies never reach the recursive decoder, nor the store.

    The usual body (UTF-8, fewer brackets than the bound, nothing orjson would
    decode differently) is decoded by orjson, about ten times faster; anything
    else takes the standard library, whose answer and errors are the reference.
    """
    if (
        body[:3] != codecs.BOM_UTF8
        and b"\x00" not in body[:4]
        and body.count(b"{") + body.count(b"[") <= jsonutil.MAX_DEPTH
    ):
        value = jsonutil.loads_exact(body)
        if value is not jsonutil.UNDECIDED:
            return value
    try:
        text = body.decode(json.detect_encoding(body))
    except UnicodeDecodeError as exc:
        raise NotAnUpdateError(f"body is not UTF-8 text (byte {exc.start})") from None
    deep = jsonutil.nested_too_deep(text)
    if deep is not None:
        raise NotAnUpdateError(
            f"body is nested more than {jsonutil.MAX_DEPTH} levels deep (offset {deep})"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotAnUpdateError(f"body is not JSON: {exc.msg} (offset {exc.pos})") from None
    except ValueError:  # an integer past the interpreter's digit limit
        raise NotAnUpdateError(
            f"body holds a number of more than {sys.get_int_max_str_digits()} digits"
        ) from None
    except RecursionError:  # not with the bound above; kept as a last guard
        raise NotAnUpdateError("body is nested too deep to decode") from None


# -- replies ---------------------------------------------------------------------

HELP = (
    "Я сохраняю всё, что вы мне присылаете: текст, фото, голосовые, файлы.\n"
    "Ночью разбираю новое по событиям, задачам, заметкам и расходам.\n\n"
    "/stats — сколько сохранено\n"
    "/last — итог последнего ночного разбора\n"
    "/web — ссылка для входа на страницу разбора\n"
    "/help — эта подсказка\n\n"
    "Чтобы уточнить запись, ответьте на моё сообщение или на своё."
)


class PrivateChat(Filter):
    """Passes messages in private chats.

    A class rather than ``F.chat.type == "private"``: aiogram evaluates magic
    filters as plain functions in a worker thread, one thread hop per message.
    """

    async def __call__(self, message: Message) -> bool:
        return message.chat.type == "private"


class OwnerOnly(Filter):
    """Passes messages from the owners only: everyone else is stored, never answered."""

    def __init__(self, owner_ids: frozenset[int]) -> None:
        self.owner_ids = owner_ids

    async def __call__(self, message: Message) -> bool:
        return message.from_user is not None and message.from_user.id in self.owner_ids


def build_router(store: Store, settings: BotSettings) -> Router:
    """Handlers for the owner: commands and a short acknowledgement."""
    router = Router(name="superbrain")
    router.message.filter(OwnerOnly(settings.owner_ids))
    acked_groups: dict[int, str] = {}

    @router.message(Command("start"))
    async def start(message: Message) -> None:
        await message.answer(
            "Привет! Я ваш второй мозг: сохраняю всё и раскладываю по полочкам.\n\n" + HELP
        )

    @router.message(Command("help"))
    async def help_(message: Message) -> None:
        await message.answer(HELP)

    @router.message(Command("stats"))
    async def stats(message: Message) -> None:
        s = await store.stats()
        await message.answer(
            f"Сохранено сообщений: {s.tables.get('raw_messages', 0)}\n"
            f"Файлов: {s.tables.get('raw_files', 0)}\n"
            f"Цепочек уточнений: {s.tables.get('message_chains', 0)}\n"
            f"Всего обновлений: {s.tables.get('raw_updates', 0)}"
        )

    @router.message(Command("web"))
    async def web(message: Message) -> None:
        if settings.web_url is None or settings.web_secret is None or message.from_user is None:
            await message.answer("Веб-страница не настроена (SUPERBRAIN_WEB_URL).")
            return
        token = login_links.mint_login(settings.web_secret, message.from_user.id)
        # No preview: Telegram's preview fetcher would open, and so use up, the link.
        await message.answer(
            "Вход на страницу разбора, одноразовый, 10 минут:\n"
            + login_links.login_url(settings.web_url, token),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    @router.message(Command("last"))
    async def last(message: Message) -> None:
        run = await store.last_batch_run()
        if run is None or not run.digest:
            await message.answer("Ночной разбор ещё не запускался.")
        else:
            await message.answer(run.digest)

    if settings.ack:

        @router.message(PrivateChat())
        async def acknowledge(message: Message) -> None:
            # One acknowledgement per album, not one per photo.
            group = message.media_group_id
            if group is not None:
                if acked_groups.get(message.chat.id) == group:
                    return
                acked_groups[message.chat.id] = group
            await message.reply("✓ Сохранил")

    return router


# -- the process -------------------------------------------------------------------

#: Allocations between young collections once the bot serves (CPython's default: 700).
GC_YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Garbage-collector settings for a serving bot; call once startup is done.

    Profiled under webhook load (bench/webhook.py), CPython's collector took a
    quarter of the bot's CPU: every full collection walked the startup heap
    (aiogram's and pydantic's models, about 200,000 objects), and a young
    collection ran every 700 allocations, each walking the updates in flight.
    Freezing the startup heap takes it out of every later collection, and a
    larger young threshold runs young collections 30 times less often; what a
    request allocates is mostly freed by reference counting anyway, and cycles
    are still collected, only in larger and rarer steps.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _file_store(app: Settings, settings: BotSettings) -> FileStore:
    if settings.files_bucket:
        assert settings.supabase_url and settings.supabase_key
        return SupabaseBucketFileStore(
            settings.supabase_url,
            settings.supabase_key,
            settings.files_bucket,
            tmp_dir=app.data_dir / "tmp",
        )
    return LocalFileStore(app.files_dir)


@attrs.define
class BotServer:
    """The running bot: capture kit, HTTP endpoints, and the polling loop when polling."""

    capture: SuperbrainCapture
    api: BotApiClient
    settings: BotSettings
    store: Store
    stopping: anyio.Event = attrs.field(factory=anyio.Event)
    #: Pause after an update could not be persisted, before asking for it again.
    unpersisted_delay: float = 5.0
    #: A spool that holds entries this long while storage answers is not draining:
    #: ``/readyz`` turns red so someone looks (``docs/operations.md``).
    spool_stall_after: float = 60.0

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        if self.settings.webhook_url:
            app.router.add_post(self.settings.webhook_path, self.webhook)
        return app

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(self, _request: web.Request) -> web.Response:
        storage = "ok"
        try:
            with anyio.fail_after(3):
                await self.store.ping()
        except (StorageError, TimeoutError):
            storage = "down"
        spool_dir = self.settings.spool_path.parent
        spool_ok = (
            os.access(spool_dir, os.W_OK)
            if spool_dir.exists()
            else os.access(spool_dir.parent, os.W_OK)
        )
        durable = self.capture.durable
        backlog = durable.spool_backlog_age()
        # Storage answers yet the spool keeps its entries: nothing reaches the
        # database, which an outage-only view would call healthy.
        stalled = storage == "ok" and backlog is not None and backlog > self.spool_stall_after
        ready = not self.stopping.is_set() and (storage == "ok" or spool_ok) and not stalled
        body = {
            "ready": ready,
            "storage": storage,
            "spool_writable": spool_ok,
            "spool_pending": backlog is not None,
            "spool_draining": not stalled,
            "spool_backlog_seconds": round(backlog, 1) if backlog is not None else None,
            "spool_last_error": durable.last_replay_error if backlog is not None else None,
            "stopping": self.stopping.is_set(),
        }
        return web.json_response(body, status=200 if ready else 503)

    def _spool_writable(self) -> bool:
        spool_dir = self.settings.spool_path.parent
        target = spool_dir if spool_dir.exists() else spool_dir.parent
        return os.access(target, os.W_OK)

    async def webhook(self, request: web.Request) -> web.Response:
        expected = self.settings.secret_token or ""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return web.Response(status=403, text="forbidden")
        if self.stopping.is_set():
            return web.Response(status=503, text="shutting down")
        body = await request.read()
        try:
            payload = decode_body(body)
            # Durable (stored, or fsynced in the spool) before the 200; under load
            # the spool takes it and storage follows in the background.
            receipt = await self.capture.accept_raw(payload, spool_line_for_body(body))
        except NotAnUpdateError as exc:
            # Whoever holds the secret sent something no update looks like: say
            # what, in one line; nothing is stored and there is nothing to retry.
            log.warning("webhook_body_refused", reason=exc.reason, bytes=len(body))
            return web.Response(status=400, text=exc.reason)
        except CaptureUnavailableError as exc:
            log.error("update_not_persisted", update_id=payload.get("update_id"), error=str(exc))
            return web.Response(status=503, text="not persisted; retry")
        if receipt.later is not None:
            self.capture.dispatch_when_stored(payload, receipt.later)
        elif not receipt.duplicate:  # a redelivery was handled the first time
            self.capture.dispatch(payload)
        return web.Response(status=200)

    async def poll(self) -> None:
        """Long polling where an update is persisted before the offset that confirms it."""
        offset: int | None = None
        delay = 1.0
        while not self.stopping.is_set():
            try:
                updates = await self.api.get_updates(offset, timeout=self.settings.poll_timeout)
            except BotApiError as exc:
                log.warning("get_updates_failed", error=str(exc), retry_in=delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            delay = 1.0
            for payload in updates:
                try:
                    await self.capture.capture_raw(payload)
                except CaptureUnavailableError as exc:
                    # Keep the offset: Telegram hands this update out again.
                    log.error(
                        "update_not_persisted", update_id=payload.get("update_id"), error=str(exc)
                    )
                    await anyio.sleep(self.unpersisted_delay)
                    break
                except NotAnUpdateError as exc:
                    log.error("not_an_update_skipped", reason=exc.reason)
                offset = int(payload.get("update_id", offset or 0)) + 1
                self.capture.dispatch(payload)


async def run_bot(
    app: Settings, settings: BotSettings, *, ready: anyio.Event | None = None
) -> None:
    """Run the bot until SIGTERM/SIGINT (or until the returned task is cancelled)."""
    if not settings.owner_ids:
        log.warning(
            "no_owner_ids",
            detail="SUPERBRAIN_OWNER_IDS is empty: everything is stored, nobody gets replies",
        )
    server_api = (
        TelegramAPIServer.from_base(settings.api_server, is_local=settings.local_api)
        if settings.api_server
        else None
    )
    session = AiohttpSession(api=server_api) if server_api else AiohttpSession()
    bot = Bot(settings.token, session=session)
    api = BotApiClient(
        settings.token,
        api_server=settings.api_server or DEFAULT_API_SERVER,
        local_files=settings.local_api,
        timeout=settings.poll_timeout + 15,
    )
    files = _file_store(app, settings)
    limit = None if settings.local_api else app.max_download_bytes
    try:
        async with open_store(app.db_url, durable=True) as store:
            dp = Dispatcher()
            dp.include_router(build_router(store, settings))
            capture = install(
                dp,
                bot,
                store,
                files=files,
                spool=Spool(settings.spool_path),
                options=CaptureOptions(
                    bot_id=settings.bot_id, source="bot", max_download_bytes=limit
                ),
            )
            server = BotServer(capture=capture, api=api, settings=settings, store=store)
            await _serve(server, dp, bot, ready)
    finally:
        await api.aclose()
        await bot.session.close()
        if isinstance(files, SupabaseBucketFileStore):
            await files.aclose()
        log.info("bot_stopped")


async def _serve(server: BotServer, dp: Dispatcher, bot: Bot, ready: anyio.Event | None) -> None:
    """Serve until a signal; then stop intake, drain, and stop background work, in that order."""
    settings = server.settings
    runner = web.AppRunner(
        server.web_app(), shutdown_timeout=30, handle_signals=False, access_log=None
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.listen_host, settings.listen_port)
        await site.start()
        await dp.emit_startup(bot=bot, dispatcher=dp)
        tune_gc()
        log.info(
            "bot_started",
            mode="webhook" if settings.webhook_url else "polling",
            listen=f"{settings.listen_host}:{settings.listen_port}",
            bot_id=settings.bot_id,
        )
        async with anyio.create_task_group() as tg:
            if settings.webhook_url:
                tg.start_soon(_set_webhook, server.api, settings)
            else:
                tg.start_soon(_delete_webhook_then_poll, server.api, server)
            if ready is not None:
                ready.set()
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    log.info("shutdown_requested", signal=signal.Signals(signum).name)
                    break
            server.stopping.set()
            tg.cancel_scope.cancel()
    finally:
        server.stopping.set()
        with anyio.CancelScope(shield=True):
            await runner.cleanup()  # stops intake, waits for in-flight webhook captures
            await dp.emit_shutdown(bot=bot, dispatcher=dp)  # drains handlers, stops downloads


async def _set_webhook(api: BotApiClient, settings: BotSettings) -> None:
    params = {
        "url": settings.webhook_url,
        "secret_token": settings.secret_token,
        "allowed_updates": list(ALL_UPDATE_TYPES),
        "drop_pending_updates": False,
    }
    delay = 1.0
    while True:
        try:
            await api.call("setWebhook", params)
            log.info("webhook_set")
            return
        except BotApiError as exc:
            log.warning("set_webhook_failed", error=str(exc), retry_in=delay)
            await anyio.sleep(delay)
            delay = min(delay * 2, 300.0)


async def _delete_webhook_then_poll(api: BotApiClient, server: BotServer) -> None:
    try:
        await api.call("deleteWebhook", {"drop_pending_updates": False})
    except BotApiError as exc:
        log.warning("delete_webhook_failed", error=str(exc))
    await server.poll()
