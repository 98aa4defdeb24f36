"""One night of the analyzer, as the CronJob runs it: lock, analyze, tell the owners.

``superbrain nightly`` (the ``deploy/batch`` image's entry point) is a thin call
of :func:`run_nightly`; everything it decides lives here so a notebook or
another scheduler gets the same behaviour. Settings come from the environment,
the same variables the bot reads (``docs/configuration.md``).

Exit codes (:class:`NightlyResult.exit_code`), for the CronJob's history:

* 0 — every claimed message was processed and the owners were told;
* 1 — the store failed (raised as :class:`StorageError`; the CLI maps it);
* 2 — a setting is missing or malformed, found before any data is touched;
* 3 — some messages failed or were quarantined (they are retried next night);
* 4 — the run finished but a digest or question could not be delivered;
* 75 — another run holds the run lock; this one did nothing (EX_TEMPFAIL);
* 143 — stopped by SIGTERM (Kubernetes stopping the pod): claims released, the
  run recorded as ``interrupted``, the lock freed; the next run goes on from there.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import anyio
import attrs

from superbrain_core.analyzer.batch import (
    BatchOptions,
    BatchReport,
    ProgressCallback,
    default_worker_name,
    run_batch,
)
from superbrain_core.analyzer.classify.factory import make_classifier
from superbrain_core.analyzer.classify.schema import Classifier
from superbrain_core.analyzer.notify import DEFAULT_MAX_ASKS, Delivery, DigestSender, failed
from superbrain_core.botapi import DEFAULT_API_SERVER, BotApiClient
from superbrain_core.errors import ConfigError, RunLockHeld
from superbrain_core.logs import get_logger
from superbrain_core.settings import Settings, check_bot_token, int_setting, parse_owner_ids
from superbrain_core.storage import Store, open_store
from superbrain_core.storage.run_lock import DEFAULT_RUN_LOCK_TTL
from superbrain_core.taskgroups import single_errors

log = get_logger(__name__)

EXIT_OK = 0
EXIT_STORAGE_ERROR = 1
EXIT_CONFIG_ERROR = 2
EXIT_SOME_FAILED = 3
EXIT_NOT_DELIVERED = 4
EXIT_LOCKED = 75
EXIT_INTERRUPTED = 128 + signal.SIGTERM

#: The name of the analyzer's run lock (``superbrain batch`` takes it too).
RUN_LOCK = "batch"


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    return int_setting(env.get(name) or str(default), name, minimum=1)


@attrs.frozen(repr=False)
class NightlySettings:
    """What the nightly run needs on top of :class:`Settings`. ``repr`` hides the token."""

    classifier: str = "rules"
    concurrency: int = 16
    limit: int | None = None
    max_attempts: int = 5
    retry_quarantined: bool = False
    token: str | None = None
    owner_ids: frozenset[int] = frozenset()
    api_server: str = DEFAULT_API_SERVER
    lock_ttl: float = DEFAULT_RUN_LOCK_TTL
    max_asks: int = DEFAULT_MAX_ASKS
    """On how many nights one question is asked at most (``SUPERBRAIN_QUESTION_MAX_ASKS``)."""
    resend: bool = False
    """Send tonight's digests and questions again on purpose, as first sent; analyze nothing."""
    night: date | None = None
    """Which night the notifications belong to (default: today in the owner's time zone)."""
    lock_holder: str | None = None
    """Who holds the run lock (``SUPERBRAIN_RUN_HOLDER``); default: this process.

    The CronJob sets it to the Job's name, so a pod the Job starts again after
    one was killed can take over the lease its predecessor could not release,
    instead of waiting for it to expire.
    """

    def __repr__(self) -> str:
        return (
            f"NightlySettings(classifier={self.classifier!r}, owners={sorted(self.owner_ids)},"
            f" notify={self.notify})"
        )

    @property
    def notify(self) -> bool:
        """The digest is sent when a bot token is configured (printed either way)."""
        return self.token is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> NightlySettings:
        """Read and validate; errors name the variable and never echo a secret.

        A token without owners, or owners without a token, is a configuration
        error: either the digest would go nowhere or the owners would wait for
        it in vain. With neither, the run only prints the digest.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "classifier": (env.get("SUPERBRAIN_CLASSIFIER") or "rules").strip().lower(),
            "concurrency": _positive_int(env, "SUPERBRAIN_BATCH_CONCURRENCY", 16),
            "max_attempts": _positive_int(env, "SUPERBRAIN_MAX_ATTEMPTS", 5),
            "limit": (
                _positive_int(env, "SUPERBRAIN_BATCH_LIMIT", 1)
                if env.get("SUPERBRAIN_BATCH_LIMIT")
                else None
            ),
            "api_server": (env.get("TELEGRAM_API_SERVER") or DEFAULT_API_SERVER).rstrip("/"),
            "lock_holder": (env.get("SUPERBRAIN_RUN_HOLDER") or "").strip() or None,
            "max_asks": _positive_int(env, "SUPERBRAIN_QUESTION_MAX_ASKS", DEFAULT_MAX_ASKS),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        token = env.get("TELEGRAM_BOT_TOKEN") or None
        owners = parse_owner_ids(env.get("SUPERBRAIN_OWNER_IDS"))
        if token is not None:
            check_bot_token(token)
            if not owners:
                raise ConfigError(
                    "TELEGRAM_BOT_TOKEN is set but SUPERBRAIN_OWNER_IDS is empty:"
                    " nobody to send the digest to",
                    variable="SUPERBRAIN_OWNER_IDS",
                )
        elif values.get("resend"):
            raise ConfigError(
                "--resend needs TELEGRAM_BOT_TOKEN: there is nothing to send with",
                variable="TELEGRAM_BOT_TOKEN",
            )
        elif owners:
            raise ConfigError(
                "SUPERBRAIN_OWNER_IDS is set but TELEGRAM_BOT_TOKEN is not:"
                " the digest cannot be sent",
                variable="TELEGRAM_BOT_TOKEN",
            )
        return cls(token=token, owner_ids=owners, **values)


@attrs.define
class NightlyResult:
    """What one night did, and the exit code that sums it up."""

    exit_code: int
    report: BatchReport | None = None
    interrupted: bool = False
    """Stopped by a signal before it finished."""
    deliveries: list[Delivery] = attrs.field(factory=list)
    locked_by: RunLockHeld | None = None
    """Set when another run held the lock and this one did nothing."""


def exit_code_for(report: BatchReport, deliveries: list[Delivery]) -> int:
    """Unfiled messages outrank an undelivered digest: they need the owner's attention."""
    if not report.ok:
        return EXIT_SOME_FAILED
    if failed(deliveries):
        return EXIT_NOT_DELIVERED
    return EXIT_OK


