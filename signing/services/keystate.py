"""A key row and the engine: load its state, run the protocol, save; the app's answer.

Shared by registration (the CSR signature) and transactions (the user's signature), and
home of the operations on a key alone (token refresh, the summary the app shows).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Device
from core import metrics
from core.compiled import CompiledUpdate
from signing import engine, keys
from signing.models import SplitKey
from signing.services.errors import BadRequest, NotFound

PIN_TRIES_BEFORE_REVOKE = engine.REVOKE_AT


#: Every evaluated share writes these back (core/compiled.py).
_SAVE_STATE = CompiledUpdate(
    SplitKey,
    [
        "token_hash",
        "fails",
        "locked_until",
        "revoked",
        "revoke_reason",
        "suspect",
        "last_rnonce_hash",
        "last_request_digest",
        "last_response",
    ],
)


def load_state(key: SplitKey) -> engine.KeyState:
    """The engine's view of a key row (its lockout, clone and retransmit state)."""
    return engine.KeyState(
        token_hash=bytes(key.token_hash),
        fails=key.fails,
        locked_until=key.locked_until,
        revoked=key.revoked,
        revoke_reason=engine.RevokeReason(key.revoke_reason) if key.revoke_reason else None,
        suspect=key.suspect,
        last_rnonce_hash=None if key.last_rnonce_hash is None else bytes(key.last_rnonce_hash),
        last_request_digest=(
            None if key.last_request_digest is None else bytes(key.last_request_digest)
        ),
        last_response=None if key.last_response is None else bytes(key.last_response),
    )


def save_state(key: SplitKey, state: engine.KeyState) -> None:
    """Write the engine's new state back to the (locked) key row."""
    key.token_hash = state.token_hash
    key.fails = state.fails
    key.locked_until = state.locked_until
    key.revoked = state.revoked
    key.revoke_reason = state.revoke_reason.value if state.revoke_reason else ""
    key.suspect = state.suspect
    key.last_rnonce_hash = state.last_rnonce_hash
    key.last_request_digest = state.last_request_digest
    key.last_response = state.last_response
    _SAVE_STATE.save(key)


def int_from(raw: bytes, *, length: int, what: str) -> int:
    """A big-endian integer of exactly ``length`` bytes (n1, d1″), else BadRequest."""
    if not isinstance(raw, bytes) or len(raw) != length:
        raise BadRequest(f"{what} must be {length} bytes.")
    return int.from_bytes(raw, "big")


def key_length(key: SplitKey) -> int:
    """Bytes of one half modulus (and of s1′, d1″): ⌈bits/8⌉."""
    return (key.bits + 7) // 8


@dataclass(frozen=True)
class Answer:
    """What the app is told after it sent a partial signature."""

    status: str
    token: bytes | None = None
    tries_left: int | None = None
    locked_until: datetime | None = None
    certificate: bytes | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status}
        if self.token is not None:
            body["token"] = base64.b64encode(self.token).decode()
        if self.tries_left is not None:
            body["triesLeft"] = self.tries_left
        if self.locked_until is not None:
            body["lockedUntil"] = self.locked_until.isoformat().replace("+00:00", "Z")
        if self.certificate is not None:
            body["certificate"] = base64.b64encode(self.certificate).decode()
        return body


_STATUS = {
    engine.OutcomeStatus.SIGNED: "OK",
    engine.OutcomeStatus.WRONG_PIN: "WRONG_PIN",
    engine.OutcomeStatus.LOCKED: "LOCKED",
    engine.OutcomeStatus.REVOKED: "REVOKED",
    engine.OutcomeStatus.CLONE: "CLONE_DETECTED",
}


def answer_for(outcome: engine.Outcome) -> Answer:
    """The app's answer to an engine outcome (a retransmit conflict: BadRequest)."""
    if outcome.status == engine.OutcomeStatus.CONFLICT:
        raise BadRequest(
            "The retransmit nonce was used for another request.", code="rnonce_conflict"
        )
    status = _STATUS[outcome.status]
    tries_left = None
    if outcome.status == engine.OutcomeStatus.WRONG_PIN:
        tries_left = max(PIN_TRIES_BEFORE_REVOKE - outcome.fails, 0)
    return Answer(
        status=status,
        token=outcome.new_token,
        tries_left=tries_left,
        locked_until=outcome.locked_until
        if outcome.status in (engine.OutcomeStatus.WRONG_PIN, engine.OutcomeStatus.LOCKED)
        else None,
    )


