"""The PIN-try schedule (spec §4, invariant 7) as pure functions of (state, now).

``fails`` counts consecutive wrong PINs. After a failure that brings the count to f:

* f = 3 → locked for 3 h;
* f = 6 → locked for 24 h;
* f ≥ 9 → revoked (certificates revoked, key destroyed, re-registration needed).

A success resets the count to 0. While locked or revoked, no try is accepted at all:
:func:`after_failure` and :func:`after_success` raise :class:`KeyLocked` /
:class:`KeyRevoked`, so the schedule can never be cut short. Each key (PIN1 and PIN2) has
its own state, hence independent counters. ``now`` is passed in (timezone-aware).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from signing.engine.errors import InvalidInteger, InvalidTimestamp, KeyLocked, KeyRevoked

#: Lock durations keyed by the failure count that triggers them.
LOCK_SCHEDULE: dict[int, timedelta] = {3: timedelta(hours=3), 6: timedelta(hours=24)}
#: Failure count at which the key is revoked.
REVOKE_AT = 9


def require_aware(now: datetime) -> datetime:
    """Return ``now`` if it is a timezone-aware datetime; raise :class:`InvalidTimestamp`."""
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InvalidTimestamp("now must be a timezone-aware datetime")
    return now


@dataclass(frozen=True)
class LockState:
    """Consecutive failures, the end of the current lock (if any), and the revoked flag."""

    fails: int = 0
    locked_until: datetime | None = None
    revoked: bool = False

    def __post_init__(self) -> None:
        if type(self.fails) is not int or self.fails < 0:
            raise InvalidInteger("fails must be a non-negative int")
        if self.locked_until is not None:
            require_aware(self.locked_until)


def is_locked(state: LockState, now: datetime) -> bool:
    """True while now < locked_until (the time lock only; see :func:`check_usable`)."""
    require_aware(now)
    return state.locked_until is not None and now < state.locked_until


def check_usable(state: LockState, now: datetime) -> None:
    """Raise :class:`KeyRevoked` or :class:`KeyLocked` if no PIN try may be made now."""
    if state.revoked:
        raise KeyRevoked("key revoked")
    if is_locked(state, now):
        assert state.locked_until is not None  # noqa: S101 - narrowed by is_locked
        raise KeyLocked(state.locked_until)


def after_failure(state: LockState, now: datetime) -> LockState:
    """State after one more wrong PIN at ``now``: count + 1, lock or revoke per the schedule."""
    check_usable(state, now)
    fails = state.fails + 1
    if fails >= REVOKE_AT:
        return LockState(fails=fails, locked_until=None, revoked=True)
    duration = LOCK_SCHEDULE.get(fails)
    return LockState(fails=fails, locked_until=now + duration if duration else None)


def after_success(state: LockState, now: datetime) -> LockState:
    """State after a correct PIN: the count resets to 0."""
    check_usable(state, now)
    return LockState()
