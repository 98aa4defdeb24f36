"""The analyzer's run lock: at most one run at a time, whatever the backend.

Per-message leases already make two overlapping runs safe; the run lock makes
them not happen, so a retried Job or a manual re-run during the night exits at
once instead of doing half the work and sending a second digest. Each backend
holds it differently (a file lock on SQLite, a session advisory lock on
Postgres, a lease row through PostgREST on Supabase); this module holds what
they share: the description of a held lock and the heartbeat that keeps a
lease alive while the run works.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import anyio
import attrs

from superbrain_core.errors import RunLockHeld, StorageError
from superbrain_core.logs import get_logger
from superbrain_core.taskgroups import single_errors

log = get_logger(__name__)

#: A lease outlives its holder by at most this long when the process dies
#: without releasing it (only leases need it; file and session locks die with
#: their process). Renewed every third of it, so a run that was ``kill -9``'d
#: keeps the next one out for a minute at most.
DEFAULT_RUN_LOCK_TTL = 60.0


@attrs.frozen
class RunLock:
    """A lock this process holds: which, as whom, since when, and how."""

    name: str
    holder: str
    acquired_at: datetime
    mechanism: str
    """``file``, ``advisory`` (with a lease row beside it) or ``lease``."""


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def lease_answer(name: str, answer: Any) -> tuple[str | None, datetime | None]:
    """Holder and start time from ``superbrain_try_run_lock``'s JSON answer.

    Raises :class:`RunLockHeld` when the answer says the lock was not acquired.
    """
    if not isinstance(answer, dict) or not isinstance(answer.get("acquired"), bool):
        raise StorageError(f"run lock {name!r}: unexpected answer {answer!r}")
    holder = answer.get("holder")
    since = parse_time(answer.get("acquired_at"))
    if not answer["acquired"]:
        raise RunLockHeld(name, holder if isinstance(holder, str) else None, since)
    return (holder if isinstance(holder, str) else None), since


@contextlib.asynccontextmanager
async def heartbeat(
    name: str,
    renew: Callable[[], Awaitable[bool]],
    *,
    every: float,
) -> AsyncIterator[None]:
    """Renew a lease every ``every`` seconds while the body runs.

    A renewal that fails is logged and tried again at the next beat: losing the
    run lock cannot lose data (the per-message leases still guard every row), so
    it must not abort a run that is filing messages. A lock found taken over by
    someone else is logged as an error for the same reason.
    """

    async def beat() -> None:
        while True:
            await anyio.sleep(every)
            try:
                still_ours = await renew()
            except StorageError as exc:
                log.warning("run_lock_renew_failed", lock=name, error=str(exc))
                continue
            if not still_ours:
                log.error("run_lock_lost", lock=name)

    # The beat never raises, so an error is the body's own: it surfaces as itself.
    with single_errors():
        async with anyio.create_task_group() as tg:
            tg.start_soon(beat)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def lease_run_lock(
    name: str,
    holder: str,
    ttl: float,
    rpc: Callable[[str, dict[str, Any]], Awaitable[Any]],
) -> AsyncIterator[RunLock]:
    """A lease row taken, renewed and released through SQL functions (``rpc``).

    For backends without a session that outlives one request (PostgREST): the
    lease expires ``ttl`` seconds after the last renewal, which is how long a
    run that died without releasing it blocks the next one.
    """
    ttl_s = max(1, round(ttl))
    answer = await rpc(
        "superbrain_try_run_lock",
        {"p_name": name, "p_holder": holder, "p_ttl_seconds": ttl_s, "p_session_lock": False},
    )
    _, since = lease_answer(name, answer)

    async def renew() -> bool:
        params = {"p_name": name, "p_holder": holder, "p_ttl_seconds": ttl_s}
        return bool(await rpc("superbrain_renew_run_lock", params))

    try:
        async with heartbeat(name, renew, every=ttl_s / 3):
            yield RunLock(
                name=name, holder=holder, acquired_at=since or datetime.now(UTC), mechanism="lease"
            )
    finally:
        with anyio.CancelScope(shield=True):
            try:
                await rpc("superbrain_release_run_lock", {"p_name": name, "p_holder": holder})
            except StorageError as exc:
                # The lease then expires on its own after ttl; nothing is lost.
                log.warning("run_lock_release_failed", lock=name, error=str(exc))


def _lock_file(handle: IO[bytes]) -> bool:
    """Try to take an exclusive lock on an open file without waiting."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.asynccontextmanager
async def file_lock(
    path: Path, name: str, holder: str, *, private: bool = False
) -> AsyncIterator[RunLock]:
    """An exclusive lock on ``path`` for the duration of the body.

    The operating system frees it when the process dies, so a killed run never
    blocks the next night. The file keeps the holder's description for the
    message a refused run prints; it is never deleted (deleting a lock file
    races with a process that has just opened it), unless ``private``: a path only
    this process can know (an in-memory database's) is removed afterwards.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A local lock file opens at once; the handle lives as long as the body.
    handle = open(path, "a+b")  # noqa: SIM115, ASYNC230
    try:
        if not _lock_file(handle):
            handle.seek(0)
            try:
                known = json.loads(handle.read().decode("utf-8") or "{}")
            except (ValueError, UnicodeDecodeError):
                known = {}
            raise RunLockHeld(
                name,
                known.get("holder") if isinstance(known, dict) else None,
                parse_time(known.get("acquired_at")) if isinstance(known, dict) else None,
            )
        now = datetime.now(UTC)
        handle.seek(0)
        handle.truncate()
        record = {
            "name": name,
            "holder": holder,
            "pid": os.getpid(),
            "acquired_at": now.isoformat(),
        }
        handle.write(json.dumps(record).encode("utf-8"))
        handle.flush()
        yield RunLock(name=name, holder=holder, acquired_at=now, mechanism="file")
    finally:
        handle.close()  # closing the descriptor releases the lock
        if private:
            path.unlink(missing_ok=True)  # noqa: ASYNC240 - a local empty file


__all__ = [
    "DEFAULT_RUN_LOCK_TTL",
    "RunLock",
    "file_lock",
    "heartbeat",
    "lease_answer",
    "lease_run_lock",
    "parse_time",
]
