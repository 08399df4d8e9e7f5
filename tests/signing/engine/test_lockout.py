"""The PIN-try schedule (invariant 7 at the function level) and its Hypothesis property."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.engine import (
    LOCK_SCHEDULE,
    REVOKE_AT,
    KeyLocked,
    KeyRevoked,
    LockState,
    after_failure,
    after_success,
    check_usable,
    is_locked,
)
from signing.engine.errors import InvalidInteger, InvalidTimestamp

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def test_schedule_constants() -> None:
    assert LOCK_SCHEDULE == {3: timedelta(hours=3), 6: timedelta(hours=24)}
    assert REVOKE_AT == 9


def test_full_schedule() -> None:
    state = LockState()
    now = T0
    state = after_failure(state, now)
    state = after_failure(state, now)
    assert state.fails == 2 and not is_locked(state, now)  # two wrong PINs are fine
    state = after_failure(state, now)
    assert state.fails == 3 and state.locked_until == now + timedelta(hours=3)
    assert is_locked(state, now + timedelta(hours=3) - TICK)
    assert not is_locked(state, now + timedelta(hours=3))
    with pytest.raises(KeyLocked) as info:
        after_success(state, now + timedelta(hours=1))  # even the right PIN is refused
    assert info.value.locked_until == now + timedelta(hours=3)
    with pytest.raises(KeyLocked):
        after_failure(state, now + timedelta(hours=3) - TICK)

    now += timedelta(hours=3)
    state = after_failure(after_failure(state, now), now)
    assert state.fails == 5 and not is_locked(state, now)
    state = after_failure(state, now)
    assert state.fails == 6 and state.locked_until == now + timedelta(hours=24)
    assert is_locked(state, now + timedelta(hours=24) - TICK)
    with pytest.raises(KeyLocked):
        check_usable(state, now + timedelta(hours=23))

    now += timedelta(hours=24)
    state = after_failure(after_failure(state, now), now)
    assert state.fails == 8 and not state.revoked
    state = after_failure(state, now)
    assert state.fails == 9 and state.revoked
    for later in (now, now + timedelta(days=365)):
        with pytest.raises(KeyRevoked):
            after_success(state, later)
        with pytest.raises(KeyRevoked):
            after_failure(state, later)


def test_success_resets_the_count() -> None:
    state = after_failure(after_failure(LockState(), T0), T0)
    state = after_success(state, T0)
    assert state == LockState()
    state = after_failure(after_failure(state, T0), T0)
    assert state.fails == 2 and not is_locked(state, T0)


def test_bad_arguments() -> None:
    with pytest.raises(InvalidTimestamp):
        is_locked(LockState(), datetime(2026, 1, 1))  # noqa: DTZ001 - naive on purpose
    with pytest.raises(InvalidTimestamp):
        after_failure(LockState(), "now")  # type: ignore[arg-type]
    with pytest.raises(InvalidTimestamp):
        LockState(fails=3, locked_until=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(InvalidInteger):
        LockState(fails=-1)
    with pytest.raises(InvalidInteger):
        LockState(fails=1.0)  # type: ignore[arg-type]


events = st.lists(
    st.tuples(
        st.sampled_from(["fail", "success", "query"]),
        st.integers(min_value=0, max_value=30 * 3600),  # seconds to advance
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_lock_never_ends_early_and_matches_the_reference_model(
    sequence: list[tuple[str, int]],
) -> None:
    state = LockState()
    now = T0
    model_fails, model_end, model_revoked = 0, None, False
    promised_until: datetime | None = None  # the longest lock announced so far
    for kind, seconds in sequence:
        now += timedelta(seconds=seconds)
        locked_now = model_end is not None and now < model_end
        if promised_until is not None and now < promised_until:
            assert is_locked(state, now) or state.revoked  # never unlocked early
        if kind == "query":
            assert is_locked(state, now) == locked_now
            continue
        if model_revoked or locked_now:
            with pytest.raises(KeyRevoked if model_revoked else KeyLocked):
                (after_failure if kind == "fail" else after_success)(state, now)
            continue
        if kind == "success":
            state = after_success(state, now)
            model_fails, model_end = 0, None
        else:
            state = after_failure(state, now)
            model_fails += 1
            model_end = None
            if model_fails >= 9:
                model_revoked = True
            elif model_fails in (3, 6):
                model_end = now + timedelta(hours=3 if model_fails == 3 else 24)
                promised_until = model_end
        assert (state.fails, state.locked_until, state.revoked) == (
            model_fails,
            model_end,
            model_revoked,
        )
