"""Reaching a store shared by parallel jobs: transient errors, bounded retries, the creation lock.

"database is locked" (SQLite writers colliding) and an unreachable server are retried with
jittered exponential backoff for a bounded time (:func:`retry`); creating or migrating a SQLite
store happens under an inter-process ``flock`` beside the database (:func:`store_lock`); each
process counts its store calls (:func:`call_stats`, kept in a job's ``status.json``).
"""

from __future__ import annotations

import contextvars
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from oneclass.errors import ConfigError, StoreError, first_line
from oneclass.tracking.uris import redact, sqlite_path

DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_RETRY_TIMEOUT_S = 60.0
_LOCKED = ("database is locked", "database table is locked", "busy", "deadlock", "could not obtain lock",
           "temporarily unavailable")
_UNREACHABLE = ("connection", "max retries exceeded", "timed out", "timeout", "error responses", "could not connect",
                "server closed", "name or service not known", "name resolution", "503", "502", "504")
_jitter = random.Random()  # never the global RNG: that belongs to the job's seed
_patient = contextvars.ContextVar("oneclass_patient_store", default=False)
_stats: dict[str, Any] = {}  # this process's store calls since reset_call_stats(): count, time, slowest
log = logging.getLogger(__name__)


def reset_call_stats() -> None:
    _stats.clear()
    _stats.update(calls=0, retries=0, total_s=0.0, slowest_s=0.0, slowest_call="")


def call_stats() -> dict[str, Any]:
    """Store calls made by this process since :func:`reset_call_stats` (a job's ``status.json`` keeps them)."""
    return {**_stats, "total_s": round(_stats.get("total_s", 0.0), 4), "slowest_s": round(_stats.get("slowest_s", 0.0), 4)}


reset_call_stats()


def record_call(name: str, took: float) -> None:
    """Count one store call of ``took`` seconds (:func:`call_stats`)."""
    _stats["calls"] += 1
    _stats["total_s"] += took
    if took > _stats["slowest_s"]:
        _stats["slowest_s"], _stats["slowest_call"] = took, name


def is_locked(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(t in text for t in _LOCKED)


def is_unreachable(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(t in text for t in _UNREACHABLE)


def is_transient(exc: BaseException) -> bool:
    """A store error worth retrying (lock contention, a server momentarily unreachable)."""
    return not isinstance(exc, (ConfigError, StoreError)) and (is_locked(exc) or is_unreachable(exc))


def cause(exc: BaseException) -> str:
    """The root cause of a store error in a few words (MLflow's HTTP messages run to 500 characters)."""
    text = str(exc)
    if m := re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text):
        return m.group(1).strip().rstrip(".").lower()
    if m := re.search(r"too many (\d+) error responses", text):
        return f"the server answers HTTP {m.group(1)} (is its database down?)"
    if "timed out" in text.lower():
        return "no answer (timed out)"
    return first_line(exc)[:300]


def retry(fn: Callable[..., Any], *args: Any, timeout_s: float = DEFAULT_RETRY_TIMEOUT_S, what: str = "",
          **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, retried on transient store errors for at most ``timeout_s`` seconds
    (0.1 s doubling to 5 s, jittered); ``timeout_s=0``: one attempt. Other errors raise at once."""
    deadline = time.monotonic() + timeout_s
    delay, attempt, warned = 0.1, 0, False
    while True:
        attempt += 1
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            left = deadline - time.monotonic()
            if left <= 0 or not is_transient(exc):
                raise
            name = getattr(fn, "__name__", repr(fn))
            _stats["retries"] = _stats.get("retries", 0) + 1
            if is_unreachable(exc) and not warned:
                log.warning("tracking store %s unreachable (%s); retrying for up to %.0f s", what or "", cause(exc), left)
                warned = True
            else:
                log.debug("tracking call %s failed (%s); retry %d in %.1f s", name, cause(exc), attempt, delay)
            time.sleep(min(left, delay * (0.5 + _jitter.random())))
            delay = min(delay * 2, 5.0)


def is_patient() -> bool:
    """Inside :func:`patient_store`: a store that is down at job start is waited for, not failed."""
    return _patient.get()


@contextmanager
def patient_store() -> Iterator[None]:
    """Inside a sweep job (the sweep already reached the store): a store that is down when the job
    starts is waited for ``retry_timeout_s`` like a restart, not failed after ``connect_timeout_s``."""
    token = _patient.set(True)
    try:
        yield
    finally:
        _patient.reset(token)


@contextmanager
def store_lock(uri: str, timeout_s: float = 120.0) -> Iterator[None]:
    """Inter-process lock ``<database>.lock`` held while a SQLite store is opened (created or
    migrated); nothing for other stores. An fcntl lock: it goes with its process, never stale."""
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    import fcntl

    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # as MLflow would when it creates the store
        handle = open(f"{path}.lock", "a")
    except OSError as exc:
        raise StoreError(f"cannot use the SQLite store {redact(uri)}: cannot create {redact(str(path))}.lock beside it "
                         f"({exc.strerror or exc}); pick a writable folder with logger.tracking_uri") from None
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(f"waited {timeout_s:.0f} s for {redact(str(path))}.lock: another command is still "
                                     "creating this MLflow store (a hung process? see `ps`)") from None
                time.sleep(0.05)
        yield
    finally:
        handle.close()  # releases the lock


def count_runs(path: Path) -> int | None:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    except Exception:
        return None
