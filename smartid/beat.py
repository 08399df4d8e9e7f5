"""Exactly one ``celery beat``: a heartbeat key in Redis that only one beat may own.

Two beats would send every periodic task twice (two CRLs an hour, two sweeps every five
seconds); nothing breaks at once, so nobody notices. So beat's scheduler takes the key
``smartid:beat:heartbeat`` (``SET NX`` with a TTL) when it starts and renews it on every
tick while it still owns it:

* a second beat that finds the key owned by a live beat waits one TTL (a restarted beat
  whose predecessor died waits for the old key to expire), then refuses to start and
  leaves ``smartid:beat:conflict`` behind for a while;
* a running beat that finds another owner on renewal (a Redis that lost the key while two
  beats ran) logs an error and sets the same flag.

``/health/ready`` (``smartid.health``) is not ready while the flag is set or while no beat
renews the heartbeat. Without ``REDIS_URL`` (the embedded mode) there is no lock: tasks
run eagerly and beat has nothing to do.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from typing import Any

import redis
from celery.beat import PersistentScheduler
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "smartid:beat:heartbeat"
CONFLICT_KEY = "smartid:beat:conflict"
#: Seconds between renewals, and how long a key outlives its last renewal.
INTERVAL = 5
TTL = 20
#: How long the conflict flag stays after it was last set.
CONFLICT_TTL = 300

# Renew only if we own the key (or nobody does); 0 = another beat owns it.
_RENEW = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] or owner == false then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
    return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class BeatLock:
    """The heartbeat key of one beat process (``owner``: host, pid and a random part)."""

    def __init__(self, client: redis.Redis, owner: str | None = None, ttl: int = TTL) -> None:
        self.client = client
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.ttl = ttl

    def holder(self) -> str | None:
        value = self.client.get(HEARTBEAT_KEY)
        return value.decode() if isinstance(value, bytes) else value

    def acquire(self, *, wait: float = 0.0, poll: float = 1.0) -> bool:
        """Take the key, waiting up to ``wait`` seconds for another owner's to expire.
        On failure the conflict flag is set (the readiness check reports it)."""
        deadline = time.monotonic() + wait
        while True:
            if self.client.set(HEARTBEAT_KEY, self.owner, nx=True, ex=self.ttl):
                return True
            if self.holder() == self.owner:
                return True
            if time.monotonic() >= deadline:
                self._conflict(self.holder())
                return False
            time.sleep(poll)

    def renew(self) -> bool:
        """Renew our key; False (and the conflict flag) if another beat owns it."""
        if self.client.eval(_RENEW, 1, HEARTBEAT_KEY, self.owner, self.ttl):
            return True
        self._conflict(self.holder())
        return False

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, HEARTBEAT_KEY, self.owner)

    def _conflict(self, other: str | None) -> None:
        message = f"beat {self.owner} found the heartbeat owned by beat {other}"
        self.client.set(CONFLICT_KEY, message, ex=CONFLICT_TTL)
        logger.error("two celery beats: %s", message)


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


class HeartbeatScheduler(PersistentScheduler):
    """Celery's file-backed scheduler, plus the one-beat heartbeat (module docstring)."""

    #: Seconds a starting beat waits for another beat's key to expire.
    start_wait: float = TTL + INTERVAL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lock: BeatLock | None = None
        self._renewed = 0.0
        if settings.REDIS_URL and not kwargs.get("lazy"):
            lock = BeatLock(redis_client())
            if not lock.acquire(wait=self.start_wait):
                raise ImproperlyConfigured(
                    f"Another celery beat is running ({lock.holder()}); run exactly one."
                )
            self._lock = lock
            self._renewed = time.monotonic()
            logger.info("beat heartbeat taken by %s", lock.owner)
        super().__init__(*args, **kwargs)
        self.max_interval = min(self.max_interval or INTERVAL, INTERVAL)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self._lock is not None and time.monotonic() - self._renewed >= INTERVAL:
            try:
                self._lock.renew()
            except redis.RedisError:
                logger.exception("beat heartbeat: Redis unavailable")
            self._renewed = time.monotonic()
        return float(super().tick(*args, **kwargs))

    def close(self) -> None:
        super().close()
        if self._lock is not None:
            try:
                self._lock.release()
            except redis.RedisError:
                logger.warning("beat heartbeat: could not release the key")
            self._lock = None
