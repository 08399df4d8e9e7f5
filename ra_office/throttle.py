"""The RA office login throttle: per user name and client address, with a growing delay.

Each wrong password or TOTP code from one (user name, address) pair makes that pair wait
longer before its next try is even looked at: 1, 2, 4, 8 … seconds, and from the
``RA_MAX_FAILED_LOGINS``-th failure on, ``RA_LOCKOUT_MINUTES``. A successful login clears
the pair; a pair quiet for ``RA_LOCKOUT_MINUTES`` after its wait ended starts afresh.

Why this key: a lock on the officer alone would let anybody who knows an officer's user
name lock them out of their own branch from anywhere. Keyed to the address too, guesses
from elsewhere slow down only elsewhere. The user name is part of the key whether or not
it belongs to anyone, so the throttle answers an unknown name exactly as a known one.
IPv6 addresses count per /64 (one subscriber's usual allocation), or a single host could
rotate through its 2^64 addresses for fresh tries.

The state lives in Django's cache (Redis in production), shared by every web node. Tries
are serialised with ``cache.add``, which is atomic on every backend: a try claims the slot
"after n failures"; only one request at a time can hold it, and only its holder moves the
count to n + 1 — so a burst of parallel guesses, spread over several nodes, still gets one
guess per wait, never one per request.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

KEY_PREFIX = "ra-login"
FIRST_DELAY_SECONDS = 1
# A claimed try that never finishes (its worker died) frees the slot after this long.
CLAIM_SECONDS = 30
# A request that finds the slot taken (a double submit) is told to wait this long.
BUSY_SECONDS = 1


class Throttled(Exception):
    """Not now: the pair must wait ``retry_after`` seconds (``locked``: it is locked out)."""

    def __init__(self, retry_after: int, *, locked: bool) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after
        self.locked = locked


@dataclass(frozen=True)
class Attempt:
    """A claimed try: ``fails`` failures came before it. End it with one of
    :func:`attempt_failed`, :func:`attempt_succeeded` or :func:`attempt_release` (a try
    that ends in an error frees its slot after ``CLAIM_SECONDS``)."""

    key: str
    fails: int

    @property
    def claim_key(self) -> str:
        return f"{self.key}:try:{self.fails}"


@dataclass(frozen=True)
class Failure:
    """After a failure: the count, the wait before the next try, and whether that wait is
    the lock-out (the count reached ``RA_MAX_FAILED_LOGINS``)."""

    fails: int
    retry_after: int
    locked: bool


def _lockout_seconds() -> int:
    return int(settings.RA_LOCKOUT_MINUTES) * 60


def delay_after(fails: int) -> int:
    """Seconds to wait after ``fails`` failures in a row before the next try counts."""
    if fails <= 0:
        return 0
    if fails >= settings.RA_MAX_FAILED_LOGINS:
        return _lockout_seconds()
    growing: int = FIRST_DELAY_SECONDS << (fails - 1)
    return min(growing, _lockout_seconds())


def _address_group(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # no usable address (a test client): still one key for it
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _pair_key(username: str, address: str) -> str:
    # Hashed: the cache never holds typed user names (or passwords typed into that field).
    text = f"{username.casefold()}\n{_address_group(address)}"
    return f"{KEY_PREFIX}:{hashlib.sha256(text.encode()).hexdigest()[:40]}"


def _state(key: str, now: float) -> tuple[int, float]:
    """(failures, time of the last one); a pair quiet long enough counts from zero."""
    stored = cache.get(key)
    if not (isinstance(stored, list | tuple) and len(stored) == 2):
        return 0, 0.0
    fails, last = int(stored[0]), float(stored[1])
    if now - last > delay_after(fails) + _lockout_seconds():
        return 0, 0.0
    return fails, last


def attempt_begin(*, username: str, address: str, now: float | None = None) -> Attempt:
    """Claim the next try of this pair, or raise :class:`Throttled` with the wait."""
    now = time.time() if now is None else now
    key = _pair_key(username, address)
    fails, last = _state(key, now)
    wait = last + delay_after(fails) - now if fails else 0.0
    locked = fails >= settings.RA_MAX_FAILED_LOGINS
    if wait > 0:
        raise Throttled(math.ceil(wait), locked=locked)
    attempt = Attempt(key=key, fails=fails)
    if not cache.add(attempt.claim_key, 1, timeout=CLAIM_SECONDS):
        raise Throttled(BUSY_SECONDS, locked=False)  # this slot's guess is being checked
    return attempt


def attempt_failed(attempt: Attempt, *, now: float | None = None) -> Failure:
    """Count the failure and free the slot; the pair now waits ``retry_after`` seconds."""
    now = time.time() if now is None else now
    fails = attempt.fails + 1
    wait = delay_after(fails)
    # Only the holder of slot n writes n + 1: no other request can be between the two.
    cache.set(attempt.key, [fails, now], timeout=wait + _lockout_seconds() + 60)
    cache.delete(attempt.claim_key)
    return Failure(fails=fails, retry_after=wait, locked=fails >= settings.RA_MAX_FAILED_LOGINS)


def attempt_succeeded(attempt: Attempt) -> None:
    """The whole login succeeded: the pair starts afresh."""
    cache.delete_many([attempt.key, attempt.claim_key])


def attempt_release(attempt: Attempt) -> None:
    """This step was right but the login is not done (the password, before the TOTP
    code): free the slot and keep the count, so the next step waits as the pair must."""
    cache.delete(attempt.claim_key)
