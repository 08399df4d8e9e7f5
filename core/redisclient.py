"""Redis clients for the request path: they give up fast, and share one pool per process.

The multi-node test (docs/deployment.md "Multi-node test") froze Redis with SIGSTOP: the
kernel still accepts connections, but nothing answers. A request then waited on every
Redis call, and since Django runs the synchronous views of a process one at a time, a
second of waiting per request became many seconds of queue. Three measures:

* every socket operation times out (``SMARTID_REDIS_TIMEOUT``, :func:`client_options`),
  with one immediate retry instead of redis-py's three with back-off;
* a process that has just seen Redis time out does not wait for it again for
  :data:`HOLD_SECONDS`: calls fail at once with ``redis.ConnectionError`` (the request
  answers 503, smartid/middleware.py), and the first call after that tries for real;
* :class:`SharedRedisCache` keeps one connection pool per process: Django's own
  ``RedisCache`` makes a cache object, so a pool and a new connection, per async context —
  under ASGI per request (hundreds of connections to Redis at a few requests a second).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property
from redis.backoff import NoBackoff
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.retry import Retry

#: How long a process leaves a Redis alone after it timed out (seconds).
HOLD_SECONDS = 1.0


class _Breaker:
    """Open for :data:`HOLD_SECONDS` after a timeout; an open breaker refuses at once."""

    def __init__(self) -> None:
        self.until = 0.0

    def check(self) -> None:
        if time.monotonic() < self.until:
            raise redis.ConnectionError(
                "Redis did not answer a moment ago; not waiting for it again yet"
            )

    def trip(self) -> None:
        self.until = time.monotonic() + HOLD_SECONDS


_breakers: dict[str, _Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(address: str) -> _Breaker:
    with _breakers_lock:
        return _breakers.setdefault(address, _Breaker())


class _Guarded:
    """Mixin for redis-py connections: a timeout trips the breaker of this Redis."""

    def _breaker(self) -> _Breaker:
        path = getattr(self, "path", "")
        host, port = getattr(self, "host", ""), getattr(self, "port", "")
        return breaker_for(path or f"{host}:{port}")

    def connect_check_health(self, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "_sock", None) is None:
            self._breaker().check()
        try:
            return super().connect_check_health(*args, **kwargs)  # type: ignore[misc]
        except redis.TimeoutError:
            self._breaker().trip()
            raise

    def send_packed_command(self, command: Any, check_health: bool = True) -> Any:
        self._breaker().check()
        try:
            return super().send_packed_command(command, check_health)  # type: ignore[misc]
        except redis.TimeoutError:
            self._breaker().trip()
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        except redis.TimeoutError:
            self._breaker().trip()
            raise


class GuardedConnection(_Guarded, Connection):
    pass


class GuardedSSLConnection(_Guarded, SSLConnection):
    pass


class GuardedUnixConnection(_Guarded, UnixDomainSocketConnection):
    pass


def client_options(url: str, *, timeout: float) -> dict[str, Any]:
    """Keyword arguments for ``redis.Redis.from_url(url, ...)`` (and the cache's OPTIONS):
    socket timeouts, one retry at once (a pooled connection that a restarted Redis closed
    is reopened without failing the call), and the guarded connection of ``url``'s kind."""
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 1),
    }
    if url.startswith("rediss://"):
        options["connection_class"] = GuardedSSLConnection
    elif url.startswith("unix://"):
        options["connection_class"] = GuardedUnixConnection
    elif url.startswith("redis://"):
        options["connection_class"] = GuardedConnection
    return options


class _ReusedClients(RedisCacheClient):
    """Django's client makes a ``redis.Redis`` object for every cache call (its constructor
    is a third of the cost of a ``cache.add`` on the request path); one per pool is enough,
    since a ``redis.Redis`` object is thread-safe and holds nothing but its pool."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reused: dict[int, redis.Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> redis.Redis:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._reused.get(id(pool))
        if client is None:
            client = self._reused[id(pool)] = redis.Redis(connection_pool=pool)
        return client


_clients: dict[tuple[str, ...], RedisCacheClient] = {}
_clients_lock = threading.Lock()


class SharedRedisCache(RedisCache):
    """Django's ``RedisCache`` with one client (one connection pool) per process and
    servers, whatever the thread or async context asks."""

    @cached_property
    def _cache(self) -> RedisCacheClient:
        # Django's stubs do not declare RedisCache's private attributes.
        servers: list[str] = self._servers  # type: ignore[attr-defined]
        options: dict[str, Any] = self._options  # type: ignore[attr-defined]
        key = (*servers, repr(sorted(options.items())))
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = _ReusedClients(servers, **options)
            return client


def shared_client() -> redis.Redis | None:
    """The redis-py client of the shared cache (its pool, its timeouts and breaker), for the
    commands Django's cache API has no word for (hashes, scripts); None when the cache is
    not Redis, i.e. in the embedded mode (no ``REDIS_URL``: settings.py makes the cache
    Redis exactly when that is set)."""
    from django.core.cache import caches

    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    client: redis.Redis = backend._cache.get_client(write=True)  # type: ignore[attr-defined]
    return client
