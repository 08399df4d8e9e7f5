"""The event bus that wakes long polls: in-process, or Redis pub/sub across processes.

A long poll registers a waiter *before* it reads the database, then waits; a service
publishes after its transaction commits. So a wake-up can never fall between the read
and the wait. A wake-up carries no data: the waiter re-reads the database.

* In-process (no ``REDIS_URL``): waiters are ``asyncio.Event``s of this process.
* Redis: each process keeps ONE subscriber connection (pattern ``smartid:*``) that fans
  messages out to its local waiters, so ten thousand open polls cost ten thousand
  events, not ten thousand Redis connections.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from django.conf import settings

logger = logging.getLogger(__name__)

PREFIX = "smartid:"
T = TypeVar("T")


class _Waiters:
    """Channel → events of waiting coroutines (each with the loop it waits in)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_channel: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = (
            defaultdict(set)
        )

    def add(self, channel: str) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._by_channel[channel].add(entry)
        return entry

    def remove(self, channel: str, entry: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            waiters = self._by_channel.get(channel)
            if waiters is not None:
                waiters.discard(entry)
                if not waiters:
                    del self._by_channel[channel]

    def wake(self, channel: str) -> None:
        with self._lock:
            entries = list(self._by_channel.get(channel, ()))
        for loop, event in entries:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed: its waiter is gone
                pass

    def count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._by_channel.values())


_waiters = _Waiters()
_listener_lock = threading.Lock()
_listeners: dict[asyncio.AbstractEventLoop, tuple[asyncio.Task[None], asyncio.Event]] = {}
_publisher: Any = None


def _redis_url() -> str:
    return str(settings.REDIS_URL)


def publish(channel: str) -> None:
    """Wake every waiter of ``channel`` in every process. Call after commit."""
    if not _redis_url():
        _waiters.wake(channel)
        return
    global _publisher
    import redis  # optional: loaded only when a REDIS_URL is configured

    if _publisher is None:
        # Short timeouts (settings.REDIS_CLIENT_OPTIONS): a publish runs in the request that
        # committed, and a frozen Redis must not hold that request.
        _publisher = redis.Redis.from_url(_redis_url(), **settings.REDIS_CLIENT_OPTIONS)
    try:
        _publisher.publish(PREFIX + channel, b"1")
    except redis.RedisError:
        # Waiters still wake at their deadline and re-read the database; log, do not fail
        # the business operation that has already committed.
        logger.exception("event bus: publish to %s failed", channel)


async def _listen(ready: asyncio.Event) -> None:
    import redis.asyncio as aioredis  # optional: loaded only when a REDIS_URL is configured

    while True:
        client = aioredis.Redis.from_url(_redis_url())
        try:
            pubsub = client.pubsub()
            await pubsub.psubscribe(PREFIX + "*")
            ready.set()
            async for message in pubsub.listen():
                if message.get("type") == "pmessage":
                    channel = message["channel"]
                    if isinstance(channel, bytes):
                        channel = channel.decode()
                    _waiters.wake(channel[len(PREFIX) :])
        except asyncio.CancelledError:
            raise
        except Exception:
            ready.clear()
            logger.exception("event bus: subscriber lost; reconnecting")
            await asyncio.sleep(0.5)
        finally:
            await client.aclose()


async def _ensure_listener() -> None:
    """Start this loop's subscriber once and wait (briefly) until it is subscribed."""
    loop = asyncio.get_running_loop()
    with _listener_lock:
        current = _listeners.get(loop)
        if current is None or current[0].done():
            ready = asyncio.Event()
            current = (loop.create_task(_listen(ready)), ready)
            _listeners[loop] = current
    if not current[1].is_set():
        # Without Redis the poll still ends at its deadline and re-reads the database.
        await wait(current[1], 2.0)


@asynccontextmanager
async def subscription(channel: str) -> AsyncIterator[asyncio.Event]:
    """Register a waiter for ``channel``; the yielded event is set on a publish."""
    if _redis_url():
        await _ensure_listener()
    entry = _waiters.add(channel)
    try:
        yield entry[1]
    finally:
        _waiters.remove(channel, entry)


async def wait(event: asyncio.Event, timeout: float) -> bool:
    """Wait for ``event`` up to ``timeout`` seconds; True if it was set."""
    try:
        await asyncio.wait_for(event.wait(), timeout=max(timeout, 0.0))
    except TimeoutError:
        return False
    return True


def _never(_result: object) -> float | None:
    return None


async def long_poll(
    channel: str,
    read: Callable[[], Awaitable[T]],
    *,
    done: Callable[[T], bool],
    deadline: float,
    recheck_in: Callable[[T], float | None] = _never,
) -> T:
    """Read until ``done(result)`` or the ``deadline`` (a ``time.monotonic()`` instant),
    waking on every publish to ``channel``; return the last read.

    The waiter is registered before the first read, and the event is cleared before each
    read, so a publish during a read still wakes the next wait. ``recheck_in(result)``
    may shorten a wait (seconds), e.g. to notice a timeout that nobody publishes. ``read``
    must give its database connection back (``core.asyncdb.db_to_async``): an open poll
    holds none while it waits.
    """
    async with subscription(channel) as event:
        while True:
            event.clear()  # before the read: a publish during the read still wakes us
            result = await read()
            remaining = deadline - time.monotonic()
            if done(result) or remaining <= 0:
                return result
            later = recheck_in(result)
            if later is not None:
                remaining = min(remaining, later)
            await wait(event, remaining)


def waiting() -> int:
    """Number of registered waiters in this process (for health and benchmarks)."""
    return _waiters.count()
