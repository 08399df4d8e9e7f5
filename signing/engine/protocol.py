"""ServerComplete and RefreshOTP (spec §8) as pure state transitions.

The Django layer loads the key row under a row lock (``select_for_update``), calls
:func:`server_sign` or :func:`refresh_token` with the row's :class:`KeyState`, the key
material and ``now``, saves the returned state in the same database transaction, then acts
on the :class:`Outcome` (``outcome.revoke`` → revoke the certificates and delete d1″ and d2;
``outcome.raise_for_status()`` → the matching engine exception). Nothing here touches a
database, a clock or the network.

:func:`server_sign` follows the spec's step order exactly:

1. revoked → REVOKED; now < locked_until → LOCKED; nothing is evaluated or changed;
2. the request's rnonce was the last one seen → the cached response (REPLAY, byte for
   byte identical, no state change) or CONFLICT if the request differs;
3. ok_otp = [SHA-256(token) = stored hash] (constant time);
4. ok_share = [s1^e ≡ m (mod n1)] with s1 = s1′·m1^{d1″};
5. ok_share ∧ ¬ok_otp → CLONE: the state becomes revoked (destroyed); ``revoke`` is set;
6. ¬ok_share → WRONG_PIN: fails + 1 through the lockout schedule (3 → 3 h, 6 → 24 h,
   9 → revoked). **OTP rule on a wrong PIN (our choice):** if ok_otp, the token rotates
   and the new one is returned, because every evaluation of the share is a key operation
   and each token is good for one operation only; if ¬ok_otp the token stays (whoever
   sent it never held the current token, so they get none) but the failure still counts.
   The response is cached under the rnonce, so a lost response can be fetched again
   without counting a second failure;
7. success → fails = 0, suspicion cleared, s2 and S computed and fault-checked, new token,
   response cached under the rnonce, SIGNED.

A :class:`SignatureFault` in step 7 is raised, not returned: the state is left unchanged
and the caller rolls back.

**Refresh rule (our choice):** a matching token rotates (new token returned, suspicion
cleared, response cached under the rnonce so a lost response is no false clone later). A
mismatch marks the key ``suspect`` and changes nothing else: a refresh proves no PIN, so
it cannot justify destroying the key. The next valid share confirms: with the current
token it clears the suspicion; with a stale token it is a CLONE (step 5). A revoked key
cannot refresh; a PIN-locked key can (refreshing proves possession, not the PIN).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from signing.engine.b64 import b64decode_strict
from signing.engine.clone import (
    Retransmit,
    RetransmitRecord,
    classify_retransmit,
    new_token,
    seal_response,
    token_matches,
)
from signing.engine.encoding import encode_message, i2osp
from signing.engine.errors import (
    CloneDetected,
    InvalidBase64,
    InvalidBlob,
    InvalidInteger,
    InvalidKey,
    InvalidLength,
    KeyLocked,
    KeyRevoked,
    RetransmitConflict,
    ShareMismatch,
    TokenMismatch,
    WrongPinError,
)
from signing.engine.lockout import (
    LockState,
    after_failure,
    after_success,
    is_locked,
    require_aware,
)
from signing.engine.server import (
    CompositeKey,
    ServerKeyHalf,
    combine,
    complete_client_share,
    server_rsasp1,
)


class OutcomeStatus(StrEnum):
    """Result of one protocol call."""

    SIGNED = "signed"
    WRONG_PIN = "wrong_pin"
    LOCKED = "locked"
    REVOKED = "revoked"
    CLONE = "clone"
    CONFLICT = "conflict"
    # Status names, not secrets (S105 is a false positive on the word "token").
    TOKEN_REFRESHED = "token_refreshed"  # noqa: S105
    TOKEN_MISMATCH = "token_mismatch"  # noqa: S105


class RevokeReason(StrEnum):
    """Why a key was revoked."""

    CLONE = "clone"
    PIN_TRIES = "pin_tries"


@dataclass(frozen=True)
class KeyState:
    """Everything the protocol needs to remember about one split key (persist every field).

    ``token_hash`` = SHA-256(current one-time token); ``fails``/``locked_until`` the lockout
    counter; ``revoked`` (with ``revoke_reason``) is terminal; ``suspect`` is set by a
    mismatched refresh; ``last_*`` is the retransmit record of the last evaluated request
    (SHA-256(rnonce), request digest, response sealed under the rnonce).
    """

    token_hash: bytes
    fails: int = 0
    locked_until: datetime | None = None
    revoked: bool = False
    revoke_reason: RevokeReason | None = None
    suspect: bool = False
    last_rnonce_hash: bytes | None = None
    last_request_digest: bytes | None = None
    last_response: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.token_hash, bytes) or len(self.token_hash) != 32:
            raise InvalidLength("token_hash must be 32 bytes")
        LockState(self.fails, self.locked_until, self.revoked)  # validates the lock fields
        if (self.revoke_reason is not None) != self.revoked:
            raise InvalidBlob("revoke_reason must be set exactly when revoked")
        if self.revoke_reason is not None and not isinstance(self.revoke_reason, RevokeReason):
            # A database column gives the plain string; accept it if it names a reason.
            try:
                object.__setattr__(self, "revoke_reason", RevokeReason(self.revoke_reason))
            except ValueError:
                raise InvalidBlob("revoke_reason must be a RevokeReason") from None
        record = (self.last_rnonce_hash, self.last_request_digest, self.last_response)
        if any(x is None for x in record) and any(x is not None for x in record):
            raise InvalidBlob("the retransmit record must be complete or empty")
        self.retransmit_record  # noqa: B018 - validates the record's fields

    @property
    def lock(self) -> LockState:
        """The lockout part of the state."""
        return LockState(self.fails, self.locked_until, self.revoked)

    @property
    def retransmit_record(self) -> RetransmitRecord | None:
        """The last evaluated request, if any."""
        if self.last_rnonce_hash is None or self.last_request_digest is None:
            return None
        assert self.last_response is not None  # noqa: S101 - checked in __post_init__
        return RetransmitRecord(self.last_rnonce_hash, self.last_request_digest, self.last_response)

    def _with_record(self, record: RetransmitRecord) -> KeyState:
        return replace(
            self,
            last_rnonce_hash=record.nonce_hash,
            last_request_digest=record.request_digest,
            last_response=record.sealed_response,
        )


def new_key_state() -> tuple[KeyState, bytes]:
    """The state of a freshly registered key and its first one-time token (send it to the app)."""
    token, token_hash = new_token()
    return KeyState(token_hash=token_hash), token


@dataclass(frozen=True)
class KeyMaterial:
    """The server-side secrets of one key: the composite key, d1″ and the server half."""

    composite: CompositeKey
    d1_double_prime: int = field(repr=False)
    server_half: ServerKeyHalf = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.composite, CompositeKey) or not isinstance(
            self.server_half, ServerKeyHalf
        ):
            raise InvalidKey("composite must be a CompositeKey and server_half a ServerKeyHalf")
        if self.server_half.n2 != self.composite.n2:
            raise InvalidKey("the server half does not belong to this composite key")
        d = self.d1_double_prime
        if type(d) is not int or not 0 <= d < self.composite.n1:
            raise InvalidInteger("d1'' out of range")


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


@dataclass(frozen=True)
class SignRequest:
    """What the app sends: H, its algorithm, the padding (PSS salt chosen by the server),
    s1′, the one-time token and the retransmit nonce.
    """

    digest: bytes
    hash_alg: str
    padding: str
    s1_prime: int = field(repr=False)
    token: bytes = field(repr=False)
    rnonce: bytes
    salt: bytes | None = None

    def __post_init__(self) -> None:
        for name in ("digest", "token", "rnonce"):
            if not isinstance(getattr(self, name), bytes):
                raise InvalidLength(f"{name} must be bytes")
        if self.salt is not None and not isinstance(self.salt, bytes):
            raise InvalidLength("salt must be bytes")
        if not isinstance(self.hash_alg, str) or not isinstance(self.padding, str):
            raise InvalidBlob("hash_alg and padding must be strings")
        if type(self.s1_prime) is not int or self.s1_prime < 0:
            raise InvalidInteger("s1' must be a non-negative int")

    def request_digest(self) -> bytes:
        """SHA-256 over a length-prefixed encoding of every field except the rnonce."""
        salt = b"\x00" if self.salt is None else b"\x01" + _lp(self.salt)
        s1 = self.s1_prime.to_bytes((self.s1_prime.bit_length() + 7) // 8 or 1, "big")
        return hashlib.sha256(
            b"smartid-sign-v1"
            + _lp(self.hash_alg.encode())
            + _lp(self.padding.encode())
            + _lp(self.digest)
            + salt
            + _lp(s1)
            + _lp(self.token)
        ).digest()


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(value: object) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidBlob("cached response field must be base64")
    try:
        return b64decode_strict(value, what="cached response field")
    except InvalidBase64:
        raise InvalidBlob("cached response field must be base64") from None


@dataclass(frozen=True)
class Outcome:
    """The result of one protocol call.

    ``signature`` = I2OSP(S, k) for SIGNED; ``new_token`` is the app's next one-time token
    (SIGNED, TOKEN_REFRESHED, and WRONG_PIN when the presented token was valid); ``fails``
    and ``locked_until`` describe the PIN counter after the call; ``revoke`` tells the caller
    to revoke the certificates and destroy d1″ and d2 (CLONE, or the 9th wrong PIN);
    ``replayed`` marks a response served from the retransmit cache.
    """

    status: OutcomeStatus
    signature: bytes | None = field(default=None, repr=False)
    new_token: bytes | None = field(default=None, repr=False)
    fails: int = 0
    locked_until: datetime | None = None
    revoke: bool = False
    replayed: bool = False

    def raise_for_status(self) -> None:
        """Return for SIGNED and TOKEN_REFRESHED; raise the matching engine exception otherwise."""
        match self.status:
            case OutcomeStatus.SIGNED | OutcomeStatus.TOKEN_REFRESHED:
                return
            case OutcomeStatus.WRONG_PIN:
                raise WrongPinError(f"wrong PIN ({self.fails} consecutive)")
            case OutcomeStatus.LOCKED:
                assert self.locked_until is not None  # noqa: S101 - set with LOCKED
                raise KeyLocked(self.locked_until)
            case OutcomeStatus.REVOKED:
                raise KeyRevoked("key revoked")
            case OutcomeStatus.CLONE:
                raise CloneDetected("valid share with a stale one-time token")
            case OutcomeStatus.CONFLICT:
                raise RetransmitConflict("retransmit nonce reused for a different request")
            case _:  # OutcomeStatus.TOKEN_MISMATCH, the only status left
                raise TokenMismatch("one-time token mismatch")

    def to_bytes(self) -> bytes:
        """Serialise for the retransmit cache."""
        return json.dumps(
            {
                "status": self.status.value,
                "signature": _b64(self.signature),
                "new_token": _b64(self.new_token),
                "fails": self.fails,
                "locked_until": None
                if self.locked_until is None
                else self.locked_until.isoformat(),
                "revoke": self.revoke,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes, *, replayed: bool = False) -> Outcome:
        """Inverse of :meth:`to_bytes`."""
        try:
            data = json.loads(raw.decode("utf-8"))
            locked = data["locked_until"]
            outcome = cls(
                status=OutcomeStatus(data["status"]),
                signature=_unb64(data["signature"]),
                new_token=_unb64(data["new_token"]),
                fails=int(data["fails"]),
                locked_until=None if locked is None else datetime.fromisoformat(locked),
                revoke=bool(data["revoke"]),
                replayed=replayed,
            )
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            raise InvalidBlob("malformed cached response") from None
        return outcome


def _remember(state: KeyState, rnonce: bytes, digest: bytes, outcome: Outcome) -> KeyState:
    return state._with_record(seal_response(rnonce, digest, outcome.to_bytes()))


def _gate(state: KeyState, now: datetime) -> Outcome | None:
    """Step 1: a revoked or time-locked key is rejected without evaluating anything."""
    if state.revoked:
        return Outcome(OutcomeStatus.REVOKED, fails=state.fails, revoke=False)
    if is_locked(state.lock, now):
        return Outcome(OutcomeStatus.LOCKED, fails=state.fails, locked_until=state.locked_until)
    return None


def _replay(state: KeyState, rnonce: bytes, digest: bytes) -> Outcome | None:
    """Step 2: the retransmit-nonce rule."""
    decision = classify_retransmit(state.retransmit_record, rnonce, digest)
    if decision.kind is Retransmit.NEW:
        return None
    if decision.kind is Retransmit.CONFLICT:
        return Outcome(OutcomeStatus.CONFLICT, fails=state.fails)
    assert decision.response is not None  # noqa: S101 - REPLAY carries the response
    return Outcome.from_bytes(decision.response, replayed=True)


def server_sign(
    state: KeyState, key: KeyMaterial, request: SignRequest, now: datetime
) -> tuple[KeyState, Outcome]:
    """ServerComplete (spec §8) as a pure transition: return (new state, outcome).

    Bad input (malformed request, s1′ ∉ [0, n1), naive ``now``...) raises an
    :class:`~signing.engine.errors.InvalidInput` before anything is evaluated, so the state
    is unchanged. See the module docstring for the step order and the rules chosen.
    """
    if not isinstance(state, KeyState) or not isinstance(key, KeyMaterial):
        raise InvalidKey("state must be a KeyState and key a KeyMaterial")
    if not isinstance(request, SignRequest):
        raise InvalidBlob("request must be a SignRequest")
    require_aware(now)
    composite = key.composite
    m = encode_message(composite.n, request.digest, request.hash_alg, request.padding, request.salt)
    if request.s1_prime >= composite.n1:
        raise InvalidInteger("s1' must be below n1")
    digest = request.request_digest()
    classify_retransmit(None, request.rnonce, digest)  # validates the rnonce's length
    token_matches(request.token, state.token_hash)  # validates the token's length

    gate = _gate(state, now)  # step 1
    if gate is not None:
        return state, gate
    replayed = _replay(state, request.rnonce, digest)  # step 2
    if replayed is not None:
        return state, replayed

    ok_otp = token_matches(request.token, state.token_hash)  # step 3
    try:  # step 4
        s1: int | None = complete_client_share(composite, key.d1_double_prime, m, request.s1_prime)
    except ShareMismatch:
        s1 = None

    if s1 is not None and not ok_otp:  # step 5
        clone_state = replace(state, revoked=True, revoke_reason=RevokeReason.CLONE)
        return clone_state, Outcome(OutcomeStatus.CLONE, fails=state.fails, revoke=True)

    if s1 is None:  # step 6
        lock = after_failure(state.lock, now)
        token_hash = state.token_hash
        token: bytes | None = None
        if ok_otp:
            token, token_hash = new_token()
        failed = replace(
            state,
            fails=lock.fails,
            locked_until=lock.locked_until,
            revoked=lock.revoked,
            revoke_reason=RevokeReason.PIN_TRIES if lock.revoked else None,
            token_hash=token_hash,
        )
        outcome = Outcome(
            OutcomeStatus.WRONG_PIN,
            new_token=token,
            fails=lock.fails,
            locked_until=lock.locked_until,
            revoke=lock.revoked,
        )
        return _remember(failed, request.rnonce, digest, outcome), outcome

    # step 7 (a SignatureFault propagates: nothing is released and nothing changes)
    s2 = server_rsasp1(key.server_half, m % composite.n2)
    signature = i2osp(combine(composite, s1, s2, m), composite.k)
    lock = after_success(state.lock, now)
    token, token_hash = new_token()
    signed = replace(
        state,
        fails=lock.fails,
        locked_until=lock.locked_until,
        suspect=False,
        token_hash=token_hash,
    )
    outcome = Outcome(OutcomeStatus.SIGNED, signature=signature, new_token=token)
    return _remember(signed, request.rnonce, digest, outcome), outcome


def refresh_token(state: KeyState, *, token: bytes, rnonce: bytes) -> tuple[KeyState, Outcome]:
    """RefreshOTP (refreshCloneDetection): rotate the one-time token without signing.

    Match → TOKEN_REFRESHED with a new token (cached under the rnonce); mismatch → the key
    is marked ``suspect`` and TOKEN_MISMATCH is returned; revoked → REVOKED.
    """
    if not isinstance(state, KeyState):
        raise InvalidKey("state must be a KeyState")
    if not isinstance(token, bytes):
        raise InvalidLength("token must be bytes")
    digest = hashlib.sha256(b"smartid-refresh-v1" + _lp(token)).digest()
    classify_retransmit(None, rnonce, digest)  # validates the rnonce
    matches = token_matches(token, state.token_hash)
    if state.revoked:
        return state, Outcome(OutcomeStatus.REVOKED, fails=state.fails)
    replayed = _replay(state, rnonce, digest)
    if replayed is not None:
        return state, replayed
    if not matches:
        return replace(state, suspect=True), Outcome(
            OutcomeStatus.TOKEN_MISMATCH, fails=state.fails, locked_until=state.locked_until
        )
    fresh, fresh_hash = new_token()
    outcome = Outcome(
        OutcomeStatus.TOKEN_REFRESHED,
        new_token=fresh,
        fails=state.fails,
        locked_until=state.locked_until,
    )
    refreshed = replace(state, token_hash=fresh_hash, suspect=False)
    return _remember(refreshed, rnonce, digest, outcome), outcome