async def run_nightly(
    settings: Settings,
    nightly: NightlySettings,
    *,
    store: Store | None = None,
    classifier: Classifier | None = None,
    api: BotApiClient | None = None,
    on_progress: ProgressCallback | None = None,
) -> NightlyResult:
    """Take the run lock, run the analyzer once, send the digest and the questions.

    Configuration errors raise :class:`ConfigError` before the store is opened;
    storage errors raise :class:`StorageError`. A held lock is not an error: the
    result says who holds it and carries :data:`EXIT_LOCKED`.

    ``store``, ``classifier`` and ``api`` replace what would be built from the
    settings (tests, notebooks, an embedding scheduler); ones passed in are not
    closed here.
    """
    chosen = classifier or make_classifier(nightly.classifier, connections=nightly.concurrency)
    own_store = store is None
    try:
        target = store or open_store(settings.db_url)
    except BaseException:
        if classifier is None:
            await chosen.aclose()
        raise
    own_api = api is None and nightly.token is not None
    bot_api = api or (
        BotApiClient(nightly.token, api_server=nightly.api_server) if nightly.token else None
    )
    worker = default_worker_name()
    options = BatchOptions(
        concurrency=nightly.concurrency,
        limit=nightly.limit,
        max_attempts=nightly.max_attempts,
        timezone=settings.timezone,
        worker=worker,
        exclusive=True,  # only ever run under the run lock below
    )
    try:
        if own_store:
            await target.open()
        try:
            holder = nightly.lock_holder or worker
            async with target.run_lock(RUN_LOCK, holder, ttl=nightly.lock_ttl):
                log.info("nightly_start", worker=worker, classifier=chosen.name)
                if nightly.resend:
                    return await _resend(bot_api, target, nightly, settings)
                if nightly.retry_quarantined:
                    requeued = await target.requeue_quarantined()
                    log.info("nightly_requeued_quarantined", count=requeued)
                report = await run_batch(target, chosen, options, on_progress=on_progress)
                deliveries: list[Delivery] = []
                if bot_api is not None:
                    sender = DigestSender(bot_api, target, max_asks=nightly.max_asks, holder=worker)
                    deliveries = await sender.send(
                        report, nightly.owner_ids, settings.zone, night=nightly.night
                    )
        except RunLockHeld as held:
            log.warning("nightly_locked", holder=held.holder, error=str(held))
            return NightlyResult(exit_code=EXIT_LOCKED, locked_by=held)
        code = exit_code_for(report, deliveries)
        log.info(
            "nightly_done",
            run_id=report.run_id,
            exit_code=code,
            processed=report.processed,
            failed=report.failed,
            quarantined=report.quarantined,
            questions=report.asked,
            delivered=sum(1 for d in deliveries if d.ok),
            undelivered=len(failed(deliveries)),
        )
        return NightlyResult(exit_code=code, report=report, deliveries=deliveries)
    finally:
        # Shielded, with a bound: a run stopped by a signal still closes its
        # connections within the pod's grace period.
        with anyio.move_on_after(15, shield=True):
            if own_api and bot_api is not None:
                await bot_api.aclose()
            if own_store:
                await target.close()
            if classifier is None:
                await chosen.aclose()


