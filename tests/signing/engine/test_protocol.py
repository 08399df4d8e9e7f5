"""ServerComplete / RefreshOTP as pure transitions (invariants 6, 7, 8 end to end)."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from signing.engine import (
    ClientKeyBlob,
    CloneDetected,
    KeyLocked,
    KeyMaterial,
    KeyRevoked,
    KeyState,
    Outcome,
    OutcomeStatus,
    RetransmitConflict,
    RevokeReason,
    SignatureFault,
    SignRequest,
    TokenMismatch,
    WrongPinError,
    client_partial_for_digest,
    hash_token,
    modexp,
    new_key_state,
    refresh_token,
    server_sign,
    verify,
)
from signing.engine import server as server_module
from signing.engine.errors import (
    HashLengthMismatch,
    InvalidBlob,
    InvalidInteger,
    InvalidKey,
    InvalidLength,
    InvalidTimestamp,
    UnsupportedAlgorithm,
)
from tests.signing.engine.helpers import PIN, WRONG_PIN, SplitKey, fixed_key

T0 = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


class App:
    """One copy of the app state: the blob and the current one-time token."""

    def __init__(self, key: SplitKey, blob: ClientKeyBlob, token: bytes) -> None:
        self.key = key
        self.blob = blob
        self.token = token

    def request(
        self,
        pin: str = PIN,
        *,
        rnonce: bytes | None = None,
        data: bytes = b"document",
        padding: str = "PSS",
        token: bytes | None = None,
    ) -> SignRequest:
        digest = hashlib.sha256(data).digest()
        salt = hashlib.sha256(b"server salt" + data).digest() if padding == "PSS" else None
        s1_prime = client_partial_for_digest(
            self.blob,
            pin,
            n=self.key.n,
            digest=digest,
            hash_alg="SHA256",
            padding=padding,
            salt=salt,
        )
        return SignRequest(
            digest=digest,
            hash_alg="SHA256",
            padding=padding,
            salt=salt,
            s1_prime=s1_prime,
            token=self.token if token is None else token,
            rnonce=rnonce or secrets.token_bytes(16),
        )

    def take(self, outcome: Outcome) -> Outcome:
        if outcome.new_token is not None:
            self.token = outcome.new_token
        return outcome


@pytest.fixture
def enrolled(key1024: SplitKey) -> tuple[KeyState, App]:
    state, token = new_key_state()
    return state, App(key1024, key1024.blob, token)


def test_successful_signature(enrolled: tuple[KeyState, App]) -> None:
    state, app = enrolled
    request = app.request()
    new_state, outcome = server_sign(state, app.key.material, request, T0)
    assert outcome.status is OutcomeStatus.SIGNED and not outcome.replayed
    outcome.raise_for_status()
    assert outcome.signature is not None and outcome.new_token is not None
    verify(app.key.n, 65537, outcome.signature, request.digest, "SHA256", "PSS", 32)
    assert new_state.token_hash == hash_token(outcome.new_token) != state.token_hash
    assert new_state.fails == 0 and not new_state.revoked
    assert new_state.last_rnonce_hash == hashlib.sha256(request.rnonce).digest()
    # The cached response is sealed: neither the new token nor the signature is in clear.
    assert new_state.last_response is not None
    assert outcome.new_token not in new_state.last_response
    assert outcome.signature[:32] not in new_state.last_response


def test_pkcs1_request(enrolled: tuple[KeyState, App]) -> None:
    state, app = enrolled
    request = app.request(padding="PKCS1v15")
    _, outcome = server_sign(state, app.key.material, request, T0)
    assert outcome.signature is not None
    verify(app.key.n, 65537, outcome.signature, request.digest, "SHA256", "PKCS1v15")


def test_invariant7_lock_schedule_end_to_end(enrolled: tuple[KeyState, App]) -> None:
    state, app = enrolled
    material = app.key.material
    now = T0

    def wrong(at: datetime) -> Outcome:
        nonlocal state
        state, outcome = server_sign(state, material, app.request(WRONG_PIN), at)
        return app.take(outcome)

    for expected in (1, 2):
        outcome = wrong(now)
        assert outcome.status is OutcomeStatus.WRONG_PIN and outcome.fails == expected
        assert outcome.locked_until is None and outcome.new_token is not None  # OTP rotated
        with pytest.raises(WrongPinError):
            outcome.raise_for_status()
    outcome = wrong(now)
    assert outcome.fails == 3 and outcome.locked_until == now + timedelta(hours=3)

    # While locked even the correct PIN is refused, without evaluating or counting.
    locked_state = state
    state, outcome = server_sign(state, material, app.request(), now + timedelta(hours=2))
    assert outcome.status is OutcomeStatus.LOCKED and state == locked_state
    with pytest.raises(KeyLocked):
        outcome.raise_for_status()

    # After the lock a success resets the count.
    now += timedelta(hours=3)
    state, outcome = server_sign(state, material, app.request(), now)
    assert app.take(outcome).status is OutcomeStatus.SIGNED and state.fails == 0

    for _ in range(3):
        outcome = wrong(now)
    assert outcome.fails == 3 and outcome.locked_until == now + timedelta(hours=3)
    now += timedelta(hours=3)
    for _ in range(3):
        outcome = wrong(now)
    assert outcome.fails == 6 and outcome.locked_until == now + timedelta(hours=24)
    _, blocked = server_sign(state, material, app.request(), now + timedelta(hours=23))
    assert blocked.status is OutcomeStatus.LOCKED
    now += timedelta(hours=24)
    for _ in range(2):
        outcome = wrong(now)
    assert outcome.fails == 8 and not outcome.revoke
    outcome = wrong(now)
    assert outcome.fails == 9 and outcome.revoke and state.revoked
    assert state.revoke_reason is RevokeReason.PIN_TRIES
    state, outcome = server_sign(state, material, app.request(), now + timedelta(days=30))
    assert outcome.status is OutcomeStatus.REVOKED
    with pytest.raises(KeyRevoked):
        outcome.raise_for_status()


def test_wrong_pin_with_stale_token_counts_but_does_not_rotate(
    enrolled: tuple[KeyState, App],
) -> None:
    state, app = enrolled
    stale = secrets.token_bytes(16)
    new_state, outcome = server_sign(
        state, app.key.material, app.request(WRONG_PIN, token=stale), T0
    )
    assert outcome.status is OutcomeStatus.WRONG_PIN and outcome.fails == 1
    assert outcome.new_token is None and new_state.token_hash == state.token_hash


def test_wrong_pin_retry_with_same_rnonce_is_not_counted_twice(
    enrolled: tuple[KeyState, App],
) -> None:
    state, app = enrolled
    request = app.request(WRONG_PIN)
    state1, first = server_sign(state, app.key.material, request, T0)
    state2, again = server_sign(state1, app.key.material, request, T0 + timedelta(seconds=5))
    assert state2 == state1 and state2.fails == 1
    assert again.replayed and dataclasses.replace(again, replayed=False) == first


def test_invariant8_clone_detection(key1024: SplitKey) -> None:
    state, token = new_key_state()
    stored = key1024.blob.to_bytes()  # the app's state file, copied to a second device
    a = App(key1024, ClientKeyBlob.from_bytes(stored), token)
    b = App(key1024, ClientKeyBlob.from_bytes(stored), token)
    material = key1024.material

    # A signs; its response is lost, so A retries with the same rnonce and stale token.
    request = a.request(data=b"first")
    state, first = server_sign(state, material, request, T0)
    assert first.status is OutcomeStatus.SIGNED
    state_after_a = state
    state, retry = server_sign(state, material, request, T0 + timedelta(seconds=3))
    assert retry.replayed and retry.status is OutcomeStatus.SIGNED
    assert retry.signature == first.signature and retry.new_token == first.new_token
    assert state == state_after_a  # no CLONE, nothing changed
    a.take(retry)

    # Same rnonce but a different request → conflict, nothing changes.
    conflicting = dataclasses.replace(a.request(data=b"other"), rnonce=request.rnonce)
    state, conflict = server_sign(state, material, conflicting, T0)
    assert conflict.status is OutcomeStatus.CONFLICT and state == state_after_a
    with pytest.raises(RetransmitConflict):
        conflict.raise_for_status()

    # B (the copy) signs with the right PIN but the old token → CLONE.
    state, clone = server_sign(state, material, b.request(data=b"by the copy"), T0)
    assert clone.status is OutcomeStatus.CLONE and clone.revoke and clone.signature is None
    assert state.revoked and state.revoke_reason is RevokeReason.CLONE
    with pytest.raises(CloneDetected):
        clone.raise_for_status()

    # A, the legitimate copy, is dead too.
    state, dead = server_sign(state, material, a.request(data=b"later"), T0)
    assert dead.status is OutcomeStatus.REVOKED and dead.signature is None
    # Even A's earlier retry is now refused (step 1 precedes the retransmit cache).
    _, dead = server_sign(state, material, request, T0)
    assert dead.status is OutcomeStatus.REVOKED


def test_signature_fault_changes_nothing(
    enrolled: tuple[KeyState, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, app = enrolled
    real = modexp.powmod_secret

    def faulty(base: int, exp: int, mod: int) -> int:
        result = real(base, exp, mod)
        return result ^ 1 if mod == app.key.q2 else result

    monkeypatch.setattr(server_module, "powmod_secret", faulty)
    request = app.request()
    with pytest.raises(SignatureFault):
        server_sign(state, app.key.material, request, T0)
    monkeypatch.undo()
    # Nothing was cached or counted: the same request succeeds afterwards.
    _, outcome = server_sign(state, app.key.material, request, T0)
    assert outcome.status is OutcomeStatus.SIGNED and not outcome.replayed


def test_refresh_token(enrolled: tuple[KeyState, App]) -> None:
    state, app = enrolled
    rnonce = secrets.token_bytes(16)
    state1, refreshed = refresh_token(state, token=app.token, rnonce=rnonce)
    assert refreshed.status is OutcomeStatus.TOKEN_REFRESHED and refreshed.new_token is not None
    refreshed.raise_for_status()
    assert state1.token_hash == hash_token(refreshed.new_token)
    # Lost response: the retry returns the same new token.
    state2, again = refresh_token(state1, token=app.token, rnonce=rnonce)
    assert again.replayed and again.new_token == refreshed.new_token and state2 == state1
    app.take(refreshed)

    # A stale token marks the key suspect and changes nothing else.
    state3, mismatch = refresh_token(
        state2, token=secrets.token_bytes(16), rnonce=secrets.token_bytes(16)
    )
    assert mismatch.status is OutcomeStatus.TOKEN_MISMATCH and state3.suspect
    assert state3.token_hash == state2.token_hash
    with pytest.raises(TokenMismatch):
        mismatch.raise_for_status()
    # The next valid share with the current token confirms: suspicion cleared.
    state4, signed = server_sign(state3, app.key.material, app.request(), T0)
    assert signed.status is OutcomeStatus.SIGNED and not state4.suspect
    # A refresh with a matching token also clears it.
    state5, _ = refresh_token(
        dataclasses.replace(state4, suspect=True),
        token=app.take(signed).new_token or b"",
        rnonce=secrets.token_bytes(16),
    )
    assert not state5.suspect


def test_refresh_on_revoked_and_locked_keys(enrolled: tuple[KeyState, App]) -> None:
    state, app = enrolled
    revoked = dataclasses.replace(state, revoked=True, revoke_reason=RevokeReason.CLONE)
    same, outcome = refresh_token(revoked, token=app.token, rnonce=secrets.token_bytes(16))
    assert outcome.status is OutcomeStatus.REVOKED and same == revoked
    locked = dataclasses.replace(state, fails=3, locked_until=T0 + timedelta(hours=3))
    _, outcome = refresh_token(locked, token=app.token, rnonce=secrets.token_bytes(16))
    assert outcome.status is OutcomeStatus.TOKEN_REFRESHED


def test_a_stale_refresh_token_then_a_valid_share_is_a_clone(
    enrolled: tuple[KeyState, App],
) -> None:
    state, app = enrolled
    copy = App(app.key, app.blob, app.token)
    state, refreshed = refresh_token(state, token=app.token, rnonce=secrets.token_bytes(16))
    app.take(refreshed)
    state, outcome = server_sign(state, app.key.material, copy.request(), T0)
    assert outcome.status is OutcomeStatus.CLONE


def test_bad_requests_raise_and_change_nothing(enrolled: tuple[KeyState, App]) -> None:
    state, app = enrolled
    material = app.key.material
    good = app.request()
    bad: list[tuple[SignRequest, type[Exception]]] = [
        (dataclasses.replace(good, digest=good.digest[:-1]), HashLengthMismatch),
        (dataclasses.replace(good, hash_alg="SHA1"), UnsupportedAlgorithm),
        (dataclasses.replace(good, padding="RAW"), UnsupportedAlgorithm),
        (dataclasses.replace(good, s1_prime=app.key.n1), InvalidInteger),
        (dataclasses.replace(good, rnonce=b"short"), InvalidLength),
        (dataclasses.replace(good, token=b"short"), InvalidLength),
        (dataclasses.replace(good, salt=None), InvalidLength),
    ]
    for request, error in bad:
        with pytest.raises(error):
            server_sign(state, material, request, T0)
    with pytest.raises(InvalidTimestamp):
        server_sign(state, material, good, datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(InvalidKey):
        server_sign("state", material, good, T0)  # type: ignore[arg-type]
    with pytest.raises(InvalidBlob):
        server_sign(state, material, "request", T0)  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        refresh_token("state", token=app.token, rnonce=good.rnonce)  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        refresh_token(state, token="token", rnonce=good.rnonce)  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        refresh_token(state, token=app.token, rnonce=b"")


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("digest", "00", InvalidLength),
        ("token", None, InvalidLength),
        ("salt", "salt", InvalidLength),
        ("hash_alg", 256, InvalidBlob),
        ("s1_prime", -1, InvalidInteger),
        ("s1_prime", 1.0, InvalidInteger),
    ],
)
def test_sign_request_validation(
    enrolled: tuple[KeyState, App], field: str, value: object, error: type[Exception]
) -> None:
    _, app = enrolled
    with pytest.raises(error):
        dataclasses.replace(app.request(), **{field: value})  # type: ignore[arg-type]


def test_key_state_and_material_validation(key1024: SplitKey) -> None:
    state, _ = new_key_state()
    for changes, error in (
        ({"token_hash": b"x"}, InvalidLength),
        ({"revoked": True}, InvalidBlob),
        ({"revoke_reason": "bogus", "revoked": True}, InvalidBlob),
        ({"last_rnonce_hash": bytes(32)}, InvalidBlob),
        ({"fails": -1}, InvalidInteger),
        (
            {"last_rnonce_hash": bytes(32), "last_request_digest": bytes(32), "last_response": b""},
            InvalidLength,
        ),
    ):
        with pytest.raises(error):
            dataclasses.replace(state, **changes)
    from_column = dataclasses.replace(state, revoked=True, revoke_reason="clone")  # type: ignore[arg-type]
    assert from_column.revoke_reason is RevokeReason.CLONE
    with pytest.raises(InvalidKey):
        KeyMaterial("key", 1, key1024.half)  # type: ignore[arg-type]
    with pytest.raises(InvalidInteger):
        KeyMaterial(key1024.composite, key1024.n1, key1024.half)
    other = dataclasses.replace(key1024.half)  # same values: accepted
    KeyMaterial(key1024.composite, key1024.d1_double_prime, other)
    assert "d1_double_prime" not in repr(key1024.material)


def test_key_material_rejects_a_foreign_server_half(key1024: SplitKey) -> None:
    other = fixed_key(1024, 2047)
    with pytest.raises(InvalidKey):
        KeyMaterial(key1024.composite, key1024.d1_double_prime, other.half)


def test_invariant6_server_state_holds_no_client_share(enrolled: tuple[KeyState, App]) -> None:
    state, app = enrolled
    key = app.key
    state, outcome = server_sign(state, key.material, app.request(), T0)
    stored = b"".join(
        [
            key.half.to_bytes(),
            str(key.composite).encode(),
            format(key.d1_double_prime, "x").encode(),
            repr(state).encode(),
            state.last_response or b"",
        ]
    )
    d1_prime = key.d1_prime
    for encoded in (
        d1_prime.to_bytes(key.blob.share_len, "big")[-24:],
        format(d1_prime, "x").encode()[:32],
        str(d1_prime).encode()[:32],
    ):
        assert encoded not in stored
    assert format(key.n2, "x").encode() in stored  # the search works


def test_outcome_cache_round_trip_and_garbage() -> None:
    outcome = Outcome(
        OutcomeStatus.WRONG_PIN, new_token=b"t" * 16, fails=3, locked_until=T0, revoke=False
    )
    assert Outcome.from_bytes(outcome.to_bytes()) == outcome
    assert Outcome.from_bytes(outcome.to_bytes(), replayed=True).replayed
    for raw in (b"", b"{}", b'{"status": "nope"}', b"\xff"):
        with pytest.raises(InvalidBlob):
            Outcome.from_bytes(raw)
    data = outcome.to_bytes().replace(b'"new_token": "', b'"new_token": "!')
    with pytest.raises(InvalidBlob):
        Outcome.from_bytes(data)
    data = outcome.to_bytes().replace(b'"new_token": "dHR0', b'"new_token": 5, "x": "')
    with pytest.raises(InvalidBlob):
        Outcome.from_bytes(data)


def test_corrupted_cache_is_reported(enrolled: tuple[KeyState, App]) -> None:
    state, app = enrolled
    request = app.request()
    state, _ = server_sign(state, app.key.material, request, T0)
    assert state.last_response is not None
    broken = dataclasses.replace(
        state, last_response=state.last_response[:-1] + bytes([state.last_response[-1] ^ 1])
    )
    with pytest.raises(InvalidBlob):
        server_sign(broken, app.key.material, request, T0)
