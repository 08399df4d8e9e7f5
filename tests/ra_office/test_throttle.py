"""The RA login throttle on its own: the delay schedule, the one-try-at-a-time claim, the
key (user name + address, IPv6 per /64) and forgetting a quiet pair."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from ra_office import throttle
from ra_office.throttle import Attempt, Throttled, attempt_begin, attempt_failed

T0 = 1_900_000_000.0  # a fixed "now" (epoch seconds); the functions take it as an argument


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> Iterator[None]:
    settings.RA_MAX_FAILED_LOGINS = 5
    settings.RA_LOCKOUT_MINUTES = 30
    cache.clear()
    yield
    cache.clear()


def _fail(username: str, address: str, now: float) -> throttle.Failure:
    return attempt_failed(attempt_begin(username=username, address=address, now=now), now=now)


def _lock(username: str, address: str) -> float:
    """Five failures, each after its wait: the pair is locked out; returns the last's time."""
    now = T0
    for wait in (1, 2, 4, 8):
        _fail(username, address, now)
        now += wait
    assert _fail(username, address, now).locked
    return now


def test_the_delay_doubles_then_is_the_lockout(settings: Any) -> None:
    assert [throttle.delay_after(n) for n in range(8)] == [0, 1, 2, 4, 8, 1800, 1800, 1800]
    settings.RA_MAX_FAILED_LOGINS = 20
    settings.RA_LOCKOUT_MINUTES = 1
    assert [throttle.delay_after(n) for n in (6, 7, 8, 19, 20)] == [32, 60, 60, 60, 60]


def test_a_try_during_the_wait_is_refused_with_the_time_left() -> None:
    now = T0
    for fails, wait in enumerate((1, 2, 4, 8), start=1):
        failure = _fail("olga", "192.0.2.1", now)
        assert (failure.fails, failure.retry_after, failure.locked) == (fails, wait, False)
        with pytest.raises(Throttled) as early:
            attempt_begin(username="olga", address="192.0.2.1", now=now + wait - 0.25)
        assert (early.value.retry_after, early.value.locked) == (1, False)
        now += wait
    failure = _fail("olga", "192.0.2.1", now)
    assert (failure.fails, failure.retry_after, failure.locked) == (5, 1800, True)
    with pytest.raises(Throttled) as locked:
        attempt_begin(username="olga", address="192.0.2.1", now=now + 600)
    assert (locked.value.retry_after, locked.value.locked) == (1200, True)
    after = attempt_begin(username="olga", address="192.0.2.1", now=now + 1800)
    assert after.fails == 5  # not forgotten yet: the next failure locks again


def test_one_try_at_a_time_per_pair() -> None:
    first = attempt_begin(username="olga", address="192.0.2.1", now=T0)
    with pytest.raises(Throttled) as busy:
        attempt_begin(username="olga", address="192.0.2.1", now=T0)
    assert (busy.value.retry_after, busy.value.locked) == (throttle.BUSY_SECONDS, False)
    other = attempt_begin(username="sven", address="192.0.2.1", now=T0)  # another pair
    throttle.attempt_release(other)
    throttle.attempt_release(first)  # the password was right: the count stays, slot free
    again = attempt_begin(username="olga", address="192.0.2.1", now=T0)
    assert again.fails == 0
    throttle.attempt_succeeded(again)


def test_racing_tries_claim_the_slot_once() -> None:
    count = 8
    barrier = threading.Barrier(count)
    claimed: list[Attempt] = []
    refused: list[Throttled] = []

    def race() -> None:
        barrier.wait()
        try:
            claimed.append(attempt_begin(username="olga", address="192.0.2.1", now=T0))
        except Throttled as exc:
            refused.append(exc)

    threads = [threading.Thread(target=race) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 1 and len(refused) == count - 1


def test_the_key_is_the_user_name_and_the_address() -> None:
    now = _lock("olga", "203.0.113.7")
    for username, address in [
        ("OLGA", "203.0.113.7"),  # user names compare case-insensitively
        ("olga", "::ffff:203.0.113.7"),  # IPv4 mapped into IPv6 is the same host
    ]:
        with pytest.raises(Throttled):
            attempt_begin(username=username, address=address, now=now + 60)
    for username, address in [("olga", "192.0.2.1"), ("sven", "203.0.113.7")]:
        attempt = attempt_begin(username=username, address=address, now=now + 60)
        assert attempt.fails == 0
        throttle.attempt_release(attempt)


def test_ipv6_counts_per_64() -> None:
    now = _lock("olga", "2001:db8:1:2::7")
    with pytest.raises(Throttled):  # the same /64: the same subscriber
        attempt_begin(username="olga", address="2001:db8:1:2:ffff::9", now=now + 60)
    attempt = attempt_begin(username="olga", address="2001:db8:1:3::7", now=now + 60)
    assert attempt.fails == 0


def test_a_quiet_pair_starts_afresh() -> None:
    now = _lock("olga", "192.0.2.1")
    # The 30-minute wait, then 30 quiet minutes: forgotten.
    attempt = attempt_begin(username="olga", address="192.0.2.1", now=now + 3600 + 1)
    assert attempt.fails == 0
    assert attempt_failed(attempt, now=now + 3601).retry_after == 1


def test_the_cache_never_holds_the_user_name() -> None:
    attempt = attempt_begin(username="olga-secret-name", address="192.0.2.1", now=T0)
    assert "olga" not in attempt.key and "192.0.2.1" not in attempt.key
    assert "olga" not in attempt.claim_key