async def _resend(
    api: BotApiClient | None, store: Store, nightly: NightlySettings, settings: Settings
) -> NightlyResult:
    """``nightly --resend``: tonight's outbox sent again, nothing analyzed."""
    if api is None:
        raise ConfigError(
            "--resend needs TELEGRAM_BOT_TOKEN: there is nothing to send with",
            variable="TELEGRAM_BOT_TOKEN",
        )
    night = nightly.night or datetime.now(settings.zone).date()
    deliveries = await DigestSender(api, store, max_asks=nightly.max_asks).resend(night)
    log.info("nightly_resent", night=night.isoformat(), sent=sum(1 for d in deliveries if d.ok))
    code = EXIT_NOT_DELIVERED if failed(deliveries) else EXIT_OK
    return NightlyResult(exit_code=code, deliveries=deliveries)


async def run_nightly_until_stopped(
    settings: Settings,
    nightly: NightlySettings,
    *,
    on_progress: ProgressCallback | None = None,
) -> NightlyResult:
    """:func:`run_nightly` as a process runs it: SIGTERM or SIGINT stops it cleanly.

    Kubernetes stops a pod with SIGTERM (``activeDeadlineSeconds``, a drained
    node) and kills it after the grace period. Turned into cancellation, the
    signal lets the run release its claims, record itself as ``interrupted``
    and free the run lock within that grace period, so the next run (the Job's
    retry or the next night) starts at once and finds nothing half-done.
    """
    finished: list[NightlyResult] = []
    with single_errors():
        async with anyio.create_task_group() as tg:

            async def stop_on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as received:
                    async for signum in received:
                        log.warning("nightly_stopping", signal=signal.Signals(signum).name)
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(stop_on_signal)
            finished.append(await run_nightly(settings, nightly, on_progress=on_progress))
            tg.cancel_scope.cancel()
    if finished:
        return finished[0]
    return NightlyResult(exit_code=EXIT_INTERRUPTED, interrupted=True)


__all__ = [
    "EXIT_CONFIG_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_LOCKED",
    "EXIT_NOT_DELIVERED",
    "EXIT_OK",
    "EXIT_SOME_FAILED",
    "EXIT_STORAGE_ERROR",
    "RUN_LOCK",
    "NightlyResult",
    "NightlySettings",
    "exit_code_for",
    "run_nightly",
    "run_nightly_until_stopped",
]