def decrypt_s1p(envelope: object, *, aad: bytes, key: SplitKey) -> int:
    """s1′ from its envelope; ``aad`` is the engine's context of the operation
    (``engine.registration_aad`` or ``engine.transaction_aad``)."""
    try:
        return keys.transport_decrypt_share(envelope, aad, key_length(key))
    except keys.TransportKeyRetired:
        # Nothing was evaluated: the app fetches the current key (§9.2) and sends again.
        raise BadRequest(
            "The envelope is sealed to a retired transport key; fetch the current one.",
            code="transport_key_retired",
        ) from None
    except engine.EngineError:
        raise BadRequest(
            "The encrypted partial signature is malformed.", code="bad_envelope"
        ) from None


def sign(
    key: SplitKey,
    *,
    digest: bytes,
    hash_alg: str,
    padding: str,
    salt: bytes | None,
    s1_prime: int,
    token: bytes,
    rnonce: bytes,
    now: datetime,
) -> engine.Outcome:
    """Run ServerComplete on a locked key row and save its new state."""
    try:
        request = engine.SignRequest(
            digest=digest,
            hash_alg=hash_alg,
            padding=padding,
            s1_prime=s1_prime,
            token=token,
            rnonce=rnonce,
            salt=salt,
        )
        state, outcome = engine.server_sign(load_state(key), keys.key_material(key), request, now)
    except engine.InvalidInput as exc:
        raise BadRequest(f"Invalid signing request: {exc}") from None
    save_state(key, state)
    _count(key.purpose, outcome)
    return outcome


def _count(purpose: str, outcome: engine.Outcome) -> None:
    """The PIN and clone metrics of one evaluated share (a replayed answer counts nothing:
    its try was counted when it was first made)."""
    if outcome.replayed:
        return
    status = outcome.status
    if status == engine.OutcomeStatus.WRONG_PIN:
        lock = "revoked" if outcome.revoke else ("temporary" if outcome.locked_until else "")

        def count_failure() -> None:
            metrics.PIN_FAILURES.labels(purpose=purpose).inc()
            if lock:
                metrics.PIN_LOCKS.labels(purpose=purpose, lock=lock).inc()

        metrics.on_commit(count_failure)
    elif status in (engine.OutcomeStatus.LOCKED, engine.OutcomeStatus.REVOKED):
        metrics.on_commit(metrics.PIN_LOCKED_ATTEMPTS.labels(purpose=purpose).inc)
    elif status == engine.OutcomeStatus.CLONE:
        metrics.on_commit(metrics.CLONE_DETECTIONS.labels(purpose=purpose, stage="confirmed").inc)


@transaction.atomic
def key_refresh(
    *, device: Device, document_number: str, purpose: str, token: bytes, rnonce: bytes
) -> Answer:
    """RefreshOTP: rotate the one-time token without signing (clone detection when idle)."""
    key = (
        SplitKey.objects.select_for_update()
        .current()
        .filter(account__device=device, account__document_number=document_number, purpose=purpose)
        .first()
    )
    if key is None:
        raise NotFound("No such key.")
    try:
        state, outcome = engine.refresh_token(load_state(key), token=token, rnonce=rnonce)
    except engine.InvalidInput as exc:
        raise BadRequest(f"Invalid refresh: {exc}") from None
    save_state(key, state)
    if outcome.status == engine.OutcomeStatus.TOKEN_MISMATCH:
        metrics.on_commit(
            metrics.CLONE_DETECTIONS.labels(purpose=key.purpose, stage="suspected").inc
        )
    status = {
        engine.OutcomeStatus.TOKEN_REFRESHED: "OK",
        engine.OutcomeStatus.TOKEN_MISMATCH: "TOKEN_MISMATCH",
        engine.OutcomeStatus.REVOKED: "REVOKED",
    }.get(outcome.status)
    if status is None:
        raise BadRequest(
            "The retransmit nonce was used for another request.", code="rnonce_conflict"
        )
    return Answer(status=status, token=outcome.new_token)


def key_summary(key: SplitKey, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    locked = key.locked_until is not None and key.locked_until > now
    state = "REVOKED" if key.revoked else ("LOCKED" if locked else key.state)
    return {
        "state": state,
        "triesLeft": max(PIN_TRIES_BEFORE_REVOKE - key.fails, 0),
        "lockedUntil": key.locked_until.isoformat().replace("+00:00", "Z")
        if locked and key.locked_until
        else None,
    }
